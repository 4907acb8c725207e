// CommitLog (the commit DAG, versions of changed nodes) and abbreviate_value, on a real
// RocksDB; and the commits the engine makes, read back: summaries, authors, change sets.
#include "store/history.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/wire.h"
#include "engine_fixture.h"
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
    i.author.set_kind(pb::CommitAuthor::RING);
    i.author.set_domid(7);
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
  CHECK(c1.author().kind() == pb::CommitAuthor::RING);
  CHECK(c1.author().domid() == 7);
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

TEST_CASE("commit times never go backwards, on main and branches, across a reopen") {
  TempDb t;
  {
    WriteSet ws(t.db());
    CommitLog log;
    log.load(t.db());
    log.commit_main(ws, info("1"), {}, 100);
    log.commit_main(ws, info("2"), {}, 90);  // the clock stepped back
    log.commit_branch(ws, info("3"), 2, {}, 95);
    log.commit_main(ws, info("4"), {}, 120);
    log.commit_branch(ws, info("5"), 4, {}, 110);
    ws.commit();
  }
  CHECK(read_commit(t.db(), 1).time_ns() == 100);
  CHECK(read_commit(t.db(), 2).time_ns() == 100);
  CHECK(read_commit(t.db(), 3).time_ns() == 100);
  CHECK(read_commit(t.db(), 4).time_ns() == 120);
  CHECK(read_commit(t.db(), 5).time_ns() == 120);  // the last commit is a branch's

  t.reopen();
  WriteSet ws(t.db());
  CommitLog log;
  log.load(t.db());
  CHECK(log.commit_main(ws, info("6"), {}, 7) == 6);
  CHECK(log.commit_main(ws, info("7"), {}, 130) == 7);
  ws.commit();
  CHECK(read_commit(t.db(), 6).time_ns() == 120);
  CHECK(read_commit(t.db(), 7).time_ns() == 130);
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

// The commits the engine makes, read back from cf commits: their summaries, authors and
// change sets (docs/design.md, "History").
namespace {

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;

pb::CommitRecord head_commit(EngineFixture& f) {
  return read_commit(f.db(), f.engine().head());
}

// "KIND path" per change, sorted.
Strings changes_of(const pb::CommitRecord& c) {
  Strings out;
  for (const pb::Change& ch : c.changes())
    out.push_back(pb::Change::Kind_Name(ch.kind()) + " " + ch.path());
  std::sort(out.begin(), out.end());
  return out;
}

// "key: before -> after" per state change, "-" where unset, in the commit's order.
Strings state_of(const pb::CommitRecord& c) {
  Strings out;
  for (const pb::StateChange& sc : c.state()) {
    out.push_back(sc.key() + ": " + (sc.has_before() ? sc.before() : "-") + " -> " +
                  (sc.has_after() ? sc.after() : "-"));
  }
  return out;
}

std::string perms_of(const pb::NodeRecord& r) {
  return format_perms(perms_from_packed(r.perms()));
}

}  // namespace

TEST_CASE("a request's commit names its author in its own record and references versions") {
  EngineFixture f;
  const uint64_t xl = f.open_socket(4242, 0, "xl");
  const std::string name = "/local/domain/7/name";
  f.write(xl, name, "vm7");
  const uint64_t first = f.engine().head();
  pb::CommitRecord c = head_commit(f);
  CHECK(c.on_main());
  CHECK(c.summary() == "dom0: write /local/domain/7/name = vm7");
  CHECK(c.author().kind() == pb::CommitAuthor::SOCKET);
  CHECK(c.author().domid() == 0);
  CHECK(c.author().pid() == 4242);
  CHECK(c.author().uid() == 0);
  CHECK(c.author().command() == "xl");
  CHECK(c.conn() == xl);
  CHECK(c.tx_id() == 0);
  CHECK(c.time_ns() > 0);
  // The missing ancestors were created too; none existed before.
  CHECK(changes_of(c) == Strings{"CREATED /local", "CREATED /local/domain",
                                 "CREATED /local/domain/7", "CREATED /local/domain/7/name"});
  for (const pb::Change& ch : c.changes()) {
    CHECK(ch.before_version() == 0);
    CHECK_FALSE(ch.has_after());  // in cf versions
  }
  REQUIRE(version_at(f.db(), name, first));
  CHECK(version_at(f.db(), name, first)->value() == "vm7");

  // A long value: cut in the summary, whole in the version; the change starts from the
  // version of the commit before.
  const std::string long_value(300, 'x');
  f.write(xl, name, long_value);
  c = head_commit(f);
  CHECK(c.summary() == "dom0: write /local/domain/7/name = " + abbreviate_value(long_value));
  CHECK(c.summary().size() < 100);
  REQUIRE(c.changes_size() == 1);
  CHECK(c.changes(0).path() == name);
  CHECK(c.changes(0).kind() == pb::Change::MODIFIED);
  CHECK(c.changes(0).before_version() == first);
  REQUIRE(version_at(f.db(), name, c.changes(0).before_version()));
  CHECK(version_at(f.db(), name, c.changes(0).before_version())->value() == "vm7");
  CHECK(version_at(f.db(), name, f.engine().head())->value() == long_value);

  // Permissions: before and after from the versions.
  const uint64_t admin = f.admin();
  f.set_perms(admin, "/local/domain/7", {"n0", "r7"});
  c = head_commit(f);
  CHECK(c.summary() == "dom0: setperms /local/domain/7 = n0 r7");
  CHECK(changes_of(c) == Strings{"PERMS /local/domain/7"});
  CHECK(c.changes(0).before_version() == first);
  CHECK(perms_of(*version_at(f.db(), "/local/domain/7", first)) == "n0");
  CHECK(perms_of(*version_at(f.db(), "/local/domain/7", f.engine().head())) == "n0 r7");
  CHECK(c.author().pid() == -1);  // the fixture's admin: credentials unknown

  // A guest's rm, on its ring.
  const std::string vif = "/local/domain/7/device/vif/0";
  f.ok(admin, MsgType::kMkdir, args({vif}));
  for (const char* p : {"/local/domain/7/device", "/local/domain/7/device/vif", vif.c_str()})
    f.set_perms(admin, p, {"n7"});
  const uint64_t vif_version = f.engine().head();
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kRm, args({vif}));
  c = head_commit(f);
  CHECK(c.summary() == "dom7: rm /local/domain/7/device/vif/0");
  CHECK(c.author().kind() == pb::CommitAuthor::RING);
  CHECK(c.author().domid() == 7);
  CHECK(c.author().pid() == 0);
  CHECK(c.author().command().empty());
  CHECK(changes_of(c) == Strings{"DELETED /local/domain/7/device/vif/0"});
  CHECK(c.changes(0).before_version() == vif_version);
  CHECK(version_at(f.db(), vif, f.engine().head())->deleted());

  // The author is the commit's own: it outlives the connection's record.
  f.close(xl);
  f.restart();
  const pb::CommitRecord again = read_commit(f.db(), first);
  CHECK(again.author().pid() == 4242);
  CHECK(again.author().command() == "xl");
}

