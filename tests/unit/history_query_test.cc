// History's reads (commit_view.h, history_commits.h, history_trees.h) on commits the
// engine makes, read back from a DbSnapshot as the History API reads them; and the
// commit feed followers wait on.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/wire.h"
#include "engine_fixture.h"
#include "store/commit_feed.h"
#include "store/commit_view.h"
#include "store/history_commits.h"
#include "store/history_trees.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::args;
using dxs::testing::EngineFixture;
using wire::MsgType;

namespace {

pb::CommitRef seq_ref(uint64_t seq) {
  pb::CommitRef r;
  r.set_seq(seq);
  return r;
}

pb::CommitRef head_ref() {
  pb::CommitRef r;
  r.set_head(true);
  return r;
}

// The seqs a LogRequest streams, in order.
std::vector<uint64_t> log_seqs(Db& db, const pb::LogRequest& req, bool* truncated = nullptr) {
  DbSnapshot snap(db);
  std::vector<uint64_t> seqs;
  Result<LogOutcome> out = log_commits(snap, req, [&](pb::CommitView&& c) {
    seqs.push_back(c.seq());
    return true;
  });
  REQUIRE(out.is_ok());
  if (truncated) *truncated = out->truncated;
  CHECK(out->sent == seqs.size());
  return seqs;
}

pb::LogRequest log_of(std::string path = {}) {
  pb::LogRequest req;
  req.set_path(std::move(path));
  return req;
}

pb::CommitView show(Db& db, uint64_t seq) {
  DbSnapshot snap(db);
  pb::ShowRequest req;
  *req.mutable_commit() = seq_ref(seq);
  Result<pb::CommitView> v = show_commit(snap, req);
  REQUIRE(v.is_ok());
  return *v;
}

void set_horizon(Db& db, uint64_t seq) {
  WriteSet ws(db);
  ws.put(Cf::kMeta, meta::kHistoryHorizon, keys::be64(seq));
  ws.commit();
}

pb::AtReply at(Db& db, uint64_t seq, pb::AtRequest::Op op, const std::string& path) {
  DbSnapshot snap(db);
  pb::AtRequest req;
  *req.mutable_at() = seq_ref(seq);
  req.set_op(op);
  req.set_path(path);
  Result<pb::AtReply> r = read_at(snap, req);
  REQUIRE(r.is_ok());
  return *r;
}

}  // namespace

TEST_CASE("a commit's view resolves its change whole from versions: before and after") {
  EngineFixture f;
  const uint64_t xl = f.open_socket(812, 0, "xl");
  f.write(xl, "/vm/name", "old");
  const uint64_t first = f.engine().head();
  f.write(xl, "/vm/name", "new");
  const uint64_t second = f.engine().head();

  const pb::CommitView v = show(f.db(), second);
  CHECK(v.seq() == second);
  CHECK(v.on_main());
  CHECK(v.summary() == "dom0: write /vm/name = new");
  CHECK(v.author().kind() == pb::CommitAuthor::SOCKET);
  CHECK(v.author().pid() == 812);
  CHECK(v.author().command() == "xl");
  REQUIRE(v.parents_size() == 1);
  CHECK(v.parents(0) == first);
  REQUIRE(v.changes_size() == 1);
  const pb::NodeChange& ch = v.changes(0);
  CHECK(ch.path() == "/vm/name");
  CHECK(ch.kind() == pb::Change::MODIFIED);
  CHECK(ch.before().exists());
  CHECK(ch.before().value() == "old");
  CHECK(ch.before().version() == first);
  CHECK(ch.after().exists());
  CHECK(ch.after().value() == "new");
  CHECK(ch.after().version() == second);
  CHECK(ch.after().perms(0) == "n0");

  // The creation's view: nothing before, and the created parent listed too.
  const pb::CommitView c = show(f.db(), first);
  bool saw_name = false;
  for (const pb::NodeChange& n : c.changes()) {
    if (n.path() != "/vm/name") continue;
    saw_name = true;
    CHECK(n.kind() == pb::Change::CREATED);
    CHECK_FALSE(n.before().exists());
    CHECK(n.before().version() == 0);
    CHECK(n.after().value() == "old");
  }
  CHECK(saw_name);
}

