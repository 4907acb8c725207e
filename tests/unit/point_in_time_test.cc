// store/point_in_time: resolving commit references (by number, head, time; the
// retention horizon), the trees of main and branch commits, node states, bounded walks.
#include "store/point_in_time.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/wire.h"
#include "engine_fixture.h"
#include "store/history.h"
#include "store_helpers.h"
#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::args;
using dxs::testing::CommittedTree;
using dxs::testing::EngineFixture;
using dxs::testing::TempDb;
using wire::MsgType;
using Names = std::vector<std::string>;

namespace {

pb::CommitRef seq_ref(uint64_t seq) {
  pb::CommitRef r;
  r.set_seq(seq);
  return r;
}

pb::CommitRef time_ref(int64_t t) {
  pb::CommitRef r;
  r.set_time_ns(t);
  return r;
}

CommitInfo info(const char* summary) {
  CommitInfo i;
  i.summary = summary;
  return i;
}

std::string value_at(StateReader& state, uint64_t seq, std::string_view p) {
  auto tree = tree_at(state, seq);
  REQUIRE(tree.is_ok());
  Result<pb::NodeState> n = read_node(**tree, p);
  return n.is_ok() ? n->value() : std::string("<absent>");
}

}  // namespace

TEST_CASE("resolve_commit: numbers, head, times; ENOENT outside history, EINVAL unset") {
  TempDb t;
  WriteSet ws(t.db());
  CommitLog log;
  log.load(t.db());
  log.commit_main(ws, info("1"), {}, 100);
  log.commit_main(ws, info("2"), {}, 200);
  log.commit_branch(ws, info("3"), 2, {}, 300);
  log.commit_main(ws, info("4"), {}, 300, 3);
  log.commit_main(ws, info("5"), {}, 300);
  log.commit_branch(ws, info("6"), 5, {}, 400);  // a transaction's branch, never merged
  ws.commit();

  DbSnapshot snap(t.db());
  CHECK(last_commit(snap) == 6);
  CHECK(main_head(snap) == 5);
  pb::CommitRef head;
  head.set_head(true);
  CHECK(resolve_commit(snap, head).value() == 5);
  CHECK(resolve_commit(snap, seq_ref(3)).value() == 3);
  CHECK(resolve_commit(snap, seq_ref(0)).err() == ENOENT);
  CHECK(resolve_commit(snap, seq_ref(7)).err() == ENOENT);
  CHECK(resolve_commit(snap, pb::CommitRef()).err() == EINVAL);

  CHECK(resolve_commit(snap, time_ref(99)).err() == ENOENT);
  CHECK(resolve_commit(snap, time_ref(100)).value() == 1);
  CHECK(resolve_commit(snap, time_ref(250)).value() == 2);
  // Three commits at 300: the last on main of them.
  CHECK(resolve_commit(snap, time_ref(300)).value() == 5);
  // After the last commit, a branch's: main's commit before it.
  CHECK(resolve_commit(snap, time_ref(1000)).value() == 5);

  // Retention: commits before the horizon are gone from history.
  rocksdb::WriteBatch batch;
  batch.Put(t.db().cf(Cf::kMeta), std::string(meta::kHistoryHorizon), keys::be64(3));
  t.db().write(&batch);
  DbSnapshot pruned(t.db());
  CHECK(history_horizon(pruned) == 3);
  CHECK(resolve_commit(pruned, seq_ref(2)).err() == ENOENT);
  CHECK(read_commit(pruned, 2).err() == ENOENT);
  CHECK(tree_at(pruned, 2).err() == ENOENT);
  CHECK(resolve_commit(pruned, seq_ref(3)).value() == 3);
  // The last commit on main by 250 is before the horizon; by 300, 3 is a branch's.
  CHECK(resolve_commit(pruned, time_ref(250)).err() == ENOENT);
  CHECK(resolve_commit(pruned, time_ref(300)).value() == 5);
}

