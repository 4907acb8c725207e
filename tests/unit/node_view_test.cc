// MainNodes, SnapshotNodes, FrozenNodes and TxnNodes: the views of the tree, on a real
// RocksDB, with commits made by Tree and CommitLog.
#include "store/node_view.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store_helpers.h"
#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::CommittedTree;
using dxs::testing::describe;
using dxs::testing::make_node;
using dxs::testing::TempDb;
using Names = std::vector<std::string>;

TEST_CASE("MainNodes: put and get round-trip every field; erase removes; stamp as given") {
  TempDb t;
  WriteSet ws(t.db());
  MainNodes v(ws, 9);
  CHECK(v.stamp() == 9);
  CHECK_FALSE(v.get("/a").has_value());

  Node n;
  n.value = std::string("x\0y", 3);
  n.perms = {PermEntry{7, kAccessRead}, PermEntry{0, kAccessBoth}};
  n.modified = 3;
  n.perms_modified = 2;
  n.children_modified = 4;
  n.created = 1;
  n.child_count = 2;
  n.children_bytes = 5;
  v.put("/a", n);
  CHECK(describe(v.get("/a")) == describe(n));
  ws.commit();

  // Read back from the database by another write set and view.
  WriteSet ws2(t.db());
  MainNodes v2(ws2, 10);
  CHECK(describe(v2.get("/a")) == describe(n));
  v2.erase("/a");
  CHECK_FALSE(v2.get("/a").has_value());
  CHECK(describe(v.get("/a")) == describe(n));  // not committed yet
  ws2.commit();
  CHECK_FALSE(v.get("/a").has_value());
}

TEST_CASE("MainNodes::children: direct children in byte order, committed and in the batch") {
  TempDb t;
  WriteSet ws(t.db());
  MainNodes v(ws, 1);
  const Perms perms = {PermEntry{0, kAccessNone}};
  for (const char* p : {"/", "/a", "/a/c", "/a/b/x", "/ab"}) v.put(p, make_node("", perms));
  ws.commit();
  for (const char* p : {"/a/b", "/a/B", "/a-b", "/b"}) v.put(p, make_node("", perms));

  CHECK(v.children("/") == Names{"a", "a-b", "ab", "b"});
  CHECK(v.children("/a") == Names{"B", "b", "c"});
  CHECK(v.children("/a/b") == Names{"x"});
  CHECK(v.children("/ab").empty());
  CHECK(v.children("/missing").empty());
  v.erase("/a/c");
  CHECK(v.children("/a") == Names{"B", "b"});
}

namespace {

// Commits 1..6 of a small history (commit 1 is the root):
//   2: write /a = v1     3: write /a = v2     4: write /b = x
//   5: rm /a             6: write /a/new = n (creates /a again)
struct History {
  explicit History(Db& db) : tree(db) {
    c1 = tree.root_commit();
    c2 = tree.write("/a", "v1");
    c3 = tree.write("/a", "v2");
    c4 = tree.write("/b", "x");
    c5 = tree.remove("/a");
    c6 = tree.write("/a/new", "n");
  }
  CommittedTree tree;
  uint64_t c1, c2, c3, c4, c5, c6;
};

std::string value_of(NodeReader& r, std::string_view p) {
  std::optional<Node> n = r.get(p);
  return n ? n->value : std::string("<absent>");
}

}  // namespace