TEST_CASE("a before_version retention pruned reads as unknown, not as an error") {
  EngineFixture f;
  const uint64_t xl = f.admin();
  f.write(xl, "/p", "1");
  const uint64_t first = f.engine().head();
  f.write(xl, "/p", "2");
  const uint64_t second = f.engine().head();
  {
    WriteSet ws(f.db());
    ws.del(Cf::kVersions, keys::version("/p", first));
    ws.commit();
  }
  const pb::CommitView v = show(f.db(), second);
  REQUIRE(v.changes_size() == 1);
  CHECK_FALSE(v.changes(0).before().exists());
  CHECK(v.changes(0).before().version() == 0);
  CHECK(v.changes(0).after().value() == "2");
}

TEST_CASE("a transaction's branch commit shows its changes against its base, netted") {
  EngineFixture f;
  const uint64_t a = f.admin();
  f.write(a, "/h", "0");
  const uint32_t t = f.start(a);
  f.write(a, "/h", "1", t);
  f.write(a, "/h", "2", t);
  f.write(a, "/h/tmp", "x", t);
  f.ok(a, MsgType::kRm, args({"/h/tmp"}), t);
  CHECK(f.commit(a, t) == "");
  const uint64_t merge = f.engine().head();
  const pb::CommitView m = show(f.db(), merge);
  REQUIRE(m.parents_size() == 2);
  const pb::CommitView b = show(f.db(), m.parents(1));
  CHECK_FALSE(b.on_main());
  REQUIRE(b.changes_size() == 1);  // /h/tmp came and went; /h's list of children is no change
  CHECK(b.changes(0).path() == "/h");
  CHECK(b.changes(0).kind() == pb::Change::MODIFIED);
  CHECK(b.changes(0).before().value() == "0");
  CHECK(b.changes(0).after().value() == "2");
  // The merge, on main, the same from versions.
  REQUIRE(m.changes_size() == 1);
  CHECK(m.changes(0).before().value() == "0");
  CHECK(m.changes(0).after().value() == "2");
}

TEST_CASE("a special node's change and a domain's state changes are shown from the record") {
  EngineFixture f;
  const uint64_t admin = f.admin();
  f.set_perms(admin, "@releaseDomain", {"n0", "r7"});
  pb::CommitView v = show(f.db(), f.engine().head());
  REQUIRE(v.changes_size() == 1);
  CHECK(v.changes(0).path() == "@releaseDomain");
  CHECK(v.changes(0).before().perms_size() == 1);
  CHECK(v.changes(0).after().perms_size() == 2);
  CHECK(f.control({"quota", "set", "nodes", "2000"}) == "OK");
  v = show(f.db(), f.engine().head());
  REQUIRE(v.state_size() == 1);
  CHECK(v.state(0).key() == "quota/nodes");
  CHECK(v.state(0).after() == "2000");
}

TEST_CASE("show: HEAD, a number, and NOT_FOUND beyond the last commit or below the horizon") {
  EngineFixture f;
  const uint64_t a = f.admin();
  f.write(a, "/x", "1");
  f.write(a, "/x", "2");
  DbSnapshot snap(f.db());
  pb::ShowRequest req;
  *req.mutable_commit() = head_ref();
  Result<pb::CommitView> head = show_commit(snap, req);
  REQUIRE(head.is_ok());
  CHECK(head->seq() == f.engine().head());
  *req.mutable_commit() = seq_ref(f.engine().head() + 5);
  CHECK(show_commit(snap, req).err() == ENOENT);
  set_horizon(f.db(), f.engine().head());
  DbSnapshot later(f.db());
  *req.mutable_commit() = seq_ref(f.engine().head() - 1);
  CHECK(show_commit(later, req).err() == ENOENT);
  *req.mutable_commit() = seq_ref(f.engine().head());
  CHECK(show_commit(later, req).is_ok());
}

