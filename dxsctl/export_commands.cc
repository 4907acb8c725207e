// The git export's command (docs/design.md, "Git export"): export-git DIR [--since C]
// streams the History API's Export into `git fast-import` in DIR, and a later run goes on
// from where the last one ended (the commits it holds are in DIR's .git/dxs-export/state,
// git's marks for them in .git/dxs-export/marks).
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dxsctl/command.h"
#include "dxsctl/git_export.h"
#include "dxsctl/output.h"
#include "dxsctl/subprocess.h"

namespace dxs::ctl {
namespace {

namespace fs = std::filesystem;

struct Repo {
  std::string dir;      // the work tree (or the bare repository)
  std::string git_dir;  // absolute
  bool bare = false;
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Result<std::string> git(const Repo& r, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", r.dir});
  return run_capture(args);
}

// DIR as a repository of its own: opened if it is one (not merely inside one), made with
// `git init` if it does not exist or is empty; any other directory is refused. A new DIR
// is 0700: it holds every value the history does.
Result<Repo> open_or_init(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec) && mkdir(dir.c_str(), 0700) != 0)
    return Status::error(errno, dir + ": " + std::strerror(errno));
  if (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)) {
    Result<std::string> out = run_capture({"git", "init", "-q", "-b", "main", dir});
    if (!out) return out.status();
  }
  const fs::path real = fs::canonical(dir, ec);
  if (ec) return Status::error(ec.value(), dir + ": " + ec.message());
  Repo r{real.string(), "", false};
  Result<std::string> git_dir = git(r, {"rev-parse", "--absolute-git-dir"});
  Result<std::string> bare = git(r, {"rev-parse", "--is-bare-repository"});
  if (git_dir && bare) {
    r.git_dir = trimmed(*git_dir);
    r.bare = trimmed(*bare) == "true";
    if (r.git_dir == (real / ".git").string() || (r.bare && r.git_dir == real.string())) return r;
  }
  return Status::error(ENOTDIR, dir + " is neither a git repository nor an empty directory");
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(ENOENT, path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Written whole or not at all: a reader never sees half a state.
Status write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return Status::error(EIO, "writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::error(errno, "renaming " + tmp);
  return Status::ok();
}

// Appends the file `from` to `to` (made if need be) and removes it.
Status append_file(const std::string& to, const std::string& from) {
  Result<std::string> text = read_file(from);
  if (!text) return text.status();
  if (!text->empty()) {
    std::ofstream out(to, std::ios::binary | std::ios::app);
    out << *text;
    out.flush();
    if (!out) return Status::error(EIO, "appending to " + to);
  }
  std::remove(from.c_str());
  return Status::ok();
}

grpc::ClientContext* with_deadline(grpc::ClientContext& ctx, std::chrono::seconds s) {
  ctx.set_deadline(std::chrono::system_clock::now() + s);
  return &ctx;
}

Status from_grpc(const grpc::Status& s) {
  if (s.ok()) return Status::ok();
  return Status::error(s.error_code() == grpc::StatusCode::NOT_FOUND ? ENOENT : EIO,
                       s.error_message());
}

// The nodes at and below `path` in the tree at `seq`: one At LS, or, where the subtree
// is more than one reply holds (AtReply.truncated), the node itself and each child's
// subtree the same way. Only one reply is held at a time.
Status each_node_below(Ctl& ctl, uint64_t seq, const std::string& path, const NodeFn& each) {
  pb::AtRequest req;
  req.mutable_at()->set_seq(seq);
  req.set_op(pb::AtRequest::LS);
  req.set_path(path);
  pb::AtReply reply;
  {
    grpc::ClientContext ctx;
    DXS_RETURN_IF_ERROR(
        from_grpc(ctl.history->At(with_deadline(ctx, std::chrono::seconds(600)), req, &reply)));
  }
  if (!reply.error().empty()) return Status::error(EIO, path + ": " + reply.error());
  if (!reply.truncated()) {
    for (const pb::AtNode& n : reply.nodes()) DXS_RETURN_IF_ERROR(each(n));
    return Status::ok();
  }
  if (reply.nodes_size() == 0 || reply.nodes(0).path() != path)
    return Status::error(EIO, path + ": a cut listing without the node itself");
  DXS_RETURN_IF_ERROR(each(reply.nodes(0)));
  req.set_op(pb::AtRequest::DIRECTORY);
  reply.Clear();
  {
    grpc::ClientContext ctx;
    DXS_RETURN_IF_ERROR(
        from_grpc(ctl.history->At(with_deadline(ctx, std::chrono::seconds(600)), req, &reply)));
  }
  if (!reply.error().empty()) return Status::error(EIO, path + ": " + reply.error());
  const std::vector<std::string> children(reply.children().begin(), reply.children().end());
  reply.Clear();
  for (const std::string& child : children) {
    DXS_RETURN_IF_ERROR(
        each_node_below(ctl, seq, path == "/" ? "/" + child : path + "/" + child, each));
  }
  return Status::ok();
}

TreeReader tree_reader(Ctl& ctl) {
  TreeReader r;
  r.nodes = [&ctl](uint64_t seq, const NodeFn& each) {
    return each_node_below(ctl, seq, "/", each);
  };
  r.commit = [&ctl](uint64_t seq) {
    pb::ShowRequest show;
    show.mutable_commit()->set_seq(seq);
    pb::CommitView c;
    grpc::ClientContext ctx;
    if (!ctl.history->Show(with_deadline(ctx, std::chrono::seconds(60)), show, &c).ok()) c.Clear();
    return c;
  };
  return r;
}

// Brings the files up to main's new head if they are checked out on main: read-tree
// refuses rather than overwrite a file someone changed, and a detached HEAD (`git
// checkout C`) is left where it is.
void update_work_tree(const Repo& repo, const std::string& old_main) {
  if (repo.bare) return;
  Result<std::string> head = git(repo, {"symbolic-ref", "-q", "HEAD"});
  if (!head || trimmed(*head) != "refs/heads/main") return;
  std::vector<std::string> args = {"read-tree", "-m", "-u"};
  if (!old_main.empty()) args.push_back(old_main);
  args.push_back("refs/heads/main");
  if (!git(repo, args)) {
    std::fprintf(stderr,
                 "dxsctl: export-git: the files in %s were left as they were (changed?); "
                 "`git checkout -f main` there brings them to main's head\n",
                 repo.dir.c_str());
  }
}

int fail(const std::string& what) {
  std::fprintf(stderr, "dxsctl: export-git: %s\n", what.c_str());
  return 1;
}

int cmd_export_git(Ctl& ctl, const std::vector<std::string>& args) {
  std::string dir;
  uint64_t since = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--since" && i + 1 < args.size()) {
      char* end = nullptr;
      since = std::strtoull(args[++i].c_str(), &end, 10);
      if (since == 0 || *end != '\0') return 2;
    } else if (dir.empty() && !args[i].empty() && args[i][0] != '-') {
      dir = args[i];
    } else {
      return 2;
    }
  }
  if (dir.empty()) return 2;