TEST_CASE("SnapshotNodes at a base sees the tree as of that commit") {
  TempDb t;
  History h(t.db());
  REQUIRE(h.c1 == 1);
  REQUIRE(h.c6 == 6);

  SnapshotNodes at1(h.tree.ws(), h.c1);
  CHECK(at1.get("/").has_value());
  CHECK(value_of(at1, "/a") == "<absent>");
  CHECK(at1.children("/").empty());

  SnapshotNodes at2(h.tree.ws(), h.c2);
  CHECK(value_of(at2, "/a") == "v1");
  CHECK(at2.get("/a")->modified == h.c2);
  CHECK(value_of(at2, "/b") == "<absent>");
  CHECK(at2.children("/") == Names{"a"});

  SnapshotNodes at3(h.tree.ws(), h.c3);
  CHECK(value_of(at3, "/a") == "v2");
  CHECK(at3.get("/a")->created == h.c2);
  CHECK(at3.get("/a")->modified == h.c3);
  CHECK(at3.children("/") == Names{"a"});

  SnapshotNodes at4(h.tree.ws(), h.c4);
  CHECK(value_of(at4, "/a") == "v2");
  CHECK(value_of(at4, "/b") == "x");
  CHECK(at4.children("/") == Names{"a", "b"});
  CHECK(at4.children("/a").empty());
  CHECK(value_of(at4, "/a/new") == "<absent>");

  SnapshotNodes at5(h.tree.ws(), h.c5);
  CHECK(value_of(at5, "/a") == "<absent>");
  CHECK(value_of(at5, "/b") == "x");
  CHECK(at5.children("/") == Names{"b"});

  SnapshotNodes at6(h.tree.ws(), h.c6);
  CHECK(value_of(at6, "/a") == "");
  CHECK(value_of(at6, "/a/new") == "n");
  CHECK(at6.children("/") == Names{"a", "b"});
  CHECK(at6.children("/a") == Names{"new"});

  // At the head, a snapshot is the current tree.
  MainNodes main(h.tree.ws(), 0);
  for (const char* p : {"/", "/a", "/b", "/a/new"}) {
    CAPTURE(p);
    CHECK(describe(at6.get(p)) == describe(main.get(p)));
    CHECK(at6.children(p) == main.children(p));
  }
}

TEST_CASE(
    "SnapshotNodes: a path absent now is absent at the base without a seek if its parent's "
    "children are as then") {
  TempDb t;
  History h(t.db());
  const uint64_t c7 = h.tree.write("/b/gone", "g");
  const uint64_t c8 = h.tree.remove("/b/gone");
  WriteSet& ws = h.tree.ws();
  auto iterators_for = [&](SnapshotNodes& at, std::string_view p, std::string& value) {
    const uint64_t before = ws.op_counts().iterators;
    value = value_of(at, p);
    return ws.op_counts().iterators - before;
  };
  std::string v;
  // /b's children changed after c7: the versions say what was there.
  SnapshotNodes at7(ws, c7);
  CHECK(iterators_for(at7, "/b/gone", v) == 1);
  CHECK(v == "g");
  CHECK(iterators_for(at7, "/b/never", v) == 1);
  CHECK(v == "<absent>");
  // Not since c8: absent now is absent then.
  SnapshotNodes at8(ws, c8);
  CHECK(iterators_for(at8, "/b/gone", v) == 0);
  CHECK(v == "<absent>");
  CHECK(iterators_for(at8, "/b/never", v) == 0);
  // A parent absent now, or created after the base, proves nothing.
  CHECK(iterators_for(at8, "/nowhere/x", v) == 1);
  CHECK(v == "<absent>");
  SnapshotNodes at1(ws, h.c1);
  CHECK(iterators_for(at1, "/a/old", v) == 1);
  CHECK(v == "<absent>");
}

TEST_CASE("SnapshotNodes survive reopening the database (versions are committed state)") {
  TempDb t;
  uint64_t c2 = 0, c4 = 0;
  {
    History h(t.db());
    c2 = h.c2;
    c4 = h.c4;
  }
  t.reopen();
  WriteSet ws(t.db());
  SnapshotNodes at2(ws, c2);
  CHECK(value_of(at2, "/a") == "v1");
  SnapshotNodes at4(ws, c4);
  CHECK(at4.children("/") == Names{"a", "b"});
}

