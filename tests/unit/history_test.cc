// CommitLog (the commit DAG, versions of changed nodes) and abbreviate_value, on a real
// RocksDB.
#include "store/history.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proto/records.pb.h"
#include "store_helpers.h"
#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::describe;
using dxs::testing::make_node;
using dxs::testing::TempDb;

namespace {

pb::CommitRecord read_commit(Db& db, uint64_t seq) {
  std::string v;
  REQUIRE_MESSAGE(db.get(Cf::kCommits, keys::commit(seq), &v), "no commit ", seq);
  pb::CommitRecord c;
  REQUIRE(c.ParseFromString(v));
  return c;
}

std::vector<uint64_t> parents(const pb::CommitRecord& c) {
  return std::vector<uint64_t>(c.parents().begin(), c.parents().end());
}

// The version of path recorded at exactly seq, if any.
std::optional<pb::NodeRecord> version_at(Db& db, std::string_view path, uint64_t seq) {
  std::string v;
  if (!db.get(Cf::kVersions, keys::version(path, seq), &v)) return std::nullopt;
  pb::NodeRecord r;
  REQUIRE(r.ParseFromString(v));
  return r;
}

Change created(std::string path, const Node& n, Change::Fire fire = Change::Fire::kSubtree) {
  return Change{std::move(path), Change::Kind::kCreated, fire, std::nullopt, n};
}

CommitInfo info(std::string summary) {
  CommitInfo i;
  i.summary = std::move(summary);
  return i;
}

}  // namespace

TEST_CASE("an empty database has no head; the first commit is 1") {
  TempDb t;
  CommitLog log;
  log.load(t.db());
  CHECK(log.head() == 0);
  CHECK(log.next() == 1);
}

TEST_CASE("commit_main advances head, records parent, info and changes, and survives reopen") {
  TempDb t;
  const Node n = make_node("v", {PermEntry{0, kAccessNone}}, 1);
  {
    WriteSet ws(t.db());
    CommitLog log;
    log.load(t.db());
    CommitInfo i;
    i.author_domid = 7;
    i.conn = 42;
    i.req_id = 9;
    i.tx_id = 3;
    i.summary = "dom7: write /a";
    i.note = "why";
    CHECK(log.commit_main(ws, i, {created("/a", n)}, 1234) == 1);
    CHECK(log.head() == 1);
    CHECK(log.next() == 2);
    CHECK(log.commit_main(ws, info("second"), {}, 1235) == 2);
    CHECK(log.head() == 2);
    CHECK(log.next() == 3);
    ws.commit();
  }
  const pb::CommitRecord c1 = read_commit(t.db(), 1);
  CHECK(c1.parents().empty());
  CHECK(c1.on_main());
  CHECK(c1.author_domid() == 7);
  CHECK(c1.conn() == 42);
  CHECK(c1.req_id() == 9);
  CHECK(c1.tx_id() == 3);
  CHECK(c1.time_ns() == 1234);
  CHECK(c1.summary() == "dom7: write /a");
  CHECK(c1.note() == "why");
  REQUIRE(c1.changes_size() == 1);
  CHECK(c1.changes(0).path() == "/a");
  CHECK(c1.changes(0).kind() == pb::Change::CREATED);
  CHECK_FALSE(c1.changes(0).has_after());  // main's node states are in cf versions
  const pb::CommitRecord c2 = read_commit(t.db(), 2);
  CHECK(parents(c2) == std::vector<uint64_t>{1});
  CHECK(c2.note().empty());

  t.reopen();
  CommitLog log;
  log.load(t.db());
  CHECK(log.head() == 2);
  CHECK(log.next() == 3);
}

