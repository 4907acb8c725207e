// Tree: the Xenstore node operations (reference 3.1-3.2) with permissions and quotas, on
// MainNodes over a real RocksDB, with a counting Accounting.
#include "store/tree.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <deque>
#include <string>
#include <vector>

#include "store_helpers.h"
#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::describe;
using dxs::testing::make_node;
using dxs::testing::TempDb;
using dxs::testing::TestAccounting;

namespace {

Caller guest(uint32_t domid) {
  Caller c;
  c.domid = domid;
  c.privileged = false;
  return c;
}
const Caller kDom0;

Perms P(std::initializer_list<PermEntry> entries) {
  return Perms(entries);
}
constexpr uint8_t N = kAccessNone, R = kAccessRead, W = kAccessWrite, B = kAccessBoth;

// A tree whose root "/" is owned by dom0 with "n0", and Trees on MainNodes with any stamp.
struct Fixture {
  Fixture() : ws(t.db()) { views.emplace_back(ws, 1).put("/", make_node("", P({{0, N}}), 1)); }

  Tree at(uint64_t stamp) {
    views.emplace_back(ws, stamp);
    return Tree(views.back(), acct);
  }
  std::optional<Node> get(std::string_view p) { return MainNodes(ws, 0).get(p); }
  // Every node as "path [perms] value children=n/bytes" lines, depth first.
  std::string dump() {
    MainNodes main(ws, 0);
    std::string out;
    std::vector<std::string> stack{"/"};
    while (!stack.empty()) {
      std::string p = stack.back();
      stack.pop_back();
      std::optional<Node> n = main.get(p);
      REQUIRE(n.has_value());
      out += p + " " + describe(*n) + "\n";
      std::vector<std::string> names = main.children(p);
      for (auto it = names.rbegin(); it != names.rend(); ++it) {
        stack.push_back(p == "/" ? "/" + *it : p + "/" + *it);
      }
    }
    return out;
  }
  // Sets up a node as dom0 (stamp 2), outside of what a test looks at.
  void setup(const std::string& p, std::string_view value, const Perms& perms) {
    Tree tree = at(2);
    ChangeList ignored;
    REQUIRE(tree.write(p, value, kDom0, ignored).is_ok());
    REQUIRE(tree.set_perms(p, perms, kDom0, ignored).is_ok());
  }

