// History's commands: each is one call of the History API (a stream for log and follow),
// printed for people or, with --json, as JSON (one object per line for streams).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dxsctl/command.h"
#include "dxsctl/history_format.h"
#include "dxsctl/output.h"

namespace dxs::ctl {
namespace {

using Args = std::vector<std::string>;

// An unreachable store ends dxsctl with status 2, as the live commands do; any other
// refusal is printed and gives status 1.
int failed(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr, "dxsctl: cannot reach the store: %s\n", s.error_message().c_str());
    std::exit(2);
  }
  const char* what = s.error_code() == grpc::StatusCode::NOT_FOUND           ? "not found"
                     : s.error_code() == grpc::StatusCode::INVALID_ARGUMENT  ? "invalid"
                     : s.error_code() == grpc::StatusCode::PERMISSION_DENIED ? "refused"
                                                                             : "failed";
  std::fprintf(stderr, "dxsctl: %s: %s\n", what, s.error_message().c_str());
  return 1;
}

void set_deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

// Options of the form --name VALUE or --name, anywhere among the arguments; the rest are
// positional. False for an unknown option or a missing value.
struct Options {
  std::map<std::string, std::string> values;
  Args positional;
  bool has(const std::string& name) const { return values.count(name) > 0; }
  const std::string& get(const std::string& name) const { return values.at(name); }
};
bool parse_options(const Args& args, const std::vector<std::string>& with_value,
                   const std::vector<std::string>& flags, Options& out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      const std::string name = a.substr(2);
      if (std::find(with_value.begin(), with_value.end(), name) != with_value.end()) {
        if (i + 1 >= args.size()) return false;
        out.values[name] = args[++i];
      } else if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
        out.values[name] = "";
      } else {
        return false;
      }
    } else if (a == "-n") {
      if (i + 1 >= args.size()) return false;
      out.values["n"] = args[++i];
    } else {
      out.positional.push_back(a);
    }
  }
  return true;
}

std::optional<pb::CommitRef> ref_arg(const std::string& text) {
  std::optional<pb::CommitRef> ref = parse_commit_ref(text);
  if (!ref) std::fprintf(stderr, "dxsctl: '%s' is neither a commit nor a time\n", text.c_str());
  return ref;
}

// Draws main and transactions' branches as `git log --graph` does, simply: a column per
// line of history still open, newest first; a merge opens its branch's column beside
// main's, and the branch's column closes into main's at the branch's base.
class Graph {
 public:
  std::string row(const pb::CommitView& c) {
    std::string out;
    size_t col = lanes_.size();
    for (size_t i = 0; i < lanes_.size(); ++i) {
      if (lanes_[i] == c.seq()) {
        col = i;
        break;
      }
    }
    if (col == lanes_.size()) lanes_.push_back(c.seq());  // a branch not merged (yet)
    // Other columns waiting for this commit (a branch's base) close into its column.
    for (size_t i = lanes_.size(); i-- > col + 1;) {
      if (lanes_[i] != c.seq()) continue;
      lanes_.erase(lanes_.begin() + static_cast<long>(i));
      out += connector(col, "|/");
    }
    for (size_t i = 0; i < lanes_.size(); ++i) out += i == col ? "* " : "| ";
    out += log_line(c) + "\n";
    if (c.parents_size() == 0) {
      lanes_.erase(lanes_.begin() + static_cast<long>(col));
      return out;
    }
    lanes_[col] = c.parents(0);
    if (c.parents_size() > 1) {
      lanes_.insert(lanes_.begin() + static_cast<long>(col) + 1, c.parents(1));
      out += connector(col, "|\\");
    }
    return out;
  }

 private:
  std::string connector(size_t col, const char* mark) const {
    std::string out;
    for (size_t i = 0; i < col; ++i) out += "| ";
    out += mark;
    for (size_t i = col + 2; i < lanes_.size(); ++i) out += " |";
    return out + "\n";
  }
  std::vector<uint64_t> lanes_;
};