TEST_CASE("log: newest first; by path only the commits below it; limit, domain and bounds") {
  EngineFixture f;
  const uint64_t a = f.admin();
  const uint64_t g7 = f.open_domain(7);
  f.ok(a, MsgType::kMkdir, args({"/local/domain/7"}));
  f.set_perms(a, "/local/domain/7", {"n7"});
  f.write(a, "/a/b", "1");
  const uint64_t c1 = f.engine().head();
  f.write(a, "/a/bc", "sibling");  // a name that starts as /a/b does, not below it
  const uint64_t c2 = f.engine().head();
  f.write(a, "/a/b/c/d", "deep");
  const uint64_t c3 = f.engine().head();
  // A deep node's value changed: no parent gets a version, only the node (key "/a/b/c\0d").
  f.write(a, "/a/b/c/d", "deeper");
  const uint64_t c3b = f.engine().head();
  f.write(a, "/other", "x");
  const uint64_t c4 = f.engine().head();
  f.write(g7, "/local/domain/7/data", "mine");
  const uint64_t c5 = f.engine().head();

  const std::vector<uint64_t> all = log_seqs(f.db(), log_of());
  REQUIRE(all.size() >= 5);
  CHECK(all[0] == c5);
  CHECK(all[1] == c4);
  CHECK(std::is_sorted(all.rbegin(), all.rend()));

  CHECK(log_seqs(f.db(), log_of("/a/b")) == std::vector<uint64_t>{c3b, c3, c1});
  CHECK(log_seqs(f.db(), log_of("/a/b/c/d")) == std::vector<uint64_t>{c3b, c3});
  CHECK(log_seqs(f.db(), log_of("/a")) == std::vector<uint64_t>{c3b, c3, c2, c1});
  CHECK(log_seqs(f.db(), log_of("/nothing")).empty());

  pb::LogRequest limited = log_of("/a");
  limited.set_limit(2);
  CHECK(log_seqs(f.db(), limited) == std::vector<uint64_t>{c3b, c3});

  pb::LogRequest by7 = log_of();
  by7.set_domain(7);
  CHECK(log_seqs(f.db(), by7) == std::vector<uint64_t>{c5});

  pb::LogRequest bounded = log_of();
  *bounded.mutable_since() = seq_ref(c2);
  *bounded.mutable_until() = seq_ref(c4);
  CHECK(log_seqs(f.db(), bounded) == std::vector<uint64_t>{c4, c3b, c3, c2});
  pb::LogRequest bounded_path = log_of("/a");
  *bounded_path.mutable_since() = seq_ref(c2);
  *bounded_path.mutable_until() = seq_ref(c3);
  CHECK(log_seqs(f.db(), bounded_path) == std::vector<uint64_t>{c3, c2});

  // By time: commits at or after the time of c4 (times never go backwards).
  const int64_t t4 = show(f.db(), c4).time_ns();
  pb::LogRequest by_time = log_of();
  by_time.mutable_since()->set_time_ns(t4);
  const std::vector<uint64_t> since_t4 = log_seqs(f.db(), by_time);
  REQUIRE_FALSE(since_t4.empty());
  CHECK(since_t4[0] == c5);
  CHECK(std::find(since_t4.begin(), since_t4.end(), c4) != since_t4.end());
  for (uint64_t seq : since_t4) CHECK(show(f.db(), seq).time_ns() >= t4);
  pb::LogRequest until_time = log_of();
  until_time.mutable_until()->set_time_ns(show(f.db(), c2).time_ns());
  const std::vector<uint64_t> until_t2 = log_seqs(f.db(), until_time);
  REQUIRE_FALSE(until_t2.empty());
  for (uint64_t seq : until_t2) CHECK(show(f.db(), seq).time_ns() <= show(f.db(), c2).time_ns());
  CHECK(std::find(until_t2.begin(), until_t2.end(), c2) != until_t2.end());

  // A time between two commits' times bounds the log as the commits around it would.
  const int64_t t3 = show(f.db(), c3).time_ns();
  if (t3 > show(f.db(), c2).time_ns() && t4 > show(f.db(), c3b).time_ns()) {
    pb::LogRequest between = log_of();
    between.mutable_since()->set_time_ns(t3 - 1);
    between.mutable_until()->set_time_ns(t4 - 1);
    CHECK(log_seqs(f.db(), between) == std::vector<uint64_t>{c3b, c3});
  }
  pb::LogRequest none = log_of();
  none.mutable_since()->set_time_ns(show(f.db(), c5).time_ns() + 1);
  CHECK(log_seqs(f.db(), none).empty());
  pb::LogRequest before_all = log_of("/a");
  before_all.mutable_until()->set_time_ns(1);
  CHECK(log_seqs(f.db(), before_all).empty());

  // The horizon hides what is below it.
  set_horizon(f.db(), c3);
  CHECK(log_seqs(f.db(), log_of("/a")) == std::vector<uint64_t>{c3b, c3});

  DbSnapshot snap(f.db());
  CHECK(log_commits(snap, log_of("not/a/path"), [](pb::CommitView&&) { return true; }).err() ==
        EINVAL);
}