  TempDb t;
  WriteSet ws;
  std::deque<MainNodes> views;
  TestAccounting acct;
  ChangeList changes;
};

std::vector<std::string> summary(const ChangeList& changes) {
  std::vector<std::string> out;
  for (const Change& c : changes) {
    const char* kind = "";
    switch (c.kind) {
      case Change::Kind::kCreated:
        kind = "created";
        break;
      case Change::Kind::kModified:
        kind = "modified";
        break;
      case Change::Kind::kPerms:
        kind = "perms";
        break;
      case Change::Kind::kDeleted:
        kind = "deleted";
        break;
      case Change::Kind::kChildren:
        kind = "children";
        break;
    }
    const char* fire = c.fire == Change::Fire::kSubtree ? "subtree"
                       : c.fire == Change::Fire::kExact ? "exact"
                                                        : "none";
    out.push_back(fmt::format("{} {} {}", kind, c.path, fire));
  }
  return out;
}

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("write creates the missing ancestors, deepest last, with the ancestor's permissions") {
  Fixture f;
  Tree tree = f.at(5);
  REQUIRE(tree.write("/a/b/c", "v", kDom0, f.changes).is_ok());
  CHECK(summary(f.changes) ==
        Lines{"children / none", "created /a none", "created /a/b none", "created /a/b/c subtree"});
  // The root's list of children grew by "a".
  REQUIRE(f.changes[0].before.has_value());
  REQUIRE(f.changes[0].after.has_value());
  CHECK(f.changes[0].before->child_count == 0);
  CHECK(f.changes[0].after->child_count == 1);
  CHECK(f.changes[0].after->children_bytes == 2);
  CHECK(f.changes[0].after->children_modified == 5);
  for (size_t i = 1; i < 4; ++i) {
    CAPTURE(f.changes[i].path);
    CHECK_FALSE(f.changes[i].before.has_value());
    REQUIRE(f.changes[i].after.has_value());
    CHECK(describe(f.get(f.changes[i].path)) == describe(f.changes[i].after));
  }
  const Node a = *f.get("/a");
  CHECK(a.value == "");
  CHECK(a.perms == P({{0, N}}));  // a privileged creator keeps the parent's owner
  CHECK(a.child_count == 1);
  CHECK(a.children_bytes == 2);
  CHECK(a.created == 5);
  CHECK(a.modified == 5);
  const Node c = *f.get("/a/b/c");
  CHECK(c.value == "v");
  CHECK(c.child_count == 0);
  CHECK(c.perms == P({{0, N}}));
  CHECK(f.acct.nodes[0] == 3);
}

TEST_CASE("an unprivileged creator owns what it creates and inherits the rest of the list") {
  Fixture f;
  f.setup("/home", "", P({{0, N}, {7, B}, {8, R}}));
  Tree tree = f.at(5);
  REQUIRE(tree.write("/home/x/y", "v", guest(7), f.changes).is_ok());
  CHECK(f.get("/home/x")->perms == P({{7, N}, {7, B}, {8, R}}));
  CHECK(f.get("/home/x/y")->perms == P({{7, N}, {7, B}, {8, R}}));
  CHECK(f.acct.nodes[7] == 2);

  // A privileged creator keeps the ancestor's owner.
  f.changes.clear();
  REQUIRE(tree.write("/home/p", "", kDom0, f.changes).is_ok());
  CHECK(f.get("/home/p")->perms == P({{0, N}, {7, B}, {8, R}}));

  // Creating needs write on the closest existing ancestor.
  f.changes.clear();
  const std::string before = f.dump();
  CHECK(tree.write("/home/z", "v", guest(8), f.changes).err() == EACCES);
  CHECK(tree.mkdir("/home/z", guest(9), f.changes).err() == EACCES);
  CHECK(f.changes.empty());
  CHECK(f.dump() == before);
}

TEST_CASE("writing an existing node changes its value and stamp only") {
  Fixture f;
  Tree t5 = f.at(5);
  REQUIRE(t5.write("/a", "1", kDom0, f.changes).is_ok());
  f.changes.clear();
  Tree t6 = f.at(6);
  REQUIRE(t6.write("/a", "2", kDom0, f.changes).is_ok());
  CHECK(summary(f.changes) == Lines{"modified /a subtree"});
  REQUIRE(f.changes[0].before.has_value());
  CHECK(f.changes[0].before->value == "1");
  CHECK(f.changes[0].after->value == "2");
  const Node a = *f.get("/a");
  CHECK(a.value == "2");
  CHECK(a.modified == 6);
  CHECK(a.created == 5);
  CHECK(a.perms_modified == 5);
  CHECK(f.get("/")->children_modified == 5);
  CHECK(f.acct.nodes[0] == 1);
}

TEST_CASE("mkdir creates a missing node and leaves an existing one alone") {
  Fixture f;
  Tree tree = f.at(5);
  REQUIRE(tree.write("/a", "keep", kDom0, f.changes).is_ok());
  f.changes.clear();
  REQUIRE(tree.mkdir("/a", kDom0, f.changes).is_ok());
  CHECK(f.changes.empty());
  CHECK(f.get("/a")->value == "keep");

  REQUIRE(tree.mkdir("/b/c", kDom0, f.changes).is_ok());
  CHECK(summary(f.changes) == Lines{"children / none", "created /b none", "created /b/c subtree"});
  CHECK(f.get("/b/c")->value == "");

  // mkdir of an existing node needs write on it.
  f.changes.clear();
  CHECK(tree.mkdir("/a", guest(7), f.changes).err() == EACCES);
  CHECK(f.changes.empty());
}

TEST_CASE("remove: the subtree children first, then the parent's list; absent cases") {
  Fixture f;
  Tree t3 = f.at(3);
  for (const char* p : {"/r/a/x", "/r/a/y", "/r/b", "/s"}) {
    REQUIRE(t3.write(p, "v", kDom0, f.changes).is_ok());
  }
  REQUIRE(f.acct.nodes[0] == 6);
  f.changes.clear();
  Tree tree = f.at(7);

  // Absent with an existing parent: nothing to do. Absent parent: ENOENT.
  REQUIRE(tree.remove("/r/missing", kDom0, f.changes).is_ok());
  CHECK(f.changes.empty());
  CHECK(tree.remove("/nope/missing", kDom0, f.changes).err() == ENOENT);
  CHECK(tree.remove("/", kDom0, f.changes).err() == EINVAL);
  CHECK(tree.remove("/r", guest(7), f.changes).err() == EACCES);
  CHECK(f.changes.empty());

  REQUIRE(tree.remove("/r", kDom0, f.changes).is_ok());
  CHECK(summary(f.changes) == Lines{"deleted /r/a/x exact", "deleted /r/a/y exact",
                                    "deleted /r/a exact", "deleted /r/b exact",
                                    "deleted /r subtree", "children / none"});
  for (size_t i = 0; i < 5; ++i) {
    CHECK(f.changes[i].before.has_value());
    CHECK_FALSE(f.changes[i].after.has_value());
  }
  for (const char* p : {"/r", "/r/a", "/r/a/x", "/r/b"}) CHECK_FALSE(f.get(p).has_value());
  const Node root = *f.get("/");
  CHECK(root.child_count == 1);
  CHECK(root.children_bytes == 2);  // "s"
  CHECK(root.children_modified == 7);
  CHECK(MainNodes(f.ws, 0).children("/") == std::vector<std::string>{"s"});
  CHECK(f.acct.nodes[0] == 1);
}

TEST_CASE("remove: the children of a node are listed only if its record counts some") {
  Fixture f;
  Tree t3 = f.at(3);
  for (const char* p : {"/d/a", "/d/b", "/d/c", "/d/e/x", "/leaf"}) {
    REQUIRE(t3.write(p, "v", kDom0, f.changes).is_ok());
  }
  f.changes.clear();
  Tree tree = f.at(7);
  // One scan of the database each for /d and /d/e; none for the four leaves.
  uint64_t before = f.ws.op_counts().iterators;
  REQUIRE(tree.remove("/d", kDom0, f.changes).is_ok());
  CHECK(f.ws.op_counts().iterators - before == 2);
  CHECK(f.changes.size() == 7);  // six nodes and the root's list
  before = f.ws.op_counts().iterators;
  REQUIRE(tree.remove("/leaf", kDom0, f.changes).is_ok());
  CHECK(f.ws.op_counts().iterators - before == 0);
  CHECK(MainNodes(f.ws, 0).children("/").empty());
}

TEST_CASE("lookup: ENOENT only if the closest existing ancestor grants a requested right") {
  Fixture f;
  f.setup("/pub", "p", P({{0, R}}));
  f.setup("/priv", "", P({{0, N}}));
  f.setup("/priv/x", "secret", P({{0, N}}));
  f.setup("/w", "", P({{0, W}}));
  Tree tree = f.at(5);
  const Caller g = guest(7);

  auto lookup = tree.lookup("/pub", g, kRightRead);
  REQUIRE(lookup.is_ok());
  CHECK(lookup->value == "p");
  CHECK(tree.lookup("/pub", g, kRightWrite).err() == EACCES);
  CHECK(tree.lookup("/priv", g, kRightRead).err() == EACCES);
  CHECK(tree.lookup("/pub/missing", g, kRightRead).err() == ENOENT);
  CHECK(tree.lookup("/pub/m1/m2", g, kRightRead).err() == ENOENT);
  CHECK(tree.lookup("/pub/missing", g, kRightWrite).err() == EACCES);
  // Under a node it cannot read, a guest cannot tell what exists.
  CHECK(tree.lookup("/priv/x", g, kRightRead).err() == EACCES);
  CHECK(tree.lookup("/priv/missing", g, kRightRead).err() == EACCES);
  // Any one of the requested rights is enough to learn that a node is absent.
  CHECK(tree.lookup("/w/missing", g, kRightWrite | kRightOwner).err() == ENOENT);
  CHECK(tree.lookup("/w", g, kRightWrite | kRightOwner).err() == EACCES);
  // The privileged see everything; the owner's targeter acts as the owner.
  CHECK(tree.lookup("/priv/x", kDom0, kRightsAll).is_ok());
  CHECK(tree.lookup("/priv/missing", kDom0, kRightRead).err() == ENOENT);
  f.setup("/g7", "", P({{7, N}}));
  Caller dm = guest(9);
  dm.target = 7;
  CHECK(tree.lookup("/g7", dm, kRightsAll).is_ok());
  CHECK(tree.lookup("/g7", guest(9), kRightRead).err() == EACCES);
}

TEST_CASE("set_perms needs write and ownership; only the privileged give nodes away") {
  Fixture f;
  f.setup("/home", "", P({{0, N}, {7, W}}));
  Tree t3 = f.at(3);
  REQUIRE(t3.write("/home/g", "v", guest(7), f.changes).is_ok());
  REQUIRE(f.get("/home/g")->owner() == 7);
  REQUIRE(f.acct.nodes[7] == 1);
  f.changes.clear();

  Tree tree = f.at(6);
  REQUIRE(tree.set_perms("/home/g", P({{7, R}, {8, W}}), guest(7), f.changes).is_ok());
  CHECK(summary(f.changes) == Lines{"perms /home/g subtree"});
  CHECK(f.changes[0].before->perms == P({{7, N}, {7, W}}));
  Node g = *f.get("/home/g");
  CHECK(g.perms == P({{7, R}, {8, W}}));
  CHECK(g.perms_modified == 6);
  CHECK(g.modified == 6);
  CHECK(g.value == "v");

  // dom8 may write the node but does not own it.
  f.changes.clear();
  const std::string before = f.dump();
  CHECK(tree.set_perms("/home/g", P({{7, B}}), guest(8), f.changes).err() == EACCES);
  // The owner may not make another domain the owner (XSA-352).
  CHECK(tree.set_perms("/home/g", P({{8, B}}), guest(7), f.changes).err() == EPERM);
  CHECK(tree.set_perms("/home/missing", P({{7, B}}), guest(7), f.changes).err() == ENOENT);
  CHECK(tree.set_perms("/home/missing", P({{7, B}}), guest(9), f.changes).err() == EACCES);
  CHECK(f.changes.empty());
  CHECK(f.dump() == before);
  CHECK(f.acct.nodes[7] == 1);

  // The privileged may, and the node moves to the new owner's count.
  REQUIRE(tree.set_perms("/home/g", P({{8, N}}), kDom0, f.changes).is_ok());
  CHECK(f.get("/home/g")->owner() == 8);
  CHECK(f.acct.nodes[7] == 0);
  CHECK(f.acct.nodes[8] == 1);
}

TEST_CASE("the nodes quota refuses a creation that would exceed it, and changes nothing") {
  Fixture f;
  f.setup("/home", "", P({{0, N}, {7, W}, {8, W}}));
  f.acct.limits.set(QuotaKind::kNodes, 3);
  f.acct.nodes[7] = 2;
  Tree tree = f.at(5);
  const std::string before = f.dump();
  Status s = tree.write("/home/a/b", "v", guest(7), f.changes);  // 2 + 2 > 3
  CHECK(s.err() == ENOSPC);
  CHECK(f.changes.empty());
  CHECK(f.dump() == before);
  CHECK(f.acct.nodes[7] == 2);
  REQUIRE(f.acct.refusals.size() == 1);
  CHECK(f.acct.refusals[0].domid == 7);
  CHECK(f.acct.refusals[0].kind == QuotaKind::kNodes);
  CHECK(f.acct.refusals[0].err == ENOSPC);
  CHECK(f.acct.refusals[0].what.find("/home/a/b") != std::string::npos);

  REQUIRE(tree.write("/home/a", "v", guest(7), f.changes).is_ok());  // 2 + 1 == 3
  CHECK(f.acct.nodes[7] == 3);
  CHECK(tree.mkdir("/home/c", guest(7), f.changes).err() == ENOSPC);
  // Writing an existing node creates nothing; the limit is the caller's own.
  REQUIRE(tree.write("/home/a", "w", guest(7), f.changes).is_ok());
  f.acct.overrides[{8, QuotaKind::kNodes}] = 10;
  f.acct.nodes[8] = 5;
  REQUIRE(tree.write("/home/d", "v", guest(8), f.changes).is_ok());
  // The privileged are exempt.
  f.acct.nodes[0] = 100;
  REQUIRE(tree.write("/x/y/z", "v", kDom0, f.changes).is_ok());
  CHECK(f.acct.refusals.size() == 2);
}

TEST_CASE("the node-size quota counts header, permissions, value and children names") {
  Fixture f;
  f.setup("/home", "", P({{0, N}, {7, W}}));
  f.acct.limits.set(QuotaKind::kNodeSize, 100);
  Tree tree = f.at(5);
  // A guest's node here has 2 permission entries: 24 + 2 * 8 = 40 bytes before its value.
  REQUIRE(tree.write("/home/a", std::string(59, 'v'), guest(7), f.changes).is_ok());  // 99
  const std::string before = f.dump();
  f.changes.clear();
  CHECK(tree.write("/home/b", std::string(60, 'v'), guest(7), f.changes).err() == ENOSPC);
  CHECK(tree.write("/home/a", std::string(60, 'v'), guest(7), f.changes).err() == ENOSPC);
  // The parent's record grows by each child's name: 40 + 2 ("a") + 59 > 100.
  CHECK(tree.write("/home/" + std::string(59, 'n'), "", guest(7), f.changes).err() == ENOSPC);
  // More permission entries make the record bigger too: 24 + 8 * 3 + 59 > 100.
  CHECK(tree.set_perms("/home/a", P({{7, N}, {8, R}, {9, R}}), guest(7), f.changes).err() ==
        ENOSPC);
  CHECK(f.changes.empty());
  CHECK(f.dump() == before);
  REQUIRE(f.acct.refusals.size() == 4);
  for (const auto& r : f.acct.refusals) {
    CHECK(r.kind == QuotaKind::kNodeSize);
    CHECK(r.domid == 7);
  }
  CHECK(f.acct.refusals[2].what.find("/home ") == 0);  // the parent is what grew too big

  // The privileged are exempt.
  REQUIRE(tree.write("/home/a", std::string(500, 'v'), kDom0, f.changes).is_ok());
  CHECK(f.get("/home/a")->value.size() == 500);
}