TEST_CASE("FrozenNodes reads exactly as SnapshotNodes at the same base, with stamp 0") {
  TempDb t;
  History h(t.db());
  for (uint64_t base = h.c1; base <= h.c6; ++base) {
    CAPTURE(base);
    SnapshotNodes snap(h.tree.ws(), base);
    FrozenNodes frozen(h.tree.ws(), base);
    CHECK(frozen.stamp() == 0);
    for (const char* p : {"/", "/a", "/b", "/a/new", "/missing"}) {
      CAPTURE(p);
      CHECK(describe(frozen.get(p)) == describe(snap.get(p)));
      CHECK(frozen.children(p) == snap.children(p));
    }
  }
}

TEST_CASE("TxnNodes overlays its own writes and erasures on its base and reports touched()") {
  TempDb t;
  CommittedTree tree(t.db());
  tree.write("/a", "a0");
  tree.write("/b", "b0");
  tree.write("/keep", "k");
  const uint64_t base = tree.log().head();
  // Main moves on after the transaction's base.
  tree.write("/late", "l");
  tree.write("/a", "a-main");

  WriteSet& ws = tree.ws();
  PrivateNodes mine;
  TxnNodes tx(mine, ws, base);
  CHECK(tx.stamp() == kTxnSeq);
  CHECK(value_of(tx, "/a") == "a0");  // as of the base, not main's later value
  CHECK(value_of(tx, "/late") == "<absent>");
  CHECK(tx.children("/") == Names{"a", "b", "keep"});
  CHECK(tx.touched().empty());

  dxs::testing::TestAccounting acct;
  Tree txtree(tx, acct);
  ChangeList changes;
  const Caller dom0;
  REQUIRE(txtree.write("/a", "a-tx", dom0, changes).is_ok());
  REQUIRE(txtree.remove("/b", dom0, changes).is_ok());
  REQUIRE(txtree.write("/c/d", "new", dom0, changes).is_ok());

  CHECK(value_of(tx, "/a") == "a-tx");
  CHECK(tx.get("/a")->modified == kTxnSeq);
  CHECK(value_of(tx, "/b") == "<absent>");
  CHECK(value_of(tx, "/c/d") == "new");
  CHECK(value_of(tx, "/keep") == "k");
  CHECK(tx.children("/") == Names{"a", "c", "keep"});
  CHECK(tx.children("/c") == Names{"d"});
  const std::set<std::string> touched(tx.touched().begin(), tx.touched().end());
  CHECK(touched == std::set<std::string>{"/", "/a", "/b", "/c", "/c/d"});

  // An erasure can be undone by writing again; a node created and erased is gone.
  tx.put("/b", make_node("b-again", {PermEntry{0, kAccessNone}}, kTxnSeq));
  CHECK(value_of(tx, "/b") == "b-again");
  tx.erase("/c/d");
  CHECK(tx.children("/c").empty());
  CHECK(tx.children("/") == Names{"a", "b", "c", "keep"});

  // Main is untouched, and so are other transactions of the same and other connections.
  MainNodes main(ws, 0);
  CHECK(value_of(main, "/a") == "a-main");
  CHECK(value_of(main, "/b") == "b0");
  CHECK(value_of(main, "/c") == "<absent>");
  CHECK(main.children("/") == Names{"a", "b", "keep", "late"});
  // The transaction's nodes are its own: another transaction's view does not see them.
  PrivateNodes theirs;
  TxnNodes other_tx(theirs, ws, base);
  CHECK(value_of(other_tx, "/a") == "a0");
  CHECK(value_of(other_tx, "/c") == "<absent>");
  CHECK(other_tx.children("/") == Names{"a", "b", "keep"});
  CHECK(other_tx.touched().empty());

  // The private nodes outlive the view: a new view of the same transaction sees them,
  // and they are nothing in the database.
  ws.commit();
  TxnNodes again(mine, ws, base);
  CHECK(value_of(again, "/a") == "a-tx");
  CHECK(value_of(again, "/b") == "b-again");
  CHECK(again.children("/") == Names{"a", "b", "c", "keep"});
  auto it = t.db().iterate(Cf::kTxnNodes);
  it->SeekToFirst();
  CHECK_FALSE(it->Valid());
  CHECK(again.touched().empty());  // touched() is this view's, not the overlay's
}