  // Below the daemons: on a host with few cores an export (dxsctl and git, which inherits
  // it) must not take the CPU clients' requests need.
  errno = 0;
  if (nice(10) == -1 && errno != 0)
    std::fprintf(stderr, "dxsctl: export-git: nice: %s (going on)\n", std::strerror(errno));
  Result<Repo> repo = open_or_init(dir);
  if (!repo) return fail(repo.status().detail());
  const std::string state_dir = repo->git_dir + "/dxs-export";
  const std::string state_path = state_dir + "/state";
  const std::string marks_path = state_dir + "/marks";

  ExportedRanges exported;
  std::string old_main;
  if (Result<std::string> text = read_file(state_path)) {
    Result<ExportedRanges> parsed = ExportedRanges::parse(*text);
    if (!parsed) return fail(state_path + ": " + parsed.status().to_string());
    if (since != 0) return fail(dir + " holds an export already; --since starts a new one");
    exported = std::move(*parsed);
    if (Result<std::string> sha = git(*repo, {"rev-parse", "-q", "--verify", "refs/heads/main"}))
      old_main = trimmed(*sha);
  } else if (git(*repo, {"rev-parse", "-q", "--verify", "refs/heads/main"})) {
    return fail(dir + " has a main branch that no export made");
  }
  if (mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(state_dir + ": " + std::strerror(errno));

  PipedChild fast_import;
  // git is given no marks of earlier runs (the commits they wrote are named by id) and
  // writes this run's, which are appended to the repository's marks once it succeeded.
  const std::string run_marks = state_dir + "/marks.run";
  Status started = fast_import.start(
      {"git", "-C", repo->dir, "fast-import", "--quiet", "--export-marks=" + run_marks});
  if (!started) return fail(started.to_string());
  GitExport exp(
      std::move(exported), tree_reader(ctl),
      [&fast_import](std::string_view bytes) { return fast_import.write(bytes); },
      [&marks_path](uint64_t seq) { return find_mark(marks_path, seq); });

  // Any failure from here gives up the whole run: git keeps no ref of a stream without
  // its "done", and the state is not written, so the next run does it again.
  auto give_up = [&](const std::string& what) {
    fast_import.kill();
    return fail(what);
  };
  if (Status s = exp.begin(); !s) return give_up(s.to_string());
  if (since != 0) {
    if (Status s = exp.snapshot_on_main(since); !s) return give_up(s.detail());
  }
  const uint64_t after = exp.exported().last();

  pb::ExportRequest req;
  req.set_after(after);
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<pb::CommitView>> stream = ctl.history->Export(&ctx, req);
  pb::CommitView commit;
  uint64_t first = 0;
  uint64_t from_store = 0;
  while (stream->Read(&commit)) {
    if (first == 0) first = commit.seq();
    ++from_store;
    if (Status s = exp.add(commit); !s) {
      ctx.TryCancel();
      stream->Finish();
      return give_up(fmt::format("commit {}: {}", commit.seq(), s.to_string()));
    }
  }
  if (grpc::Status s = stream->Finish(); !s.ok()) {
    return give_up((s.error_code() == grpc::StatusCode::UNAVAILABLE ? "cannot reach the store: "
                                                                    : "Export: ") +
                   s.error_message());
  }
  if (Status s = exp.finish(); !s) return give_up(s.to_string());
  if (Status s = fast_import.finish(); !s) return fail(s.to_string());
  if (Status s = append_file(marks_path, run_marks); !s) return fail(s.to_string());
  if (Status s = write_file_atomically(state_path, exp.exported().serialize()); !s)
    return fail(s.to_string());

  if (exp.commits_written() > 0) update_work_tree(*repo, old_main);
  const uint64_t written = exp.commits_written();
  if (ctl.json) {
    std::printf(
        "{\"dir\": %s, \"commits\": %llu, \"first\": %llu, \"last\": %llu, \"main\": %llu}\n",
        json_string(repo->dir).c_str(), static_cast<unsigned long long>(written),
        static_cast<unsigned long long>(first),
        static_cast<unsigned long long>(exp.exported().last()),
        static_cast<unsigned long long>(exp.exported().main_head()));
  } else if (written == 0) {
    std::printf("%s: up to date at commit %llu\n", repo->dir.c_str(),
                static_cast<unsigned long long>(exp.exported().main_head()));
  } else {
    std::printf("%s: %llu commits (%llu from the store%s), main at commit %llu\n",
                repo->dir.c_str(), static_cast<unsigned long long>(written),
                static_cast<unsigned long long>(from_store),
                since != 0 ? fmt::format(" after the tree at {}", since).c_str() : "",
                static_cast<unsigned long long>(exp.exported().main_head()));
  }
  return 0;
}

}  // namespace

const std::vector<Command>& export_commands() {
  static const std::vector<Command> commands = {
      {"export-git", "DIR [--since C]",
       "export the history to the git repository DIR: on from the last export, or "
       "from the tree at commit C",
       cmd_export_git},
  };
  return commands;
}

}  // namespace dxs::ctl