TEST_CASE("log: branches come after their merge; a sink that stops ends the stream") {
  EngineFixture f;
  const uint64_t a = f.admin();
  const uint32_t t = f.start(a);
  f.write(a, "/t/x", "1", t);
  CHECK(f.commit(a, t) == "");
  const uint64_t merge = f.engine().head();
  const uint64_t branch = show(f.db(), merge).parents(1);
  f.write(a, "/u", "1");
  const uint64_t after = f.engine().head();

  pb::LogRequest main_only = log_of("/t");
  CHECK(log_seqs(f.db(), main_only) == std::vector<uint64_t>{merge});
  pb::LogRequest with_branches = log_of("/t");
  with_branches.set_include_branches(true);
  CHECK(log_seqs(f.db(), with_branches) == std::vector<uint64_t>{merge, branch});
  pb::LogRequest walk = log_of();
  walk.set_include_branches(true);
  const std::vector<uint64_t> all = log_seqs(f.db(), walk);
  REQUIRE(all.size() >= 3);
  CHECK(all[0] == after);
  CHECK(all[1] == merge);
  CHECK(all[2] == branch);

  DbSnapshot snap(f.db());
  int calls = 0;
  Result<LogOutcome> out = log_commits(snap, log_of(), [&](pb::CommitView&&) {
    ++calls;
    return false;
  });
  REQUIRE(out.is_ok());
  CHECK(calls == 1);
}

TEST_CASE("export and commits_between: oldest first, with changes, after a commit") {
  EngineFixture f;
  const uint64_t a = f.admin();
  f.write(a, "/e", "1");
  const uint64_t c1 = f.engine().head();
  f.write(a, "/e", "2");
  const uint64_t c2 = f.engine().head();
  DbSnapshot snap(f.db());
  std::vector<pb::CommitView> got;
  pb::ExportRequest req;
  req.set_after(c1 - 1);
  REQUIRE(export_commits(snap, req, [&](pb::CommitView&& c) {
            got.push_back(std::move(c));
            return true;
          }).is_ok());
  REQUIRE(got.size() == 2);
  CHECK(got[0].seq() == c1);
  CHECK(got[1].seq() == c2);
  REQUIRE(got[1].changes_size() == 1);
  CHECK(got[1].changes(0).after().value() == "2");

  std::vector<uint64_t> seqs;
  CHECK(commits_between(snap, 0, c1, false, [&](pb::CommitView&& c) {
          CHECK(c.changes_size() == 0);
          seqs.push_back(c.seq());
          return true;
        }) == c1);
  CHECK(seqs.front() == 1);
  CHECK(seqs.back() == c1);
  CHECK(commits_between(snap, c1 - 1, c2, false, [](pb::CommitView&&) { return false; }) == c1 - 1);
}

