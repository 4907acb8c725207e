// dxsctl/git_export: the mapping of nodes to files, of authors to identities, the ranges an
// export holds, and the fast-import stream of hand-built CommitViews, read back through a
// real `git fast-import` (git is what export-git runs; the suite needs it).
#include "dxsctl/git_export.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "dxsctl/subprocess.h"

using dxs::Result;
using dxs::Status;
using dxs::ctl::ExportedRanges;
using dxs::ctl::GitExport;
namespace pb = dxs::pb;

namespace {

using namespace std::string_literals;

pb::NodeState state(std::string value, std::vector<std::string> perms = {"n0"}) {
  pb::NodeState s;
  s.set_exists(true);
  s.set_value(std::move(value));
  for (auto& p : perms) s.add_perms(p);
  return s;
}

void add_change(pb::CommitView& c, std::string path, pb::Change::Kind kind, pb::NodeState after,
                pb::NodeState before = {}) {
  pb::NodeChange* ch = c.add_changes();
  ch->set_path(std::move(path));
  ch->set_kind(kind);
  *ch->mutable_after() = std::move(after);
  *ch->mutable_before() = std::move(before);
}

pb::CommitView commit(uint64_t seq, std::vector<uint64_t> parents, bool on_main = true) {
  pb::CommitView c;
  c.set_seq(seq);
  for (uint64_t p : parents) c.add_parents(p);
  c.set_on_main(on_main);
  c.set_time_ns(static_cast<int64_t>(1700000000 + seq) * 1000000000);
  c.set_summary(fmt::format("dom0: commit {}", seq));
  c.mutable_author()->set_kind(pb::CommitAuthor::RING);
  c.mutable_author()->set_domid(7);
  return c;
}

// A tree the store could give: its nodes and its commit.
struct TreeAt {
  pb::CommitView commit;
  std::vector<pb::AtNode> nodes;
};

TreeAt tree_of(std::vector<std::pair<std::string, pb::NodeState>> nodes) {
  TreeAt t;
  for (auto& [path, s] : nodes) {
    pb::AtNode n;
    n.set_path(path);
    *n.mutable_state() = s;
    t.nodes.push_back(n);
  }
  return t;
}

// A GitExport writing into a string, with trees to give for the seqs in `trees`; a tree
// in `breaks` fails after its first node.
struct Harness {
  std::string out;
  std::map<uint64_t, TreeAt> trees;
  std::vector<uint64_t> asked;
  std::vector<uint64_t> breaks;
  // Earlier runs' commits: "commit-of-N", or as `earlier` finds them.
  dxs::ctl::EarlierCommit earlier;
  GitExport exp;
  explicit Harness(ExportedRanges r = {}, dxs::ctl::EarlierCommit e = nullptr)
      : earlier(e ? std::move(e) : [](uint64_t seq) -> Result<std::string> {
          return fmt::format("commit-of-{}", seq);
        }),
        exp(
            std::move(r), reader(),
            [this](std::string_view b) {
              out += b;
              return Status::ok();
            },
            [this](uint64_t seq) { return earlier(seq); }) {}
  dxs::ctl::TreeReader reader() {
    dxs::ctl::TreeReader r;
    r.nodes = [this](uint64_t seq, const dxs::ctl::NodeFn& each) -> Status {
      asked.push_back(seq);
      auto it = trees.find(seq);
      if (it == trees.end()) return Status::error(ENOENT, "pruned");
      for (const pb::AtNode& n : it->second.nodes) {
        DXS_RETURN_IF_ERROR(each(n));
        if (std::find(breaks.begin(), breaks.end(), seq) != breaks.end())
          return Status::error(EIO, "broke off");
      }
      return Status::ok();
    };
    r.commit = [this](uint64_t seq) {
      auto it = trees.find(seq);
      return it == trees.end() ? pb::CommitView() : it->second.commit;
    };
    return r;
  }
};

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// A temporary git repository, removed at the end.
struct TempRepo {
  std::string dir;
  TempRepo() {
    char tmpl[] = "/tmp/dxs-git-export.XXXXXX";
    dir = mkdtemp(tmpl);
    REQUIRE(dxs::ctl::run_capture({"git", "init", "-q", "-b", "main", dir}));
  }
  ~TempRepo() { std::filesystem::remove_all(dir); }
  std::string git(std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", dir});
    Result<std::string> r = dxs::ctl::run_capture(args);
    REQUIRE_MESSAGE(r, args[3]);
    return *r;
  }
  // Feeds a stream to git fast-import with the marks kept in the repository.
  // Feeds a stream to git fast-import and appends its marks to the repository's, as
  // export-git does.
  std::string marks() const { return dir + "/.git/marks"; }
  void import(const std::string& stream) {
    dxs::ctl::PipedChild child;
    REQUIRE(child.start(
        {"git", "-C", dir, "fast-import", "--quiet", "--export-marks=" + marks() + ".run"}));
    REQUIRE(child.write(stream));
    REQUIRE(child.finish());
    std::ifstream in(marks() + ".run");
    std::ofstream out(marks(), std::ios::app);
    out << in.rdbuf();
  }
  // The same for a stream cut off: git refuses it.
  bool import_ok(const std::string& stream) {
    dxs::ctl::PipedChild child;
    REQUIRE(child.start({"git", "-C", dir, "fast-import", "--quiet"}));
    REQUIRE(child.write(stream));
    return child.finish().is_ok();
  }
};

}  // namespace