namespace {

// A StateReader that counts what its iterators do, to show what a read costs.
class CountingReader final : public StateReader {
 public:
  explicit CountingReader(StateReader& inner) : inner_(inner) {}
  bool get(Cf c, std::string_view key, std::string* value) override {
    return inner_.get(c, key, value);
  }
  std::unique_ptr<rocksdb::Iterator> iterate(Cf c, std::string_view prefix = {}) override {
    return std::make_unique<Counted>(inner_.iterate(c, prefix), *this);
  }
  int seeks = 0;
  int steps = 0;

 private:
  class Counted final : public rocksdb::Iterator {
   public:
    Counted(std::unique_ptr<rocksdb::Iterator> it, CountingReader& r) : it_(std::move(it)), r_(r) {}
    bool Valid() const override { return it_->Valid(); }
    void SeekToFirst() override {
      ++r_.seeks;
      it_->SeekToFirst();
    }
    void SeekToLast() override {
      ++r_.seeks;
      it_->SeekToLast();
    }
    void Seek(const rocksdb::Slice& t) override {
      ++r_.seeks;
      it_->Seek(t);
    }
    void SeekForPrev(const rocksdb::Slice& t) override {
      ++r_.seeks;
      it_->SeekForPrev(t);
    }
    void Next() override {
      ++r_.steps;
      it_->Next();
    }
    void Prev() override {
      ++r_.steps;
      it_->Prev();
    }
    rocksdb::Slice key() const override { return it_->key(); }
    rocksdb::Slice value() const override { return it_->value(); }
    rocksdb::Status status() const override { return it_->status(); }

   private:
    std::unique_ptr<rocksdb::Iterator> it_;
    CountingReader& r_;
  };
  StateReader& inner_;
};

}  // namespace

TEST_CASE(
    "SnapshotNodes::children with many versions per child: right at every base, in "
    "two seeks per name") {
  TempDb t;
  CommittedTree tree(t.db());
  // Names that prefix one another, a child whose own children change (new versions of
  // it), and a child removed and created again.
  const std::vector<std::string> names = {"a", "a-b", "ab", "b"};
  std::map<uint64_t, Names> expected;  // commit -> children of "/" right after it
  std::set<std::string> live;
  expected[tree.root_commit()] = {};
  for (int round = 0; round < 60; ++round) {
    for (const std::string& name : names) {
      const std::string p = "/" + name;
      uint64_t seq = 0;
      if (name == "ab" && round % 7 == 3) {
        seq = tree.remove(p);
        live.erase(name);
      } else if (name == "a" && round % 5 == 1) {
        seq = tree.write(p + "/x", std::to_string(round));
        live.insert(name);
      } else {
        seq = tree.write(p, std::to_string(round));
        live.insert(name);
      }
      expected[seq] = Names(live.begin(), live.end());
    }
  }
  tree.remove("/a-b");  // the head's root changed after every base above

  for (const auto& [seq, children] : expected) {
    CAPTURE(seq);
    SnapshotNodes at(tree.ws(), seq);
    CHECK(at.children("/") == children);
  }

  // A base in the middle, where every name has versions both sides of it: no name's
  // history is stepped through.
  const uint64_t middle = expected.rbegin()->first / 2;
  CountingReader counting(tree.ws());
  SnapshotNodes at(counting, middle);
  CHECK(at.children("/") == expected.at(middle));
  CHECK(counting.steps == 0);
  CHECK(counting.seeks <= 1 + 2 * static_cast<int>(names.size()));
}