TEST_CASE("a merge commit lists each node once, from its state on main before the merge") {
  EngineFixture f;
  const uint64_t a = f.open_socket(77, 0, "xl");
  f.write(a, "/h", "0");
  const uint64_t h_version = f.engine().head();
  const uint32_t t = f.start(a);
  f.write(a, "/h", "1", t);
  f.write(a, "/h", "2", t);
  f.write(a, "/h/tmp", "x", t);
  f.ok(a, MsgType::kRm, args({"/h/tmp"}), t);
  CHECK(f.commit(a, t) == "");
  const pb::CommitRecord m = head_commit(f);
  CHECK(m.summary() == "dom0: merge transaction " + std::to_string(t) + " (4 writes)");
  CHECK(m.tx_id() == t);
  CHECK(m.author().kind() == pb::CommitAuthor::SOCKET);
  CHECK(m.author().pid() == 77);
  CHECK(m.author().command() == "xl");
  // /h/tmp was in no state of main.
  CHECK(changes_of(m) == Strings{"MODIFIED /h"});
  CHECK(m.changes(0).before_version() == h_version);
  CHECK(version_at(f.db(), "/h", f.engine().head())->value() == "2");
  CHECK_FALSE(version_at(f.db(), "/h/tmp", f.engine().head()));
}