TEST_CASE("a node's file: a name no node has, the root too, odd bytes encoded") {
  using dxs::ctl::node_dir;
  using dxs::ctl::node_file;
  CHECK(node_file("/") == ".node");
  CHECK(node_dir("/") == "");
  CHECK(node_file("/a") == "a.node");
  CHECK(node_file("/local/domain/7/name") == "local/domain/7/name.node");
  CHECK(node_dir("/local/domain/7") == "local/domain/7");
  CHECK(node_file("/a/@b_c-D9") == "a/@b_c-D9.node");
  // Never sent by the store, but no byte makes a path leave its directory.
  CHECK(node_file("/a/../b") == "a/%2E%2E/b.node");
  CHECK(node_file("/a b/\n") == "a%20b/%0A.node");
  CHECK(node_file("/a//b/") == "a/b.node");
}

TEST_CASE("a node's file: the permissions, then the value's bytes verbatim") {
  const std::string value = "line\nnul\0\xff\x01 end"s;
  const std::string content = dxs::ctl::node_file_content(state(value, {"n0", "r7"}));
  CHECK(content == "perms n0 r7\n\n" + value);
  Result<dxs::ctl::NodeFile> f = dxs::ctl::parse_node_file(content);
  REQUIRE(f);
  CHECK(f->perms == std::vector<std::string>{"n0", "r7"});
  CHECK(f->value == value);
  CHECK_FALSE(f->redacted);
  // An empty value, and a value that looks like a header.
  CHECK(dxs::ctl::node_file_content(state("")) == "perms n0\n\n");
  f = dxs::ctl::parse_node_file(dxs::ctl::node_file_content(state("redacted 00\n\n")));
  REQUIRE(f);
  CHECK(f->value == "redacted 00\n\n");
}

TEST_CASE("a private node's file holds the value's digest, never a value") {
  pb::NodeState s = state("");
  s.set_redacted(true);
  s.set_value_digest("\x01\xab\x00\xff"s);
  const std::string content = dxs::ctl::node_file_content(s);
  CHECK(content == "perms n0\nredacted 01ab00ff\n\n");
  Result<dxs::ctl::NodeFile> f = dxs::ctl::parse_node_file(content);
  REQUIRE(f);
  CHECK(f->redacted);
  CHECK(f->value_digest == "\x01\xab\x00\xff"s);
  CHECK_FALSE(dxs::ctl::parse_node_file("perms n0\nredacted 0g\n\n"));
  CHECK_FALSE(dxs::ctl::parse_node_file("perms n0\nredacted 00\n\nvalue"));
  CHECK_FALSE(dxs::ctl::parse_node_file("value without a header"));
}