TEST_CASE("at: a commit before an overwrite reads the old value; ls, dir, perms, ENOENT") {
  EngineFixture f;
  const uint64_t a = f.admin();
  f.write(a, "/vm/name", "old");
  f.write(a, "/vm/id", "7");
  const uint64_t before = f.engine().head();
  f.write(a, "/vm/name", "new");
  f.ok(a, MsgType::kRm, args({"/vm/id"}));
  f.set_perms(a, "/vm/name", {"n0", "r7"});

  pb::AtReply r = at(f.db(), before, pb::AtRequest::READ, "/vm/name");
  CHECK(r.seq() == before);
  CHECK(r.error().empty());
  REQUIRE(r.nodes_size() == 1);
  CHECK(r.nodes(0).state().value() == "old");
  CHECK(at(f.db(), f.engine().head(), pb::AtRequest::READ, "/vm/name").nodes(0).state().value() ==
        "new");
  CHECK(at(f.db(), f.engine().head(), pb::AtRequest::READ, "/vm/id").error() == "ENOENT");

  r = at(f.db(), before, pb::AtRequest::DIRECTORY, "/vm");
  CHECK(std::vector<std::string>(r.children().begin(), r.children().end()) ==
        std::vector<std::string>{"id", "name"});
  r = at(f.db(), before, pb::AtRequest::LS, "/vm");
  REQUIRE(r.nodes_size() == 3);
  CHECK(r.nodes(0).path() == "/vm");
  CHECK(r.nodes(1).path() == "/vm/id");
  CHECK(r.nodes(2).path() == "/vm/name");
  CHECK_FALSE(r.truncated());
  r = at(f.db(), f.engine().head(), pb::AtRequest::PERMS, "/vm/name");
  REQUIRE(r.nodes_size() == 1);
  CHECK(r.nodes(0).state().perms_size() == 2);
  CHECK(r.nodes(0).state().value().empty());

  DbSnapshot snap(f.db());
  pb::AtRequest bad;
  *bad.mutable_at() = seq_ref(before);
  bad.set_op(pb::AtRequest::READ);
  bad.set_path("vm/name");
  CHECK(read_at(snap, bad).err() == EINVAL);
  bad.set_path("/vm/name");
  *bad.mutable_at() = seq_ref(f.engine().head() + 10);
  CHECK(read_at(snap, bad).err() == ENOENT);
}

TEST_CASE("diff: created, modified, deleted and permission changes between two commits") {
  EngineFixture f;
  const uint64_t a = f.admin();
  f.write(a, "/d/keep", "same");
  f.write(a, "/d/mod", "1");
  f.write(a, "/d/gone", "x");
  f.write(a, "/d/perm", "p");
  f.write(a, "/elsewhere", "1");
  f.write(a, "/d/sub/deep", "1");
  const uint64_t from = f.engine().head();
  f.write(a, "/d/mod", "2");
  f.ok(a, MsgType::kRm, args({"/d/gone"}));
  f.write(a, "/d/new", "n");
  f.set_perms(a, "/d/perm", {"n0", "r3"});
  f.write(a, "/elsewhere", "2");
  f.write(a, "/d/sub/deep", "2");  // only the node gets a version (key "/d/sub\0deep")
  f.write(a, "/d/keep", "changed");
  f.write(a, "/d/keep", "same");  // and back: no difference
  const uint64_t to = f.engine().head();

  DbSnapshot snap(f.db());
  pb::DiffRequest req;
  *req.mutable_from() = seq_ref(from);
  *req.mutable_to() = seq_ref(to);
  req.set_path("/d");
  Result<pb::DiffReply> d = diff_trees(snap, req);
  REQUIRE(d.is_ok());
  std::vector<std::string> lines;
  for (const pb::NodeChange& ch : d->changes())
    lines.push_back(pb::Change::Kind_Name(ch.kind()) + " " + ch.path());
  CHECK(lines == std::vector<std::string>{"DELETED /d/gone", "MODIFIED /d/mod", "CREATED /d/new",
                                          "PERMS /d/perm", "MODIFIED /d/sub/deep"});
  CHECK(d->changes(1).before().value() == "1");
  CHECK(d->changes(1).after().value() == "2");

  req.clear_path();
  d = diff_trees(snap, req);
  REQUIRE(d.is_ok());
  CHECK(d->changes_size() == 6);  // and /elsewhere
  // The other way round, a creation is a removal.
  std::swap(*req.mutable_from(), *req.mutable_to());
  req.set_path("/d/new");
  d = diff_trees(snap, req);
  REQUIRE(d.is_ok());
  REQUIRE(d->changes_size() == 1);
  CHECK(d->changes(0).kind() == pb::Change::DELETED);
}