TEST_CASE("commit_main writes a version of every changed node, a tombstone for a deletion") {
  TempDb t;
  WriteSet ws(t.db());
  CommitLog log;
  log.load(t.db());
  Node root = make_node("", {PermEntry{0, kAccessNone}}, 1);
  Node a = make_node("va", {PermEntry{0, kAccessRead}}, 1);
  Node b = make_node("vb", {PermEntry{7, kAccessNone}}, 1);
  Node root_after = root;
  root_after.child_count = 1;
  ChangeList changes = {
      Change{"/", Change::Kind::kChildren, Change::Fire::kNone, root, root_after},
      Change{"/a", Change::Kind::kModified, Change::Fire::kSubtree, a, a},
      Change{"/b", Change::Kind::kPerms, Change::Fire::kSubtree, b, b},
      Change{"/c", Change::Kind::kDeleted, Change::Fire::kExact, a, std::nullopt},
      created("/d", a, Change::Fire::kNone),
  };
  const uint64_t seq = log.commit_main(ws, info("mixed"), changes, 1);
  ws.commit();

  // The commit lists what changed, not a parent's new list of children.
  const pb::CommitRecord c = read_commit(t.db(), seq);
  REQUIRE(c.changes_size() == 4);
  CHECK(c.changes(0).path() == "/a");
  CHECK(c.changes(0).kind() == pb::Change::MODIFIED);
  CHECK(c.changes(1).path() == "/b");
  CHECK(c.changes(1).kind() == pb::Change::PERMS);
  CHECK(c.changes(2).path() == "/c");
  CHECK(c.changes(2).kind() == pb::Change::DELETED);
  CHECK(c.changes(3).path() == "/d");
  CHECK(c.changes(3).kind() == pb::Change::CREATED);

  // Every change, the list of children included, is a version of its node.
  auto v_root = version_at(t.db(), "/", seq);
  REQUIRE(v_root.has_value());
  CHECK(describe(node_from_record(*v_root)) == describe(root_after));
  for (const auto& [path, node] : {std::pair{"/a", a}, std::pair{"/b", b}, std::pair{"/d", a}}) {
    CAPTURE(path);
    auto v = version_at(t.db(), path, seq);
    REQUIRE(v.has_value());
    CHECK_FALSE(v->deleted());
    CHECK(describe(node_from_record(*v)) == describe(node));
  }
  auto v_c = version_at(t.db(), "/c", seq);
  REQUIRE(v_c.has_value());
  CHECK(v_c->deleted());
  CHECK(v_c->value().empty());
  CHECK_FALSE(version_at(t.db(), "/a", seq + 1).has_value());
  CHECK_FALSE(version_at(t.db(), "/e", seq).has_value());
}

TEST_CASE("a branch commit does not move head; a merge commit has head and branch as parents") {
  TempDb t;
  const Node n = make_node("x", {PermEntry{0, kAccessNone}}, 1);
  uint64_t base = 0, branch = 0, merge = 0;
  {
    WriteSet ws(t.db());
    CommitLog log;
    log.load(t.db());
    log.commit_main(ws, info("1"), {}, 1);
    base = log.commit_main(ws, info("2"), {}, 2);
    branch = log.commit_branch(ws, info("branch"), base, {created("/t", n)}, 3);
    CHECK(branch == 3);
    CHECK(log.head() == base);
    CHECK(log.next() == 4);
    merge = log.commit_main(ws, info("merge"), {created("/t", n)}, 4, branch);
    CHECK(merge == 4);
    CHECK(log.head() == 4);
    // A last branch commit after the merge: load() must still find main's head.
    CHECK(log.commit_branch(ws, info("open"), merge, {}, 5) == 5);
    ws.commit();
  }
  const pb::CommitRecord b = read_commit(t.db(), branch);
  CHECK_FALSE(b.on_main());
  CHECK(parents(b) == std::vector<uint64_t>{base});
  REQUIRE(b.changes_size() == 1);
  // A branch holds its changes whole (it has no versions of its own).
  REQUIRE(b.changes(0).has_after());
  CHECK(b.changes(0).after().value() == "x");
  CHECK_FALSE(version_at(t.db(), "/t", branch).has_value());

  const pb::CommitRecord m = read_commit(t.db(), merge);
  CHECK(m.on_main());
  CHECK(parents(m) == std::vector<uint64_t>{base, branch});
  CHECK(version_at(t.db(), "/t", merge).has_value());

  t.reopen();
  CommitLog log;
  log.load(t.db());
  CHECK(log.head() == merge);
  CHECK(log.next() == 6);
}

TEST_CASE("abbreviate_value: short printable values as they are, long ones cut, bytes escaped") {
  CHECK(abbreviate_value("") == "");
  CHECK(abbreviate_value("vm7") == "vm7");
  CHECK(abbreviate_value(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(abbreviate_value("back\\slash") == "back\\x5cslash");
  CHECK(abbreviate_value("tab\there\n") == "tab\\x09here\\x0a");
  CHECK(abbreviate_value("\x7f\xff ~") == "\\x7f\\xff ~");
  const std::string s48(48, 'x');
  CHECK(abbreviate_value(s48) == s48);
  CHECK(abbreviate_value(s48 + "y") == s48 + "... (49 bytes)");
  CHECK(abbreviate_value(std::string(4096, 'z')) == std::string(48, 'z') + "... (4096 bytes)");
  // The cut counts input bytes, an escaped byte as one.
  CHECK(abbreviate_value(std::string(49, '\n')) == [] {
    std::string e;
    for (int i = 0; i < 48; ++i) e += "\\x0a";
    return e + "... (49 bytes)";
  }());
}