TEST_CASE("a branch commit's tree: its base, with its changes; main's later commits not") {
  EngineFixture f;
  const uint64_t a = f.open_socket();
  const uint64_t b = f.open_socket();
  f.write(a, "/t/keep", "k");
  f.write(a, "/t/gone/deep", "g");
  f.write(a, "/t/mod", "old");
  const uint32_t tx = f.start(a);
  f.write(b, "/t/main-only", "m");  // on main after the transaction's base
  f.write(a, "/t/mod", "new", tx);
  f.write(a, "/t/new/leaf", "n", tx);
  f.ok(a, MsgType::kRm, args({"/t/gone"}), tx);
  f.set_perms(a, "/t/keep", {"n0", "r3"}, tx);
  REQUIRE(f.commit(a, tx) == "");

  DbSnapshot snap(f.db());
  const uint64_t merge = main_head(snap);
  const uint64_t branch = merge - 1;
  const pb::CommitRecord c = read_commit(snap, branch).value();
  REQUIRE_FALSE(c.on_main());
  auto tree = tree_at(snap, branch);
  REQUIRE(tree.is_ok());
  CHECK(list_children(**tree, "/t").value() == Names{"keep", "mod", "new"});
  CHECK(list_children(**tree, "/t/new").value() == Names{"leaf"});
  CHECK(list_children(**tree, "/t/gone").err() == ENOENT);
  CHECK(read_node(**tree, "/t/gone/deep").err() == ENOENT);
  CHECK(read_node(**tree, "/t/main-only").err() == ENOENT);
  const pb::NodeState mod = read_node(**tree, "/t/mod").value();
  CHECK(mod.value() == "new");
  CHECK(mod.version() == branch);  // the branch wrote it: no transaction's stamp shows
  const pb::NodeState keep = read_node(**tree, "/t/keep").value();
  CHECK(keep.value() == "k");
  CHECK(std::vector<std::string>(keep.perms().begin(), keep.perms().end()) == Names{"n0", "r3"});

  // The merge's tree is main's: both.
  auto merged = tree_at(snap, merge);
  REQUIRE(merged.is_ok());
  CHECK(list_children(**merged, "/t").value() == Names{"keep", "main-only", "mod", "new"});
  CHECK(value_at(snap, merge, "/t/mod") == "new");
  CHECK(value_at(snap, c.parents(0), "/t/mod") == "old");
}

TEST_CASE("walk_subtree: depth first in name order, stops at its limit, ENOENT if absent") {
  TempDb t;
  CommittedTree tree(t.db());
  tree.write("/a/x", "1");
  tree.write("/a-b", "2");
  tree.write("/a/y/z", "3");
  const uint64_t seq = tree.write("/b", "4");
  tree.remove("/a");

  DbSnapshot snap(t.db());
  auto at = tree_at(snap, seq);
  REQUIRE(at.is_ok());
  std::vector<std::string> seen;
  auto collect = [&](const std::string& p, const Node&) { seen.push_back(p); };
  WalkResult all = walk_subtree(**at, "/", 100, collect).value();
  CHECK(seen == Names{"/", "/a", "/a/x", "/a/y", "/a/y/z", "/a-b", "/b"});
  CHECK(all.visited == 7);
  CHECK_FALSE(all.truncated);

  seen.clear();
  WalkResult some = walk_subtree(**at, "/a", 3, collect).value();
  CHECK(seen == Names{"/a", "/a/x", "/a/y"});
  CHECK(some.visited == 3);
  CHECK(some.truncated);
  seen.clear();
  CHECK(walk_subtree(**at, "/a", 4, collect).value().truncated == false);
  CHECK(walk_subtree(**at, "/a", 0, collect).value().truncated);
  CHECK(walk_subtree(**at, "/nope", 10, collect).err() == ENOENT);

  // At the head, /a is gone.
  auto now = tree_at(snap, main_head(snap));
  REQUIRE(now.is_ok());
  CHECK(walk_subtree(**now, "/a", 10, collect).err() == ENOENT);
}

TEST_CASE("node_state: an existing node, a tombstone, a redacted version") {
  Node n = dxs::testing::make_node("v", {PermEntry{0, kAccessNone}, PermEntry{7, kAccessRead}}, 4);
  n.children_modified = 6;
  const pb::NodeState s = node_state(n);
  CHECK(s.exists());
  CHECK(s.value() == "v");
  CHECK(std::vector<std::string>(s.perms().begin(), s.perms().end()) == Names{"n0", "r7"});
  CHECK(s.version() == 6);

  pb::NodeRecord tombstone;
  tombstone.set_deleted(true);
  const pb::NodeState gone = node_state(tombstone, 9);
  CHECK_FALSE(gone.exists());
  CHECK(gone.version() == 0);

  pb::NodeRecord redacted;
  redacted.set_redacted(true);
  redacted.set_value_digest("digest");
  redacted.add_perms((3u << 2) | 3u);
  const pb::NodeState hidden = node_state(redacted, 9);
  CHECK(hidden.exists());
  CHECK(hidden.redacted());
  CHECK(hidden.value().empty());
  CHECK(hidden.value_digest() == "digest");
  CHECK(std::vector<std::string>(hidden.perms().begin(), hidden.perms().end()) == Names{"b3"});
  CHECK(hidden.version() == 9);
}