TEST_CASE("authors as git identities") {
  pb::CommitAuthor a;
  a.set_kind(pb::CommitAuthor::RING);
  a.set_domid(7);
  CHECK(dxs::ctl::git_ident(a).name == "dom7");
  CHECK(dxs::ctl::git_ident(a).email == "dom7@ring.dxs");
  a.set_kind(pb::CommitAuthor::SOCKET);
  a.set_domid(0);
  a.set_pid(123);
  a.set_uid(0);
  a.set_command("xenstore-write");
  CHECK(dxs::ctl::git_ident(a).name == "xenstore-write");
  CHECK(dxs::ctl::git_ident(a).email == "uid0@socket.dxs");
  // A process names itself: nothing it picks breaks the author line.
  a.set_command("<evil>\nname");
  CHECK(dxs::ctl::git_ident(a).name == "_evil_\\x0aname");
  a.set_pid(-1);
  CHECK(dxs::ctl::git_ident(a).email == "unknown@socket.dxs");
  a.set_kind(pb::CommitAuthor::OPS);
  a.set_identity("uid 1000");
  CHECK(dxs::ctl::git_ident(a).name == "ops uid 1000");
  a.set_kind(pb::CommitAuthor::STORE);
  CHECK(dxs::ctl::git_ident(a).name == "dxs-store");
}

TEST_CASE("the commit message: summary, then what git has no field for") {
  pb::CommitView c = commit(12, {11});
  c.set_conn(5);
  c.set_req_id(9);
  c.set_tx_id(3);
  c.set_note("why\nnot");
  pb::NodeChange* sp = c.add_changes();
  sp->set_path("@releaseDomain");
  sp->set_kind(pb::Change::PERMS);
  *sp->mutable_before() = state("", {"n0"});
  *sp->mutable_after() = state("", {"n0", "r7"});
  pb::StateChange* st = c.add_state();
  st->set_key("domain/7/ring");
  st->set_after("gfn 5 port 3");
  const std::string m = dxs::ctl::commit_message(c);
  CHECK(m.starts_with("dom0: commit 12\n\nseq: 12\n"));
  CHECK(contains(m, "author: ring, dom7\n"));
  CHECK(contains(m, "connection: 5\nrequest: 9\ntransaction: 3\nnote: why\\x0anot\n"));
  CHECK(contains(m, "special: @releaseDomain perms n0 -> n0 r7\n"));
  CHECK(contains(m, "state: domain/7/ring: (none) -> gfn 5 port 3\n"));
}

TEST_CASE("exported ranges: joined as they grow, kept as text") {
  ExportedRanges r;
  CHECK(r.last() == 0);
  CHECK_FALSE(r.contains(1));
  for (uint64_t s : {1, 2, 3, 7, 5, 6}) r.add(s);
  CHECK(r.ranges() == std::vector<std::pair<uint64_t, uint64_t>>{{1, 3}, {5, 7}});
  r.add(4);
  CHECK(r.ranges() == std::vector<std::pair<uint64_t, uint64_t>>{{1, 7}});
  r.add(10);
  CHECK(r.contains(7));
  CHECK_FALSE(r.contains(8));
  CHECK(r.contains(10));
  CHECK(r.last() == 10);
  r.set_main_head(9);
  Result<ExportedRanges> back = ExportedRanges::parse(r.serialize());
  REQUIRE(back);
  CHECK(back->ranges() == r.ranges());
  CHECK(back->main_head() == 9);
  CHECK_FALSE(ExportedRanges::parse(""));
  CHECK_FALSE(ExportedRanges::parse("dxs-export 1\nexported 5 3\n"));
  CHECK_FALSE(ExportedRanges::parse("dxs-export 1\nexported 1 3\nexported 2 4\n"));
  CHECK_FALSE(ExportedRanges::parse("dxs-export 1\nmain 3"));
  CHECK_FALSE(ExportedRanges::parse("something else\n"));
}