TEST_CASE("SET_PERMS of a special node is a commit holding both states") {
  EngineFixture f;
  const uint64_t admin = f.admin();
  const uint64_t head = f.engine().head();
  f.set_perms(admin, "@releaseDomain", {"n0", "r7"});
  CHECK(f.engine().head() == head + 1);
  const pb::CommitRecord c = head_commit(f);
  CHECK(c.summary() == "dom0: setperms @releaseDomain = n0 r7");
  CHECK(c.author().kind() == pb::CommitAuthor::SOCKET);
  REQUIRE(c.changes_size() == 1);
  CHECK(c.changes(0).path() == "@releaseDomain");
  CHECK(c.changes(0).kind() == pb::Change::PERMS);
  CHECK(perms_of(c.changes(0).before()) == "n0");
  CHECK(perms_of(c.changes(0).after()) == "n0 r7");

  // Inside a transaction it takes effect at once (no transaction's view holds it): a
  // commit on main, naming the transaction.
  const uint32_t t = f.start(admin);
  const uint64_t before_txn = f.engine().head();
  f.set_perms(admin, "@introduceDomain", {"n0", "r5"}, t);
  CHECK(f.engine().head() == before_txn + 1);
  const pb::CommitRecord in_txn = head_commit(f);
  CHECK(in_txn.on_main());
  CHECK(in_txn.summary() == "dom0: setperms @introduceDomain = n0 r5");
  CHECK(in_txn.tx_id() == t);
  REQUIRE(in_txn.changes_size() == 1);
  CHECK(perms_of(in_txn.changes(0).after()) == "n0 r5");
  CHECK(f.commit(admin, t) == "");
  CHECK(f.engine().head() == before_txn + 1);  // the transaction changed nothing else

  // Refused, it changes nothing and is no commit.
  const uint64_t g7 = f.open_domain(7);
  const uint64_t introduced = f.engine().head();
  CHECK(f.err(g7, MsgType::kSetPerms, args({"@introduceDomain", "n7"})) == "EACCES");
  CHECK(f.engine().head() == introduced);
}

TEST_CASE("control quota set is a commit with the limit before and after") {
  EngineFixture f;
  CHECK(f.control({"quota", "set", "nodes", "2000"}) == "OK");
  pb::CommitRecord c = head_commit(f);
  CHECK(c.summary() == "dom0: set quota nodes = 2000");
  CHECK(c.author().kind() == pb::CommitAuthor::SOCKET);
  REQUIRE(c.state_size() == 1);
  CHECK(c.state(0).key() == "quota/nodes");
  CHECK(c.state(0).has_before());
  CHECK(c.state(0).after() == "2000");
  CHECK(c.changes_size() == 0);

  CHECK(f.control({"quota", "set", "nodes", "3000"}) == "OK");
  CHECK(state_of(head_commit(f)) == Strings{"quota/nodes: 2000 -> 3000"});

  CHECK(f.control({"quota", "set", "watches", "5", "7"}) == "OK");
  c = head_commit(f);
  CHECK(c.summary() == "dom0: set quota watches of domain 7 = 5");
  CHECK(state_of(c) == Strings{"domain/7/quota/watches: - -> 5"});

  // Reading quotas is no commit.
  const uint64_t head = f.engine().head();
  CHECK(f.control({"quota"}).find("Quota settings") == 0);
  CHECK(f.engine().head() == head);
}