TEST_CASE("blame: each node below the path names the commit that last changed it") {
  EngineFixture f;
  const uint64_t a = f.admin();
  f.write(a, "/b/x", "1");
  const uint64_t wrote_x = f.engine().head();
  f.write(a, "/b/y", "1");
  f.set_perms(a, "/b/y", {"n0", "r2"});
  const uint64_t perms_y = f.engine().head();
  f.write(a, "/unrelated", "1");

  DbSnapshot snap(f.db());
  pb::BlameRequest req;
  req.set_path("/b");
  Result<pb::BlameReply> r = blame(snap, req);
  REQUIRE(r.is_ok());
  CHECK(r->seq() == f.engine().head());
  REQUIRE(r->lines_size() == 3);
  CHECK(r->lines(1).path() == "/b/x");
  CHECK(r->lines(1).commit().seq() == wrote_x);
  CHECK(r->lines(1).commit().summary() == "dom0: write /b/x = 1");
  CHECK(r->lines(2).path() == "/b/y");
  CHECK(r->lines(2).commit().seq() == perms_y);
  CHECK(r->lines(2).state().perms_size() == 2);

  // As of an earlier commit; and a node absent then is the reply's error.
  *req.mutable_at() = seq_ref(wrote_x);
  r = blame(snap, req);
  REQUIRE(r.is_ok());
  CHECK(r->lines_size() == 2);
  req.set_path("/b/y");
  r = blame(snap, req);
  REQUIRE(r.is_ok());
  CHECK(r->error() == "ENOENT");

  // A commit below the horizon is no longer named.
  set_horizon(f.db(), perms_y);
  DbSnapshot later(f.db());
  req.set_path("/b");
  req.clear_at();
  r = blame(later, req);
  REQUIRE(r.is_ok());
  REQUIRE(r->lines_size() == 3);
  CHECK_FALSE(r->lines(1).has_commit());
  CHECK(r->lines(2).commit().seq() == perms_y);
}

TEST_CASE("the commit feed: the engine publishes each group commit; close wakes waiters") {
  EngineFixture f;
  CommitFeed feed;
  f.engine().set_commit_feed(&feed);
  CHECK(feed.last() == f.engine().head());
  const uint64_t a = f.admin();
  const uint64_t seen = feed.last();
  f.write(a, "/f", "1");
  CHECK(feed.wait_beyond(seen, std::chrono::milliseconds(0)) == f.engine().head());
  feed.publish(1);  // older: ignored
  CHECK(feed.last() == f.engine().head());

  // A waiter is woken by a commit made on another thread, and by close().
  const uint64_t now = feed.last();
  uint64_t woke_at = 0;
  std::thread waiter([&] {
    while (woke_at <= now && !feed.closed()) woke_at = feed.wait_beyond(now, std::chrono::hours(1));
  });
  f.write(a, "/f", "2");
  waiter.join();
  CHECK(woke_at == f.engine().head());
  std::thread closer_waiter([&] { feed.wait_beyond(feed.last(), std::chrono::hours(1)); });
  feed.close();
  closer_waiter.join();
  CHECK(feed.closed());
  f.engine().set_commit_feed(nullptr);
}