int cmd_log(Ctl& ctl, const Args& args) {
  Options o;
  if (!parse_options(args, {"path", "domain", "since", "until"}, {"graph", "branches", "changes"},
                     o) ||
      !o.positional.empty())
    return 2;
  pb::LogRequest req;
  if (o.has("path")) req.set_path(o.get("path"));
  if (o.has("domain"))
    req.set_domain(static_cast<uint32_t>(std::strtoul(o.get("domain").c_str(), nullptr, 10)));
  for (const char* bound : {"since", "until"}) {
    if (!o.has(bound)) continue;
    std::optional<pb::CommitRef> ref = ref_arg(o.get(bound));
    if (!ref) return 2;
    *(std::string(bound) == "since" ? req.mutable_since() : req.mutable_until()) = *ref;
  }
  if (o.has("n"))
    req.set_limit(static_cast<uint32_t>(std::strtoul(o.get("n").c_str(), nullptr, 10)));
  const bool graph = o.has("graph");
  req.set_include_branches(o.has("branches") || graph);
  req.set_with_changes(o.has("changes"));
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<pb::CommitView>> reader = ctl.history->Log(&ctx, req);
  Graph drawing;
  pb::CommitView c;
  while (reader->Read(&c)) {
    if (ctl.json) {
      std::printf("%s\n", json_commit(c).c_str());
    } else if (graph) {
      std::fputs(drawing.row(c).c_str(), stdout);
    } else {
      std::printf("%s\n", log_line(c).c_str());
      for (const pb::NodeChange& ch : c.changes()) std::fputs(change_text(ch).c_str(), stdout);
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return failed(s);
  if (ctx.GetServerTrailingMetadata().count("dxs-truncated") > 0)
    std::fprintf(stderr, "dxsctl: older commits of this path were left out (too many)\n");
  return 0;
}

int cmd_show(Ctl& ctl, const Args& args) {
  if (args.size() != 1) return 2;
  std::optional<pb::CommitRef> ref = ref_arg(args[0]);
  if (!ref) return 2;
  pb::ShowRequest req;
  *req.mutable_commit() = *ref;
  pb::CommitView c;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  grpc::Status s = ctl.history->Show(&ctx, req, &c);
  if (!s.ok()) return failed(s);
  std::printf("%s%s", ctl.json ? json_commit(c).c_str() : commit_text(c).c_str(),
              ctl.json ? "\n" : "");
  return 0;
}

int cmd_diff(Ctl& ctl, const Args& args) {
  if (args.size() < 2 || args.size() > 3) return 2;
  std::optional<pb::CommitRef> from = ref_arg(args[0]);
  std::optional<pb::CommitRef> to = ref_arg(args[1]);
  if (!from || !to) return 2;
  pb::DiffRequest req;
  *req.mutable_from() = *from;
  *req.mutable_to() = *to;
  if (args.size() == 3) req.set_path(args[2]);
  pb::DiffReply reply;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  grpc::Status s = ctl.history->Diff(&ctx, req, &reply);
  if (!s.ok()) return failed(s);
  if (ctl.json) {
    std::string changes;
    for (const pb::NodeChange& ch : reply.changes())
      changes += (changes.empty() ? "" : ", ") + json_change(ch);
    std::printf("{\"from\": %llu, \"to\": %llu, \"truncated\": %s, \"changes\": [%s]}\n",
                static_cast<unsigned long long>(reply.from_seq()),
                static_cast<unsigned long long>(reply.to_seq()),
                reply.truncated() ? "true" : "false", changes.c_str());
    return 0;
  }
  std::printf("diff %llu -> %llu\n", static_cast<unsigned long long>(reply.from_seq()),
              static_cast<unsigned long long>(reply.to_seq()));
  for (const pb::NodeChange& ch : reply.changes()) std::fputs(change_text(ch).c_str(), stdout);
  if (reply.truncated()) std::fprintf(stderr, "dxsctl: more nodes differ (the reply is cut)\n");
  return 0;
}

int cmd_at(Ctl& ctl, const Args& args) {
  if (args.size() != 3) return 2;
  std::optional<pb::CommitRef> ref = ref_arg(args[0]);
  if (!ref) return 2;
  static const std::map<std::string, pb::AtRequest::Op> kOps = {
      {"read", pb::AtRequest::READ},
      {"ls", pb::AtRequest::LS},
      {"perms", pb::AtRequest::PERMS},
      {"dir", pb::AtRequest::DIRECTORY},
  };
  auto op = kOps.find(args[1]);
  if (op == kOps.end()) return 2;
  pb::AtRequest req;
  *req.mutable_at() = *ref;
  req.set_op(op->second);
  req.set_path(args[2]);
  pb::AtReply reply;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  grpc::Status s = ctl.history->At(&ctx, req, &reply);
  if (!s.ok()) return failed(s);
  if (!reply.error().empty()) {
    if (ctl.json)
      std::printf("{\"seq\": %llu, \"error\": %s}\n", static_cast<unsigned long long>(reply.seq()),
                  json_string(reply.error()).c_str());
    std::fprintf(stderr, "dxsctl: %s\n", reply.error().c_str());
    return 1;
  }
  if (ctl.json) {
    std::string out = fmt::format("{{\"seq\": {}, \"path\": {}", reply.seq(), json_string(args[2]));
    if (op->second == pb::AtRequest::DIRECTORY) {
      out += ", \"children\": [";
      for (int i = 0; i < reply.children_size(); ++i)
        out += (i ? ", " : "") + json_string(reply.children(i));
      out += "]";
    } else {
      out += ", \"nodes\": [";
      for (int i = 0; i < reply.nodes_size(); ++i) {
        out += fmt::format("{}{{\"path\": {}, \"state\": {}}}", i ? ", " : "",
                           json_string(reply.nodes(i).path()), json_state(reply.nodes(i).state()));
      }
      out += fmt::format("], \"truncated\": {}", reply.truncated() ? "true" : "false");
    }
    std::printf("%s}\n", out.c_str());
    return 0;
  }
  switch (op->second) {
    case pb::AtRequest::READ: {
      const pb::NodeState& n = reply.nodes(0).state();
      std::printf("%s\n", n.redacted() ? state_text(n).c_str() : printable(n.value()).c_str());
      break;
    }
    case pb::AtRequest::PERMS: {
      std::string perms;
      for (const std::string& p : reply.nodes(0).state().perms())
        perms += (perms.empty() ? "" : " ") + printable(p);
      std::printf("%s\n", perms.c_str());
      break;
    }
    case pb::AtRequest::DIRECTORY:
      for (const std::string& name : reply.children()) std::printf("%s\n", printable(name).c_str());
      break;
    default: {
      // As xenstore-ls prints a tree: the nodes below the path, indented by depth.
      const std::string& root = args[2];
      for (const pb::AtNode& n : reply.nodes()) {
        if (n.path() == root) continue;
        const std::string rel = n.path().substr(root == "/" ? 1 : root.size() + 1);
        const size_t depth = static_cast<size_t>(std::count(rel.begin(), rel.end(), '/'));
        const std::string name =
            rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
        const pb::NodeState& st = n.state();
        std::printf(
            "%*s%s = %s\n", static_cast<int>(depth), "", printable(name).c_str(),
            st.redacted() ? state_text(st).c_str() : ("\"" + printable(st.value()) + "\"").c_str());
      }
      if (reply.truncated()) std::fprintf(stderr, "dxsctl: the tree is larger than shown\n");
    }
  }
  return 0;
}

int cmd_blame(Ctl& ctl, const Args& args) {
  Options o;
  if (!parse_options(args, {"at"}, {}, o) || o.positional.size() != 1) return 2;
  pb::BlameRequest req;
  req.set_path(o.positional[0]);
  if (o.has("at")) {
    std::optional<pb::CommitRef> ref = ref_arg(o.get("at"));
    if (!ref) return 2;
    *req.mutable_at() = *ref;
  }
  pb::BlameReply reply;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  grpc::Status s = ctl.history->Blame(&ctx, req, &reply);
  if (!s.ok()) return failed(s);
  if (!reply.error().empty()) {
    std::fprintf(stderr, "dxsctl: %s\n", reply.error().c_str());
    return 1;
  }
  for (const pb::BlameLine& line : reply.lines()) {
    if (ctl.json) {
      std::printf("{\"path\": %s, \"state\": %s, \"commit\": %s}\n",
                  json_string(line.path()).c_str(), json_state(line.state()).c_str(),
                  line.has_commit() ? json_commit(line.commit()).c_str() : "null");
      continue;
    }
    const std::string who =
        line.has_commit()
            ? fmt::format("{:>6} {}", line.commit().seq(), format_time(line.commit().time_ns()))
            : fmt::format("{:>6} {:23}", "?", "(before the horizon)");
    std::printf("%s  %s = %s  %s\n", who.c_str(), printable(line.path()).c_str(),
                state_text(line.state()).c_str(),
                line.has_commit() ? printable(line.commit().summary()).c_str() : "");
  }
  if (reply.truncated()) std::fprintf(stderr, "dxsctl: the tree is larger than shown\n");
  return 0;
}

int cmd_follow(Ctl& ctl, const Args& args) {
  Options o;
  if (!parse_options(args, {"after"}, {"changes"}, o) || !o.positional.empty()) return 2;
  pb::FollowRequest req;
  if (o.has("after")) req.set_after(std::strtoull(o.get("after").c_str(), nullptr, 10));
  req.set_with_changes(o.has("changes"));
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<pb::CommitView>> reader = ctl.history->Follow(&ctx, req);
  // The stream is open once the store sent its headers: say so, so that a script knows
  // from when on it sees every commit.
  reader->WaitForInitialMetadata();
  std::fprintf(stderr, "dxsctl: following\n");
  pb::CommitView c;
  while (reader->Read(&c)) {
    if (ctl.json) {
      std::printf("%s\n", json_commit(c).c_str());
    } else {
      std::printf("%s\n", log_line(c).c_str());
      for (const pb::NodeChange& ch : c.changes()) std::fputs(change_text(ch).c_str(), stdout);
    }
    std::fflush(stdout);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return failed(s);
  return 0;
}

}  // namespace

const std::vector<Command>& history_commands() {
  static const std::vector<Command> commands = {
      {"log", "[--graph] [--path P] [--domain D] [--since T] [--until T] [-n N] [--branches]",
       "commits, newest first (T: a commit, HEAD or a time)", cmd_log},
      {"show", "COMMIT", "a commit whole: author, change set, state changes", cmd_show},
      {"diff", "C1 C2 [PATH]", "the nodes that differ between two commits' trees", cmd_diff},
      {"at", "COMMIT|TIME read|ls|perms|dir PATH", "read the tree as it was then", cmd_at},
      {"blame", "PATH [--at C]", "the commit that last changed each node below PATH", cmd_blame},
      {"follow", "[--changes] [--after C]", "commits as they are made, until interrupted",
       cmd_follow},
  };
  return commands;
}

}  // namespace dxs::ctl