TEST_CASE("a domain's life is commits: introduce, set target, resume, shut down, release, gone") {
  EngineFixture f;
  const uint64_t admin = f.admin();
  REQUIRE(f.introduce(7) == "");
  pb::CommitRecord c = head_commit(f);
  CHECK(c.summary() == "dom0: introduce domain 7");
  CHECK(c.author().kind() == pb::CommitAuthor::SOCKET);
  CHECK(state_of(c) ==
        Strings{"domain/7/introduced: - -> yes", "domain/7/ring: - -> gfn 1 port 1"});
  REQUIRE(f.introduce(9) == "");

  f.ok(admin, MsgType::kSetTarget, args({"9", "7"}));
  c = head_commit(f);
  CHECK(c.summary() == "dom0: set the target of domain 9 to 7");
  CHECK(state_of(c) == Strings{"domain/9/target: - -> 7"});

  // RESUME of a domain whose shutdown was not reported changes nothing, and is an event
  // of its life all the same.
  uint64_t head = f.engine().head();
  f.ok(admin, MsgType::kResume, args({"7"}));
  CHECK(f.engine().head() == head + 1);
  c = head_commit(f);
  CHECK(c.summary() == "dom0: resume domain 7");
  CHECK(state_of(c).empty());

  f.domain_states({{7, dxs::pb::DomainState::SHUTDOWN}, {9, dxs::pb::DomainState::RUNNING}});
  c = head_commit(f);
  CHECK(c.summary() == "dxs: domain 7 shut down");
  CHECK(c.author().kind() == pb::CommitAuthor::STORE);
  CHECK(state_of(c) == Strings{"domain/7/shutdown-reported: - -> yes"});
  f.ok(admin, MsgType::kResume, args({"7"}));
  CHECK(state_of(head_commit(f)) == Strings{"domain/7/shutdown-reported: yes -> -"});

  // RELEASE: the domain's settings go, and so does every trace of it in others'.
  f.set_perms(admin, "@releaseDomain", {"n0", "r7"});
  f.ok(admin, MsgType::kRelease, args({"7"}));
  c = head_commit(f);
  CHECK(c.summary() == "dom0: release domain 7");
  CHECK(state_of(c) == Strings{"domain/9/target: 7 -> -", "domain/7/introduced: yes -> -",
                               "domain/7/ring: gfn 1 port 1 -> -"});
  REQUIRE(changes_of(c) == Strings{"PERMS @releaseDomain"});
  CHECK(perms_of(c.changes(0).before()) == "n0 r7");
  CHECK(perms_of(c.changes(0).after()) == "n0");

  // A domain found gone: the store's own commit.
  f.domain_states({});
  c = head_commit(f);
  CHECK(c.summary() == "dxs: domain 9 is gone (no longer exists)");
  CHECK(c.author().kind() == pb::CommitAuthor::STORE);
  CHECK(c.author().domid() == 0);
  CHECK(state_of(c) ==
        Strings{"domain/9/introduced: yes -> -", "domain/9/ring: gfn 1 port 1 -> -"});
}

TEST_CASE("SET_FEATURE's commit holds the features chosen") {
  EngineFixture f;
  f.ok(f.admin(), MsgType::kSetFeature, args({"7", "1"}));
  const pb::CommitRecord c = head_commit(f);
  CHECK(c.summary() == "dom0: set the ring features of domain 7 to 1");
  CHECK(state_of(c) == Strings{"domain/7/features: - -> 1"});
}

TEST_CASE("a request through the Ops API names the Ops API as its author") {
  EngineFixture f;
  pb::Request req;
  req.set_type(dxs::wire::to_u32(MsgType::kWrite));
  req.mutable_write()->set_path("/ops");
  req.mutable_write()->set_value("1");
  pb::Reply reply;
  std::vector<pb::Outbound> out;
  f.engine().ops_request(req, reply, out);
  const pb::CommitRecord c = head_commit(f);
  CHECK(c.summary() == "ops: write /ops = 1");
  CHECK(c.author().kind() == pb::CommitAuthor::OPS);
  CHECK(c.author().domid() == 0);
  CHECK(c.author().pid() == 0);
}

TEST_CASE("a release lists a node it scrubs and then removes once, as deleted") {
  EngineFixture f;
  const uint64_t admin = f.admin();
  REQUIRE(f.introduce(7) == "");
  f.ok(admin, MsgType::kMkdir, args({"/local/domain/7/data/x"}));
  f.set_perms(admin, "/local/domain/7/data", {"n7"});
  // Not the domain's own, but naming it: scrubbed, then removed with its parent.
  f.set_perms(admin, "/local/domain/7/data/x", {"n0", "r7"});
  const uint64_t x_version = f.engine().head();
  f.ok(admin, MsgType::kRelease, args({"7"}));
  const pb::CommitRecord c = head_commit(f);
  CHECK(c.summary() == "dom0: release domain 7");
  CHECK(changes_of(c) == Strings{"DELETED /local/domain/7/data", "DELETED /local/domain/7/data/x"});
  for (const pb::Change& ch : c.changes()) {
    if (ch.path() == "/local/domain/7/data/x") CHECK(ch.before_version() == x_version);
  }
  CHECK(version_at(f.db(), "/local/domain/7/data/x", f.engine().head())->deleted());
}
