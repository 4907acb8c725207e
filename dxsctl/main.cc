// dxsctl: the operator's tool for dxs, over the store's Ops API.
#include <getopt.h>
#include <grpcpp/grpcpp.h>

#include <fmt/format.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/unix_socket.h"
#include "common/wire.h"
#include "common/xs_error.h"
#include "proto/ops.grpc.pb.h"

namespace {

using dxs::wire::MsgType;

constexpr const char* kUsage = R"(Usage: dxsctl [--store unix:PATH] [--json] COMMAND [ARGS]

Talks to dxs-store's Ops API (default unix:/run/dxs/ops.sock).

Commands on the live tree:
  read PATH...              print the value of each node
  ls [PATH]                 print the tree below PATH (default /) with values
  write PATH VALUE...       write one or more PATH VALUE pairs
  mkdir PATH...             create nodes
  rm PATH...                remove nodes and everything below them
  perms PATH [PERM...]      print a node's permissions, or set them (e.g. n0 r7)
  control CMD [ARGS...]     run a xenstore-control command (quota, check, ...)

Options:
  --store unix:PATH   the store's ops socket
  --json              machine-readable output
  --help              this text
)";

struct Ctl {
  std::unique_ptr<dxs::pb::Ops::Stub> stub;
  bool json = false;

  // Runs one request; on a Xenstore error prints it and returns false.
  bool call(MsgType type, dxs::pb::Request& req, std::string& payload, bool quiet = false) {
    req.set_type(dxs::wire::to_u32(type));
    dxs::pb::Reply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->Xenstore(&ctx, req, &reply);
    if (!s.ok()) {
      std::fprintf(stderr, "dxsctl: cannot reach the store: %s\n", s.error_message().c_str());
      std::exit(2);
    }
    if (reply.type() == dxs::wire::to_u32(MsgType::kError)) {
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
    dxs::pb::Request req;
    req.mutable_path()->set_path(path);
    return call(type, req, payload, quiet);
  }
};

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c >= 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}

std::vector<std::string> split_nuls(const std::string& payload) {
  std::vector<std::string> out;
  dxs::wire::Strings s = dxs::wire::split_strings(payload);
  for (auto v : s.strings) out.emplace_back(v);
  return out;
}

int cmd_read(Ctl& ctl, const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  int rc = 0;
  for (const auto& p : args) {
    std::string value;
    if (!ctl.path_op(MsgType::kRead, p, value)) {
      rc = 1;
      continue;
    }
    if (ctl.json)
      std::printf("{\"path\": %s, \"value\": %s}\n", json_string(p).c_str(),
                  json_string(value).c_str());
    else
      std::printf("%s\n", printable(value).c_str());
  }
  return rc;
}

// Iterative depth-first walk, as xenstore-ls prints it.
int cmd_ls(Ctl& ctl, const std::vector<std::string>& args) {
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
  if (ctl.json) std::printf("[");
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    std::string value;
    if (!ctl.path_op(MsgType::kRead, item.path, value, true)) continue;  // removed meanwhile
    if (ctl.json) {
      std::printf("%s\n {\"path\": %s, \"value\": %s}", first ? "" : ",",
                  json_string(item.path).c_str(), json_string(value).c_str());
    } else {
      std::printf("%*s%s = \"%s\"\n", item.depth, "", item.name.c_str(), printable(value).c_str());
    }
    first = false;
    if (ctl.path_op(MsgType::kDirectory, item.path, children, true))
      push_children(item.path, children, item.depth + 1);
  }
  if (ctl.json) std::printf("\n]\n");
  return 0;
}

int cmd_write(Ctl& ctl, const std::vector<std::string>& args) {
  if (args.empty() || args.size() % 2 != 0) return 2;
  for (size_t i = 0; i < args.size(); i += 2) {
    dxs::pb::Request req;
    req.mutable_write()->set_path(args[i]);
    req.mutable_write()->set_value(args[i + 1]);
    std::string ok;
    if (!ctl.call(MsgType::kWrite, req, ok)) return 1;
  }
  return 0;
}

int cmd_simple(Ctl& ctl, MsgType type, const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  for (const auto& p : args) {
    std::string ok;
    if (!ctl.path_op(type, p, ok)) return 1;
  }
  return 0;
}

int cmd_perms(Ctl& ctl, const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  std::string payload;
  if (args.size() == 1) {
    if (!ctl.path_op(MsgType::kGetPerms, args[0], payload)) return 1;
    std::vector<std::string> perms = split_nuls(payload);
    if (ctl.json) {
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
  dxs::pb::Request req;
  req.mutable_set_perms()->set_path(args[0]);
  for (size_t i = 1; i < args.size(); ++i) req.mutable_set_perms()->add_perms(args[i]);
  return ctl.call(MsgType::kSetPerms, req, payload) ? 0 : 1;
}

int cmd_control(Ctl& ctl, const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  dxs::pb::Request req;
  for (const auto& a : args) req.mutable_strings()->add_strings(a);
  std::string payload;
  if (!ctl.call(MsgType::kControl, req, payload)) return 1;
  if (!payload.empty() && payload.back() == '\0') payload.pop_back();
  std::printf("%s%s", payload.c_str(), payload.empty() || payload.back() == '\n' ? "" : "\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store = "unix:/run/dxs/ops.sock";
  bool json = false;
  static const option kOptions[] = {
      {"store", required_argument, nullptr, 's'},
      {"json", no_argument, nullptr, 'j'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "+", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 's':
        store = optarg;
        break;
      case 'j':
        json = true;
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        return 0;
      default:
        std::fputs(kUsage, stderr);
        return 2;
    }
  }
  if (optind >= argc) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto path = dxs::parse_unix_address(store);
  if (!path) {
    std::fprintf(stderr, "dxsctl: --store: %s\n", path.status().to_string().c_str());
    return 2;
  }
  Ctl ctl;
  ctl.json = json;
  ctl.stub = dxs::pb::Ops::NewStub(
      grpc::CreateChannel("unix:" + *path, grpc::InsecureChannelCredentials()));
  const std::string cmd = argv[optind];
  std::vector<std::string> args(argv + optind + 1, argv + argc);
  int rc;
  if (cmd == "read")
    rc = cmd_read(ctl, args);
  else if (cmd == "ls")
    rc = cmd_ls(ctl, args);
  else if (cmd == "write")
    rc = cmd_write(ctl, args);
  else if (cmd == "mkdir")
    rc = cmd_simple(ctl, MsgType::kMkdir, args);
  else if (cmd == "rm")
    rc = cmd_simple(ctl, MsgType::kRm, args);
  else if (cmd == "perms")
    rc = cmd_perms(ctl, args);
  else if (cmd == "control")
    rc = cmd_control(ctl, args);
  else {
    std::fprintf(stderr, "dxsctl: unknown command '%s' (see --help)\n", cmd.c_str());
    return 2;
  }
  if (rc == 2) std::fprintf(stderr, "dxsctl: wrong arguments for '%s' (see --help)\n", cmd.c_str());
  return rc;
}