TEST_CASE("the stream: main's commits, a transaction's branch and merge, removals") {
  Harness h;
  REQUIRE(h.exp.begin());
  pb::CommitView c1 = commit(1, {});
  add_change(c1, "/", pb::Change::CREATED, state(""));
  add_change(c1, "/tool", pb::Change::CREATED, state(""));
  REQUIRE(h.exp.add(c1));
  pb::CommitView c2 = commit(2, {1});
  add_change(c2, "/a/b", pb::Change::CREATED, state("x"));
  REQUIRE(h.exp.add(c2));
  pb::CommitView b3 = commit(3, {2}, false);
  add_change(b3, "/a/b", pb::Change::DELETED, {}, state("x"));
  REQUIRE(h.exp.add(b3));
  pb::CommitView m4 = commit(4, {2, 3});
  add_change(m4, "/a/b", pb::Change::DELETED, {}, state("x"));
  REQUIRE(h.exp.add(m4));
  REQUIRE(h.exp.finish());
  CHECK(h.asked.empty());
  const std::string& o = h.out;
  CHECK(o.starts_with("feature done\nreset refs/heads/main\ncommit refs/heads/main\nmark :1\n"));
  CHECK(contains(o, "author dom7 <dom7@ring.dxs> 1700000001 +0000\n"));
  CHECK(contains(o, "M 100644 inline .node\ndata 10\nperms n0\n\n\n"));
  CHECK(contains(o, "mark :2\n"));
  CHECK(contains(o, "from :1\nM 100644 inline a/b.node\ndata 11\nperms n0\n\nx\n"));
  CHECK(contains(o, "commit refs/dxs/branch\nmark :3\n"));
  CHECK(contains(o, "from :2\nD a/b.node\nD a/b\n"));
  CHECK(contains(o, "from :2\nmerge :3\nD a/b.node\nD a/b\n"));
  CHECK(o.ends_with("reset refs/dxs/branch\ndone\n"));
  CHECK(h.exp.exported().ranges() == std::vector<std::pair<uint64_t, uint64_t>>{{1, 4}});
  CHECK(h.exp.exported().main_head() == 4);
  CHECK(h.exp.commits_written() == 4);
}

TEST_CASE("special nodes and state changes are in the message, not the tree") {
  Harness h;
  REQUIRE(h.exp.begin());
  pb::CommitView c = commit(1, {});
  add_change(c, "@introduceDomain", pb::Change::PERMS, state("", {"n0", "r7"}), state(""));
  REQUIRE(h.exp.add(c));
  CHECK_FALSE(contains(h.out, "M 100644"));
  CHECK(contains(h.out, "special: @introduceDomain perms n0 -> n0 r7\n"));
}

