// The live tree's commands: each runs Xenstore requests through the Ops API.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/wire.h"
#include "dxsctl/command.h"
#include "dxsctl/output.h"

namespace dxs::ctl {
namespace {

using wire::MsgType;

// One Xenstore request on the live tree, run by the store as the ops client.
class Live {
 public:
  explicit Live(Ctl& ctl) : ctl_(ctl) {}
  bool json() const { return ctl_.json; }

  // Runs one request; on a Xenstore error prints it (unless quiet) and returns false.
  // A refused role ends dxsctl with status 1, an unreachable store with 2.
  bool call(MsgType type, pb::Request& req, std::string& payload, bool quiet = false) {
    req.set_type(wire::to_u32(type));
    pb::Reply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = ctl_.ops->Xenstore(&ctx, req, &reply);
    if (!s.ok()) {
      // A role the caller lacks is the store refusing (1); anything else, no store (2).
      const bool denied = s.error_code() == grpc::StatusCode::PERMISSION_DENIED;
      std::fprintf(stderr, "dxsctl: %s: %s\n",
                   denied                                            ? "permission denied"
                   : s.error_code() == grpc::StatusCode::UNAVAILABLE ? "cannot reach the store"
                                                                     : "refused",
                   s.error_message().c_str());
      std::exit(denied ? 1 : 2);
    }
    if (reply.type() == wire::to_u32(MsgType::kError)) {
      if (!quiet) {
        std::string name = reply.payload();
        if (!name.empty() && name.back() == '\0') name.pop_back();
        std::fprintf(stderr, "dxsctl: %s\n", name.c_str());
      }
      return false;
    }
    payload = reply.payload();
    return true;
  }

  bool path_op(MsgType type, const std::string& path, std::string& payload, bool quiet = false) {
    pb::Request req;
    req.mutable_path()->set_path(path);
    return call(type, req, payload, quiet);
  }

 private:
  Ctl& ctl_;
};

int cmd_read(Ctl& c, const std::vector<std::string>& args) {
  Live ctl(c);
  if (args.empty()) return 2;
  int rc = 0;
  for (const auto& p : args) {
    std::string value;
    if (!ctl.path_op(MsgType::kRead, p, value)) {
      rc = 1;
      continue;
    }
    if (ctl.json())
      std::printf("{\"path\": %s, \"value\": %s}\n", json_string(p).c_str(),
                  json_string(value).c_str());
    else
      std::printf("%s\n", printable(value).c_str());
  }
  return rc;
}

// Iterative depth-first walk, as xenstore-ls prints it.
int cmd_ls(Ctl& c, const std::vector<std::string>& args) {
  Live ctl(c);
  const std::string root = args.empty() ? "/" : args[0];
  struct Item {
    std::string path;
    std::string name;
    int depth;
  };
  std::vector<Item> stack;
  std::string children;
  if (!ctl.path_op(MsgType::kDirectory, root, children)) return 1;
  auto push_children = [&](const std::string& parent, const std::string& payload, int depth) {
    std::vector<std::string> names = split_nuls(payload);
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
      stack.push_back(Item{parent == "/" ? "/" + *it : parent + "/" + *it, *it, depth});
    }
  };
  push_children(root, children, 0);
  bool first = true;
  if (ctl.json()) std::printf("[");
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    std::string value;
    if (!ctl.path_op(MsgType::kRead, item.path, value, true)) continue;  // removed meanwhile
    if (ctl.json()) {
      std::printf("%s\n {\"path\": %s, \"value\": %s}", first ? "" : ",",
                  json_string(item.path).c_str(), json_string(value).c_str());
    } else {
      std::printf("%*s%s = \"%s\"\n", item.depth, "", item.name.c_str(), printable(value).c_str());
    }
    first = false;
    if (ctl.path_op(MsgType::kDirectory, item.path, children, true))
      push_children(item.path, children, item.depth + 1);
  }
  if (ctl.json()) std::printf("\n]\n");
  return 0;
}

int cmd_write(Ctl& c, const std::vector<std::string>& args) {
  Live ctl(c);
  if (args.empty() || args.size() % 2 != 0) return 2;
  for (size_t i = 0; i < args.size(); i += 2) {
    pb::Request req;
    req.mutable_write()->set_path(args[i]);
    req.mutable_write()->set_value(args[i + 1]);
    std::string ok;
    if (!ctl.call(MsgType::kWrite, req, ok)) return 1;
  }
  return 0;
}

int cmd_simple(Ctl& c, MsgType type, const std::vector<std::string>& args) {
  Live ctl(c);
  if (args.empty()) return 2;
  for (const auto& p : args) {
    std::string ok;
    if (!ctl.path_op(type, p, ok)) return 1;
  }
  return 0;
}

int cmd_perms(Ctl& c, const std::vector<std::string>& args) {
  Live ctl(c);
  if (args.empty()) return 2;
  std::string payload;
  if (args.size() == 1) {
    if (!ctl.path_op(MsgType::kGetPerms, args[0], payload)) return 1;
    std::vector<std::string> perms = split_nuls(payload);
    if (ctl.json()) {
      std::printf("{\"path\": %s, \"perms\": [", json_string(args[0]).c_str());
      for (size_t i = 0; i < perms.size(); ++i)
        std::printf("%s%s", i ? ", " : "", json_string(perms[i]).c_str());
      std::printf("]}\n");
    } else {
      for (size_t i = 0; i < perms.size(); ++i) std::printf("%s%s", i ? " " : "", perms[i].c_str());
      std::printf("\n");
    }
    return 0;
  }
  pb::Request req;
  req.mutable_set_perms()->set_path(args[0]);
  for (size_t i = 1; i < args.size(); ++i) req.mutable_set_perms()->add_perms(args[i]);
  return ctl.call(MsgType::kSetPerms, req, payload) ? 0 : 1;
}

int cmd_control(Ctl& c, const std::vector<std::string>& args) {
  Live ctl(c);
  if (args.empty()) return 2;
  pb::Request req;
  for (const auto& a : args) req.mutable_strings()->add_strings(a);
  std::string payload;
  if (!ctl.call(MsgType::kControl, req, payload)) return 1;
  if (!payload.empty() && payload.back() == '\0') payload.pop_back();
  std::printf("%s%s", payload.c_str(), payload.empty() || payload.back() == '\n' ? "" : "\n");
  return 0;
}

}  // namespace

const std::vector<Command>& live_commands() {
  static const std::vector<Command> commands = {
      {"read", "PATH...", "print the value of each node", cmd_read},
      {"ls", "[PATH]", "print the tree below PATH (default /) with values", cmd_ls},
      {"write", "PATH VALUE...", "write one or more PATH VALUE pairs", cmd_write},
      {"mkdir", "PATH...", "create nodes",
       [](Ctl& c, const std::vector<std::string>& a) { return cmd_simple(c, MsgType::kMkdir, a); }},
      {"rm", "PATH...", "remove nodes and everything below them",
       [](Ctl& c, const std::vector<std::string>& a) { return cmd_simple(c, MsgType::kRm, a); }},
      {"perms", "PATH [PERM...]", "print a node's permissions, or set them (e.g. n0 r7)",
       cmd_perms},
      {"control", "CMD [ARGS...]", "run a xenstore-control command (quota, check, ...)",
       cmd_control},
  };
  return commands;
}

}  // namespace dxs::ctl