TEST_CASE("an export that starts past the first commit begins with the tree there") {
  Harness h;
  h.trees[9] = tree_of({{"/", state("")}, {"/a", state("v", {"b0"})}});
  h.trees[9].commit.set_time_ns(1700000009'000000000);
  h.trees[9].commit.set_summary("dom0: write /a = v");
  REQUIRE(h.exp.begin());
  pb::CommitView c = commit(10, {9});
  add_change(c, "/a", pb::Change::MODIFIED, state("w", {"b0"}));
  REQUIRE(h.exp.add(c));
  CHECK(h.asked == std::vector<uint64_t>{9});
  const std::string& o = h.out;
  CHECK(contains(o,
                 "reset refs/heads/main\ncommit refs/heads/main\nmark :9\n"
                 "author dxs-export <export@dxs> 1700000009 +0000\n"));
  CHECK(contains(o, "dxs: the tree at commit 9\n"));
  CHECK(contains(o, "commit 9: dom0: write /a = v\n"));
  CHECK(contains(o, "deleteall\nM 100644 inline .node\n"));
  CHECK(contains(o, "M 100644 inline a.node\ndata 11\nperms b0\n\nv\n"));
  CHECK(contains(o, "mark :10\n"));
  CHECK(contains(o, "from :9\nM 100644 inline a.node\n"));
  CHECK(h.exp.exported().ranges() == std::vector<std::pair<uint64_t, uint64_t>>{{9, 10}});

  // The first commit the store has (the retention horizon): its own tree begins the
  // export, as the one before it is gone.
  Harness gone;
  gone.trees[10] = tree_of({{"/", state("")}, {"/a", state("w", {"b0"})}});
  REQUIRE(gone.exp.begin());
  REQUIRE(gone.exp.add(c));
  CHECK(gone.asked == std::vector<uint64_t>{9, 10});
  CHECK(contains(gone.out, "reset refs/heads/main\ncommit refs/heads/main\nmark :10\n"));
  CHECK(contains(gone.out, "dxs: the tree at commit 10\n"));
  CHECK(contains(gone.out, "M 100644 inline a.node\ndata 11\nperms b0\n\nw\n"));
  CHECK_FALSE(contains(gone.out, "mark :9"));
  CHECK(gone.exp.exported().ranges() == std::vector<std::pair<uint64_t, uint64_t>>{{10, 10}});
  // Neither is there: the export stops rather than make up a tree.
  Harness none;
  REQUIRE(none.exp.begin());
  CHECK(none.exp.add(c).err() == ENOENT);
}

TEST_CASE("a continued export over commits pruned meanwhile resumes on the tree, after main") {
  ExportedRanges r;
  for (uint64_t s = 1; s <= 5; ++s) r.add(s);
  r.set_main_head(5);
  Harness h(r);
  h.trees[8] = tree_of({{"/", state("")}});
  REQUIRE(h.exp.begin());
  REQUIRE(h.exp.add(commit(9, {8})));
  CHECK(contains(h.out, "commit refs/heads/main\nmark :8\n"));
  CHECK(contains(h.out, "from commit-of-5\ndeleteall\n"));
  CHECK(contains(h.out, "commits after 5 up to it were gone"));
  CHECK_FALSE(contains(h.out, "reset refs/heads/main"));
  CHECK(h.exp.exported().ranges() == std::vector<std::pair<uint64_t, uint64_t>>{{1, 5}, {8, 9}});
  // A commit sent again is not written twice.
  const size_t len = h.out.size();
  REQUIRE(h.exp.add(commit(9, {8})));
  CHECK(h.out.size() == len);
}

TEST_CASE("a transaction's base from before the export: its tree, else main's head") {
  ExportedRanges r;
  r.add(20);
  r.set_main_head(20);
  Harness h(r);
  h.trees[15] = tree_of({{"/", state("")}});
  REQUIRE(h.exp.begin());
  REQUIRE(h.exp.add(commit(21, {15}, false)));
  CHECK(contains(h.out, "reset refs/dxs/snapshot\ncommit refs/dxs/snapshot\nmark :15\n"));
  CHECK(contains(h.out, "commit refs/dxs/branch\nmark :21\n"));
  CHECK(contains(h.out, "from :15\n"));
  REQUIRE(h.exp.add(commit(22, {20, 21})));
  CHECK(contains(h.out, "from commit-of-20\nmerge :21\n"));
  REQUIRE(h.exp.add(commit(23, {12}, false)));  // no tree at 12 any more
  CHECK(contains(h.out, "base: commit 12, gone from the store; shown on top of 22\n"));
  CHECK(contains(h.out, "mark :23\n"));
  CHECK(h.out.substr(h.out.find("mark :23")).find("from :22\n") != std::string::npos);
  REQUIRE(h.exp.finish());
  CHECK(h.out.ends_with("reset refs/dxs/branch\nreset refs/dxs/snapshot\ndone\n"));

  // A tree that breaks off halfway cannot be replaced: the export stops there.
  Harness b(r);
  b.trees[15] = tree_of({{"/", state("")}, {"/a", state("")}});
  b.breaks = {15};
  REQUIRE(b.exp.begin());
  CHECK(b.exp.add(commit(21, {15}, false)).err() == EIO);
  CHECK(b.exp.add(commit(22, {20})).err() == EIO);
}

TEST_CASE("git takes the stream: files, merges, and a second export that continues") {
  TempRepo repo;
  const std::string binary = "bin\0ary\n\xff"s;
  ExportedRanges after_first;
  {
    Harness h;
    REQUIRE(h.exp.begin());
    pb::CommitView c1 = commit(1, {});
    add_change(c1, "/", pb::Change::CREATED, state(""));
    add_change(c1, "/vm/1/name", pb::Change::CREATED, state("one", {"n0", "r1"}));
    add_change(c1, "/vm/1", pb::Change::CREATED, state(""));
    add_change(c1, "/vm", pb::Change::CREATED, state(""));
    REQUIRE(h.exp.add(c1));
    pb::CommitView b2 = commit(2, {1}, false);
    add_change(b2, "/vm/1/blob", pb::Change::CREATED, state(binary));
    REQUIRE(h.exp.add(b2));
    pb::CommitView m3 = commit(3, {1, 2});
    add_change(m3, "/vm/1/blob", pb::Change::CREATED, state(binary));
    REQUIRE(h.exp.add(m3));
    REQUIRE(h.exp.finish());
    repo.import(h.out);
    after_first = h.exp.exported();
  }
  CHECK(repo.git({"for-each-ref", "--format=%(refname)"}) == "refs/heads/main\n");
  CHECK(repo.git({"log", "--format=%s", "main"}) ==
        "dom0: commit 3\ndom0: commit 2\ndom0: commit 1\n");
  const std::string c1 = repo.git({"rev-list", "--max-parents=0", "main"});
  const std::string parents3 = repo.git({"log", "-1", "--format=%P", "main"});
  CHECK(std::count(parents3.begin(), parents3.end(), ' ') == 1);  // a merge
  CHECK(repo.git({"show", "main:vm/1/blob.node"}) == "perms n0\n\n" + binary);
  CHECK(repo.git({"show", "main:vm/1/name.node"}) == "perms n0 r1\n\none");
  CHECK(repo.git({"ls-tree", "-r", "--name-only", "main"}) ==
        ".node\nvm.node\nvm/1.node\nvm/1/blob.node\nvm/1/name.node\n");

  const std::string head3 = repo.git({"rev-parse", "main"});
  {
    Harness h(after_first,
              [&repo](uint64_t seq) { return dxs::ctl::find_mark(repo.marks(), seq); });
    REQUIRE(h.exp.begin());
    pb::CommitView c4 = commit(4, {3});
    add_change(c4, "/vm/1", pb::Change::DELETED, {}, state(""));
    add_change(c4, "/vm/1/name", pb::Change::DELETED, {}, state("one"));
    add_change(c4, "/vm/1/blob", pb::Change::DELETED, {}, state(binary));
    add_change(c4, "/", pb::Change::PERMS, state("", {"n0", "r3"}));
    REQUIRE(h.exp.add(c4));
    REQUIRE(h.exp.finish());
    CHECK(h.asked.empty());
    repo.import(h.out);
  }
  CHECK(repo.git({"rev-parse", "main^"}) == head3);
  CHECK(repo.git({"rev-list", "--count", "main"}) == "4\n");
  CHECK(repo.git({"rev-list", "--max-parents=0", "main"}) == c1);
  CHECK(repo.git({"ls-tree", "-r", "--name-only", "main"}) == ".node\nvm.node\n");
  CHECK(repo.git({"show", "main:.node"}) == "perms n0 r3\n\n");
}

TEST_CASE("a stream cut off before its end moves no ref") {
  // What export-git relies on to give up halfway: without "done", git keeps no ref.
  TempRepo repo;
  Harness h;
  REQUIRE(h.exp.begin());
  pb::CommitView c1 = commit(1, {});
  add_change(c1, "/", pb::Change::CREATED, state(""));
  REQUIRE(h.exp.add(c1));
  CHECK_FALSE(repo.import_ok(h.out));
  CHECK(repo.git({"for-each-ref"}) == "");
  REQUIRE(h.exp.finish());
  CHECK(repo.import_ok(h.out));
  CHECK(repo.git({"for-each-ref", "--format=%(refname)"}) == "refs/heads/main\n");
}

TEST_CASE("find_mark: the last line for a mark, found from the end of a long file") {
  TempRepo repo;
  const std::string path = repo.dir + "/marks";
  {
    std::ofstream out(path);
    for (int i = 1; i <= 20000; ++i)
      out << ":" << i << " " << std::string(40, 'a' + i % 26) << "\n";
    out << ":7 " << std::string(40, 'z') << "\n";  // a later run wrote :7 again
  }
  CHECK(*dxs::ctl::find_mark(path, 20000) == std::string(40, 'a' + 20000 % 26));
  CHECK(*dxs::ctl::find_mark(path, 1) == std::string(40, 'b'));
  CHECK(*dxs::ctl::find_mark(path, 12345) == std::string(40, 'a' + 12345 % 26));
  CHECK(*dxs::ctl::find_mark(path, 7) == std::string(40, 'z'));
  CHECK(dxs::ctl::find_mark(path, 20001).err() == ENOENT);
  CHECK(dxs::ctl::find_mark(path, 2000).is_ok());  // not mistaken for :20000
  CHECK(*dxs::ctl::find_mark(path, 2000) == std::string(40, 'a' + 2000 % 26));
  CHECK(dxs::ctl::find_mark(repo.dir + "/none", 1).err() == ENOENT);
}
