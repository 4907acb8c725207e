// Db, WriteSet and keys::: the on-disk key encoding and the group commit's write set, on
// a real RocksDB.
#include "store/db.h"

#include <doctest/doctest.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proto/records.pb.h"
#include "temp_db.h"

using dxs::store::Cf;
using dxs::store::WriteSet;
using dxs::testing::TempDb;
namespace keys = dxs::store::keys;

namespace {

using namespace std::string_literals;

// Every key of c, in order, with what the database (not a batch) holds.
std::vector<std::string> committed_keys(dxs::store::Db& db, Cf c) {
  std::vector<std::string> out;
  auto it = db.iterate(c);
  for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
  return out;
}

std::string be64(uint64_t v) {
  std::string s;
  keys::append_be64(s, v);
  return s;
}

std::string be32(uint32_t v) {
  std::string s;
  keys::append_be32(s, v);
  return s;
}

}  // namespace

TEST_CASE("keys::node: the root is \"/\", any other node is dirname NUL basename") {
  CHECK(keys::node("/") == "/");
  CHECK(keys::node("/a") == "\0a"s);
  CHECK(keys::node("/a/b") == "/a\0b"s);
  CHECK(keys::node("/local/domain/7") == "/local/domain\0"s + "7");
  for (const char* p : {"/", "/a", "/a/b", "/local/domain/7/device/vif/0", "/x-y_z@1"}) {
    CAPTURE(p);
    CHECK(keys::path_of_node_key(keys::node(p)) == p);
  }
}

TEST_CASE("keys::children_prefix: exactly the direct children, contiguous and in byte order") {
  CHECK(keys::children_prefix("/") == "\0"s);
  CHECK(keys::children_prefix("/a") == "/a\0"s);

  const std::vector<std::string> paths = {
      "/",     "/a",  "/a/c", "/a/b", "/a/b/x", "/a/B", "/a/b-c", "/a/ba", "/a-b",     "/ab",
      "/ab/c", "/a0", "/b",   "/b/a", "/a/c/d", "/a/_", "/a/@x",  "/a/0",  "/a/b/x/y", "/A",
  };
  std::set<std::string> sorted;
  for (const auto& p : paths) sorted.insert(keys::node(p));

  struct Case {
    std::string parent;
    std::vector<std::string> children;
  };
  const std::vector<Case> cases = {
      {"/a", {"0", "@x", "B", "_", "b", "b-c", "ba", "c"}},
      {"/", {"A", "a", "a-b", "a0", "ab", "b"}},
      {"/a/b", {"x"}},
      {"/ab", {"c"}},
      {"/b/a", {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.parent);
    const std::string prefix = keys::children_prefix(c.parent);
    std::vector<std::string> names;
    bool in_range = false, left_range = false, contiguous = true;
    for (const auto& k : sorted) {
      const bool match = k.compare(0, prefix.size(), prefix) == 0;
      if (match && left_range) contiguous = false;
      if (match) {
        in_range = true;
        names.push_back(k.substr(prefix.size()));
      } else if (in_range) {
        left_range = true;
      }
    }
    CHECK(contiguous);
    CHECK(names == c.children);  // byte order of the names, nothing below or beside
  }
}

TEST_CASE("keys::version: a node's versions sort newest first and decode their sequence") {
  const std::string prefix = keys::versions_prefix("/a/b");
  CHECK(prefix == keys::node("/a/b") + "\0"s);
  std::vector<std::string> ks;
  for (uint64_t seq : {1ull, 2ull, 255ull, 256ull, 1ull << 32, ~0ull - 1}) {
    const std::string k = keys::version("/a/b", seq);
    CHECK(k.size() == prefix.size() + 8);
    CHECK(k.compare(0, prefix.size(), prefix) == 0);
    CHECK(keys::version_seq(k) == seq);
    ks.push_back(k);
  }
  for (size_t i = 1; i < ks.size(); ++i) CHECK(ks[i] < ks[i - 1]);  // newer is smaller

  // One node's versions never carry another node's prefix.
  CHECK(keys::version("/a/bc", 1).compare(0, prefix.size(), prefix) != 0);
  CHECK(keys::version("/a/b/c", 1).compare(0, prefix.size(), prefix) != 0);
  CHECK(keys::version("/a", 1).compare(0, prefix.size(), prefix) != 0);
}

TEST_CASE("keys: big-endian integers sort in numeric order and round-trip") {
  CHECK(be32(0x01020304) == "\x01\x02\x03\x04"s);
  CHECK(be64(0x0102030405060708ull) == "\x01\x02\x03\x04\x05\x06\x07\x08"s);
  const std::vector<uint64_t> v64 = {
      0, 1, 255, 256, 65535, 65536, 1ull << 32, (1ull << 63) - 1, 1ull << 63, ~0ull};
  for (size_t i = 0; i < v64.size(); ++i) {
    CAPTURE(v64[i]);
    CHECK(be64(v64[i]).size() == 8);
    CHECK(keys::load_be64(be64(v64[i])) == v64[i]);
    if (i > 0) CHECK(be64(v64[i - 1]) < be64(v64[i]));
  }
  const std::vector<uint32_t> v32 = {0,     1,     127,        128,        255,       256,
                                     65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff};
  for (size_t i = 0; i < v32.size(); ++i) {
    CAPTURE(v32[i]);
    CHECK(be32(v32[i]).size() == 4);
    CHECK(keys::load_be32(be32(v32[i])) == v32[i]);
    if (i > 0) CHECK(be32(v32[i - 1]) < be32(v32[i]));
  }
  // Composite keys order by their leading integers numerically.
  CHECK(keys::txn_log(1, 2, 255) < keys::txn_log(1, 2, 256));
  CHECK(keys::event(7, 9) < keys::event(7, 10));
  CHECK(keys::watch(1, "/zzz", "t") < keys::watch(2, "/a", "t"));
  CHECK(keys::txn(1, 0xffffffff) < keys::txn(2, 0));
  CHECK(keys::domain(9) < keys::domain(10));
  CHECK(keys::commit(9) < keys::commit(10));
  const std::string tx = keys::txn(5, 6);
  CHECK(keys::txn_node(5, 6, "/a/b").compare(0, tx.size(), tx) == 0);
  CHECK(keys::txn_log(5, 6, 0).compare(0, tx.size(), tx) == 0);
  CHECK(keys::txn_node(5, 6, "/a/b") == tx + keys::node("/a/b"));
}

TEST_CASE("keys::prefix_end: the first key after every key with the prefix") {
  CHECK(keys::prefix_end("ab") == "ac");
  CHECK(keys::prefix_end("a\xff") == "b");
  CHECK(keys::prefix_end("a\xff\xff") == "b");
  CHECK(keys::prefix_end("\xff\xff") == "");
  CHECK(keys::prefix_end("") == "");
  CHECK(keys::prefix_end("a\0"s) == "a\x01");
  for (const std::string& prefix : {"ab"s, "a\xff"s, "/a\0"s, be64(255)}) {
    const std::string end = keys::prefix_end(prefix);
    CHECK(prefix < end);
    CHECK(prefix + "\xff\xff\xff" < end);
    CHECK(end.compare(0, prefix.size(), prefix) != 0);
  }
  CHECK(keys::starts_with(rocksdb::Slice("abc"), "ab"));
  CHECK(keys::starts_with(rocksdb::Slice("ab"), "ab"));
  CHECK_FALSE(keys::starts_with(rocksdb::Slice("a"), "ab"));
  CHECK_FALSE(keys::starts_with(rocksdb::Slice("ac"), "ab"));
}

TEST_CASE("WriteSet: reads see the set's own writes before commit; Db::get sees them after") {
  TempDb t;
  WriteSet ws(t.db());
  std::string v;
  CHECK(ws.empty());
  ws.put(Cf::kMeta, "k", "v1");
  CHECK_FALSE(ws.empty());
  REQUIRE(ws.get(Cf::kMeta, "k", &v));
  CHECK(v == "v1");
  CHECK_FALSE(t.db().get(Cf::kMeta, "k", &v));
  // Column families are separate key spaces.
  CHECK_FALSE(ws.get(Cf::kNodes, "k", &v));

  ws.commit();
  CHECK(ws.empty());
  REQUIRE(t.db().get(Cf::kMeta, "k", &v));
  CHECK(v == "v1");

  // A delete hides the committed value from the set, not from the database, until commit.
  ws.del(Cf::kMeta, "k");
  CHECK_FALSE(ws.get(Cf::kMeta, "k", &v));
  REQUIRE(t.db().get(Cf::kMeta, "k", &v));
  ws.commit();
  CHECK_FALSE(t.db().get(Cf::kMeta, "k", &v));
}

// The nodes column family's reads go through the WriteSet's cache of committed values:
// whatever was read before, a read returns what the batch or the database holds now.
TEST_CASE("WriteSet: a node read again is what was written since, committed or not") {
  TempDb t;
  WriteSet ws(t.db());
  std::string v;
  ws.put(Cf::kNodes, "/a", "one");
  ws.put(Cf::kNodes, "/b", "bee");
  ws.commit();
  REQUIRE(ws.get(Cf::kNodes, "/a", &v));  // now cached
  CHECK(v == "one");
  REQUIRE(ws.get(Cf::kNodes, "/b", &v));
  CHECK(v == "bee");

  SUBCASE("written in the batch, then committed") {
    ws.put(Cf::kNodes, "/a", "two");
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "two");
    ws.commit();
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "two");
    REQUIRE(ws.get(Cf::kNodes, "/b", &v));  // untouched: still served
    CHECK(v == "bee");
  }
  SUBCASE("deleted in the batch, then committed") {
    ws.del(Cf::kNodes, "/a");
    CHECK_FALSE(ws.get(Cf::kNodes, "/a", &v));
    ws.commit();
    CHECK_FALSE(ws.get(Cf::kNodes, "/a", &v));
  }
  SUBCASE("written, then rolled back") {
    ws.set_savepoint();
    ws.put(Cf::kNodes, "/a", "rolled back");
    ws.del(Cf::kNodes, "/b");
    ws.rollback_to_savepoint();
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "one");
    REQUIRE(ws.get(Cf::kNodes, "/b", &v));
    CHECK(v == "bee");
    ws.commit();
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "one");
  }
  SUBCASE("read as absent, then written in the batch and committed, or rolled back") {
    CHECK_FALSE(ws.get(Cf::kNodes, "/c", &v));  // now cached as absent
    ws.set_savepoint();
    ws.put(Cf::kNodes, "/c", "rolled back");
    ws.rollback_to_savepoint();
    CHECK_FALSE(ws.get(Cf::kNodes, "/c", &v));
    ws.put(Cf::kNodes, "/c", "sea");
    REQUIRE(ws.get(Cf::kNodes, "/c", &v));
    CHECK(v == "sea");
    ws.commit();
    REQUIRE(ws.get(Cf::kNodes, "/c", &v));
    CHECK(v == "sea");
  }
  SUBCASE("read as absent, then written by another WriteSet") {
    CHECK_FALSE(ws.get(Cf::kNodes, "/c", &v));
    WriteSet other(t.db());
    other.put(Cf::kNodes, "/c", "theirs");
    other.commit();
    REQUIRE(ws.get(Cf::kNodes, "/c", &v));
    CHECK(v == "theirs");
  }
  SUBCASE("written to the database by another WriteSet") {
    WriteSet other(t.db());
    other.put(Cf::kNodes, "/a", "theirs");
    other.del(Cf::kNodes, "/b");
    other.commit();
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "theirs");
    CHECK_FALSE(ws.get(Cf::kNodes, "/b", &v));
  }
  SUBCASE("written by another WriteSet while this one has a batch") {
    ws.put(Cf::kNodes, "/c", "mine");
    WriteSet other(t.db());
    other.put(Cf::kNodes, "/a", "theirs");
    other.commit();
    ws.commit();
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "theirs");
    REQUIRE(ws.get(Cf::kNodes, "/c", &v));
    CHECK(v == "mine");
  }
  SUBCASE("written with Db::write directly") {
    rocksdb::WriteBatch batch;
    REQUIRE(batch.Put(t.db().cf(Cf::kNodes), "/a", "direct").ok());
    t.db().write(&batch);
    REQUIRE(ws.get(Cf::kNodes, "/a", &v));
    CHECK(v == "direct");
  }
}

TEST_CASE("WriteSet: a node committed or read before is read again without RocksDB") {
  TempDb t;
  WriteSet ws(t.db());
  std::string v;
  ws.put(Cf::kNodes, "/written", "w");
  ws.commit();
  {
    WriteSet other(t.db());  // committed behind ws's back: ws's cache starts again
    other.put(Cf::kNodes, "/other", "o");
    other.commit();
  }
  // RocksDB's count of the point reads it served, over one read through ws of a key that
  // is there (rocksdb_gets) or is not (rocksdb_gets_absent).
  auto memtable_reads = [&](std::string_view key) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
    rocksdb::get_perf_context()->Reset();
    const bool found = ws.get(Cf::kNodes, key, &v);
    const uint64_t n = rocksdb::get_perf_context()->get_from_memtable_count;
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return std::make_pair(found, n);
  };
  auto rocksdb_gets = [&](std::string_view key) {
    const auto [found, n] = memtable_reads(key);
    REQUIRE(found);
    return n;
  };
  auto rocksdb_gets_absent = [&](std::string_view key) {
    const auto [found, n] = memtable_reads(key);
    CHECK_FALSE(found);
    return n;
  };
  CHECK(rocksdb_gets("/other") == 1);
  CHECK(rocksdb_gets("/other") == 0);
  CHECK(v == "o");
  ws.put(Cf::kNodes, "/written", "again");
  ws.commit();
  CHECK(rocksdb_gets("/written") == 0);
  CHECK(v == "again");
  CHECK(rocksdb_gets("/other") == 0);
  // A key found absent is remembered as absent, until written.
  CHECK(rocksdb_gets_absent("/missing") == 1);
  CHECK(rocksdb_gets_absent("/missing") == 0);
  ws.put(Cf::kNodes, "/missing", "found");
  ws.commit();
  CHECK(rocksdb_gets("/missing") == 0);
  CHECK(v == "found");
}

TEST_CASE("WriteSet: records round-trip through put_record and get_record") {
  TempDb t;
  WriteSet ws(t.db());
  dxs::pb::DomainRecord in;
  in.set_domid(7);
  in.set_introduced(true);
  (*in.mutable_quota())["nodes"] = 12;
  // (In meta: a WriteSet does not read the domains' column family back, see below.)
  ws.put_record(Cf::kMeta, keys::domain(7), in);
  dxs::pb::DomainRecord out;
  REQUIRE(ws.get_record(Cf::kMeta, keys::domain(7), &out));
  CHECK(out.SerializeAsString() == in.SerializeAsString());
  CHECK_FALSE(ws.get_record(Cf::kMeta, keys::domain(8), &out));
  // (A record that does not parse aborts the process: not tested, doctest has no death
  // tests and forking with RocksDB's threads running is not safe.)
}

TEST_CASE("WriteSet: rolling back to a savepoint undoes only the last request's writes") {
  TempDb t;
  WriteSet ws(t.db());
  ws.put(Cf::kMeta, "committed", "c");
  ws.commit();

  // Request 1 succeeds.
  ws.set_savepoint();
  ws.put(Cf::kMeta, "a", "1");
  ws.put(Cf::kNodes, "n", "1");
  ws.pop_savepoint();
  // Request 2 fails after writing: overwrites a, adds b, deletes the committed key.
  ws.set_savepoint();
  ws.put(Cf::kMeta, "a", "2");
  ws.put(Cf::kMeta, "b", "2");
  ws.del(Cf::kMeta, "committed");
  ws.del(Cf::kNodes, "n");
  ws.rollback_to_savepoint();

  std::string v;
  REQUIRE(ws.get(Cf::kMeta, "a", &v));
  CHECK(v == "1");
  CHECK_FALSE(ws.get(Cf::kMeta, "b", &v));
  REQUIRE(ws.get(Cf::kMeta, "committed", &v));
  CHECK(v == "c");
  REQUIRE(ws.get(Cf::kNodes, "n", &v));
  CHECK(v == "1");

  ws.commit();
  CHECK(committed_keys(t.db(), Cf::kMeta) == std::vector<std::string>{"a", "committed"});
  REQUIRE(t.db().get(Cf::kMeta, "a", &v));
  CHECK(v == "1");
  REQUIRE(t.db().get(Cf::kNodes, "n", &v));
}

TEST_CASE("WriteSet: a rollback with nothing to undo keeps the batch and rebuilds no index") {
  TempDb t;
  WriteSet ws(t.db());
  ws.set_savepoint();
  ws.put(Cf::kMeta, "a", "1");
  ws.pop_savepoint();

  // A request that fails before writing: its rollback is free.
  ws.set_savepoint();
  std::string v;
  CHECK_FALSE(ws.get(Cf::kMeta, "missing", &v));
  ws.rollback_to_savepoint();
  CHECK(ws.op_counts().index_rebuilds == 0);
  REQUIRE(ws.get(Cf::kMeta, "a", &v));
  CHECK(v == "1");

  // Nested: the inner savepoint wrote nothing, the outer one did.
  ws.set_savepoint();
  ws.put(Cf::kMeta, "b", "2");
  ws.set_savepoint();
  ws.rollback_to_savepoint();
  CHECK(ws.op_counts().index_rebuilds == 0);
  REQUIRE(ws.get(Cf::kMeta, "b", &v));
  ws.rollback_to_savepoint();
  CHECK(ws.op_counts().index_rebuilds == 1);
  CHECK_FALSE(ws.get(Cf::kMeta, "b", &v));
  REQUIRE(ws.get(Cf::kMeta, "a", &v));

  ws.commit();
  CHECK(committed_keys(t.db(), Cf::kMeta) == std::vector<std::string>{"a"});
}

TEST_CASE("WriteSet: records read back only at start commit and roll back with the batch") {
  TempDb t;
  WriteSet ws(t.db());
  ws.put(Cf::kConnections, "old", "o");
  ws.commit();

  ws.set_savepoint();
  ws.put(Cf::kConnections, "c1", "1");
  ws.put(Cf::kTxns, "t1", "1");
  ws.put(Cf::kNodes, "n", "1");
  ws.pop_savepoint();
  // A request that fails after writing: its rollback rebuilds the index from the batch,
  // which holds the unindexed writes too, and must drop exactly its own.
  ws.set_savepoint();
  ws.put(Cf::kConnections, "c1", "2");
  ws.put(Cf::kDomains, "d1", "2");
  ws.del(Cf::kConnections, "old");
  ws.put(Cf::kNodes, "n", "2");
  ws.rollback_to_savepoint();
  CHECK(ws.op_counts().index_rebuilds == 1);
  // Written after the rebuild, both kinds.
  ws.put(Cf::kDomains, "d2", "3");
  ws.put(Cf::kMeta, "m", "3");
  std::string v;
  REQUIRE(ws.get(Cf::kNodes, "n", &v));
  CHECK(v == "1");
  REQUIRE(ws.get(Cf::kMeta, "m", &v));
  CHECK(v == "3");
  // Of the ten writes since the set was made, the connections', domains' and transactions'
  // seven skipped the index.
  CHECK(ws.op_counts().writes == 10);
  CHECK(ws.op_counts().unindexed_writes == 7);

  ws.commit();
  CHECK(committed_keys(t.db(), Cf::kConnections) == std::vector<std::string>{"c1", "old"});
  REQUIRE(t.db().get(Cf::kConnections, "c1", &v));
  CHECK(v == "1");
  CHECK(committed_keys(t.db(), Cf::kDomains) == std::vector<std::string>{"d2"});
  CHECK(committed_keys(t.db(), Cf::kTxns) == std::vector<std::string>{"t1"});
  // Once committed, a new batch reads them as any other column family.
  REQUIRE(ws.get(Cf::kTxns, "t1", &v));
  CHECK(v == "1");
}

TEST_CASE("WriteSet: reading back a write the index does not hold stops the store") {
  TempDb t;
  WriteSet ws(t.db());
  ws.put(Cf::kConnections, "c", "1");
  // In a child, which the store's fail-stop aborts before it calls RocksDB (whose
  // threads the child does not have): the parent checks how it ended.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::string v;
    ws.get(Cf::kConnections, "c", &v);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("WriteSet::del_prefix deletes committed and batched keys with the prefix, only them") {
  TempDb t;
  WriteSet ws(t.db());
  for (const char* k : {"p", "p/1", "p/2", "p0", "o", "q/1"}) ws.put(Cf::kEvents, k, "x");
  ws.commit();
  ws.put(Cf::kEvents, "p/3", "x");  // in the batch only
  ws.del_prefix(Cf::kEvents, "p/");
  std::string v;
  for (const char* k : {"p/1", "p/2", "p/3"}) CHECK_FALSE(ws.get(Cf::kEvents, k, &v));
  for (const char* k : {"p", "p0", "o", "q/1"}) CHECK(ws.get(Cf::kEvents, k, &v));
  ws.commit();
  CHECK(committed_keys(t.db(), Cf::kEvents) == std::vector<std::string>{"o", "p", "p0", "q/1"});
}

TEST_CASE("Db::iterate with a prefix stops at the end of the prefix's keys") {
  TempDb t;
  WriteSet ws(t.db());
  const std::vector<std::string> all = {"a",
                                        "b",
                                        "b1",
                                        "b2",
                                        "b\xff",
                                        "b\xff\xff",
                                        "c",
                                        "c1",
                                        "\xff\xff"
                                        "1"};
  for (const auto& k : all) ws.put(Cf::kWatches, k, "v-" + k);
  ws.commit();

  auto it = t.db().iterate(Cf::kWatches, "b");
  std::vector<std::string> seen;
  // No prefix check here: the bound itself ends the scan.
  for (it->Seek("b"); it->Valid(); it->Next()) {
    seen.push_back(it->key().ToString());
    CHECK(it->value().ToString() == "v-" + it->key().ToString());
  }
  CHECK(it->status().ok());
  CHECK(seen == std::vector<std::string>{"b", "b1", "b2", "b\xff", "b\xff\xff"});

  // A prefix whose end is "" (all 0xff) is unbounded above, not empty.
  auto hi = t.db().iterate(Cf::kWatches, "\xff\xff");
  hi->Seek("\xff\xff");
  REQUIRE(hi->Valid());
  CHECK(hi->key().ToString() ==
        "\xff\xff"
        "1");
  auto whole = t.db().iterate(Cf::kWatches);
  seen.clear();
  for (whole->SeekToFirst(); whole->Valid(); whole->Next()) seen.push_back(whole->key().ToString());
  CHECK(seen == all);
}

TEST_CASE("WriteSet::iterate merges the batch over the database in key order") {
  TempDb t;
  WriteSet ws(t.db());
  for (const char* k : {"k1", "k3", "k5", "l1"}) ws.put(Cf::kTxnLog, k, "old");
  ws.commit();
  ws.put(Cf::kTxnLog, "k2", "new");
  ws.put(Cf::kTxnLog, "k3", "new");
  ws.del(Cf::kTxnLog, "k5");
  ws.put(Cf::kTxnLog, "j9", "new");

  std::vector<std::string> seen;
  auto it = ws.iterate(Cf::kTxnLog, "k");
  for (it->Seek("k"); it->Valid() && keys::starts_with(it->key(), "k"); it->Next()) {
    seen.push_back(it->key().ToString() + "=" + it->value().ToString());
  }
  CHECK(seen == std::vector<std::string>{"k1=old", "k2=new", "k3=new"});
  // The database is unchanged until commit.
  CHECK(committed_keys(t.db(), Cf::kTxnLog) == std::vector<std::string>{"k1", "k3", "k5", "l1"});
}

TEST_CASE("a commit survives closing and reopening the database; an uncommitted set does not") {
  TempDb t;
  {
    WriteSet ws(t.db());
    ws.put(Cf::kNodes, keys::node("/a"), "kept");
    ws.put(Cf::kCommits, keys::commit(1), "c1");
    ws.commit();
    ws.put(Cf::kNodes, keys::node("/b"), "lost");
  }
  t.reopen();
  std::string v;
  REQUIRE(t.db().get(Cf::kNodes, keys::node("/a"), &v));
  CHECK(v == "kept");
  REQUIRE(t.db().get(Cf::kCommits, keys::commit(1), &v));
  CHECK(v == "c1");
  CHECK_FALSE(t.db().get(Cf::kNodes, keys::node("/b"), &v));
}

TEST_CASE("WriteSet::commit of an empty set writes nothing; a commit writes each operation") {
  TempDb t;
  WriteSet ws(t.db());
  const uint64_t before = t.last_sequence();
  ws.commit();
  CHECK(t.last_sequence() == before);
  ws.put(Cf::kMeta, "a", "1");
  ws.put(Cf::kMeta, "b", "1");
  ws.del(Cf::kMeta, "c");
  ws.commit();
  CHECK(t.last_sequence() == before + 3);
}

TEST_CASE("Db: data blocks read once stay cached beside full memtables") {
  // The memtables are charged to the block cache as pinned entries (db.cc). Split into
  // RocksDB's default shards of 512 KiB, the shards they land in hold nothing else, and
  // every block read through such a shard is read from the file again on the next
  // lookup. Here the memtables hold about 6 MiB of the 16 MiB cache, the flushed nodes
  // about 2 MiB: each of their blocks must come from the file once, and never again.
  TempDb t;
  const std::string value(1024, 'v');
  constexpr int kNodes = 2000;
  {
    WriteSet ws(t.db());
    for (int i = 0; i < kNodes; ++i)
      ws.put(Cf::kNodes, keys::node("/n/" + std::to_string(i)), value);
    ws.commit();
  }
  REQUIRE(t.db().raw()->Flush(rocksdb::FlushOptions(), t.db().cf(Cf::kNodes)).ok());
  // Unflushed, below each column family's 4 MiB write buffer.
  for (Cf c : {Cf::kVersions, Cf::kCommits}) {
    WriteSet ws(t.db());
    for (int i = 0; i < 3000; ++i) ws.put(c, be64(static_cast<uint64_t>(i)), value);
    ws.commit();
  }

  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  auto blocks_read_by_reading_all = [&] {
    rocksdb::get_perf_context()->Reset();
    std::string v;
    for (int i = 0; i < kNodes; ++i) {
      REQUIRE(t.db().get(Cf::kNodes, keys::node("/n/" + std::to_string(i)), &v));
    }
    return rocksdb::get_perf_context()->block_read_count;
  };
  const uint64_t first = blocks_read_by_reading_all();
  const uint64_t again = blocks_read_by_reading_all();
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  CHECK(first >= kNodes / 4);  // the nodes were read from the file: ~4 per 4 KiB block
  CHECK(again == 0);
}

TEST_CASE("Db: node and version inserts start from the last insert under the same parent") {
  TempDb t;
  // The hint's key is the parent's part of a node or version key, up to its first NUL;
  // the root's own key has none and is inserted without a hint.
  for (Cf c : {Cf::kNodes, Cf::kVersions}) {
    const rocksdb::Options o = t.db().raw()->GetOptions(t.db().cf(c));
    const auto& hint = o.memtable_insert_with_hint_prefix_extractor;
    REQUIRE(hint != nullptr);
    CHECK(hint->Transform(keys::node("/a/b/c")).ToString() == "/a/b"s + '\0');
    CHECK(hint->Transform(keys::version("/a/b/c", 7)).ToString() == "/a/b"s + '\0');
    CHECK(hint->Transform(keys::node("/top")).ToString() == "\0"s);
    CHECK_FALSE(hint->InDomain(keys::node("/")));
  }
  // Whatever the order of inserts, hinted or not, the keys come back in key order with
  // their newest values, from the memtable and after reopening from the files.
  std::vector<std::string> paths = {"/", "/d", "/d/x", "/d/a", "/e", "/d/m", "/d/x/y"};
  for (int i = 0; i < 30; ++i) paths.push_back("/d/k" + std::to_string((i * 7) % 30));
  std::set<std::string> expected;
  uint64_t seq = 0;
  for (int round = 0; round < 3; ++round) {
    WriteSet ws(t.db());
    for (const std::string& p : paths) {
      ws.put(Cf::kNodes, keys::node(p), p + "@" + std::to_string(round));
      ws.put(Cf::kVersions, keys::version(p, ++seq), "v");
      expected.insert(keys::node(p));
    }
    ws.commit();
  }
  for (int pass = 0; pass < 2; ++pass) {
    CHECK(committed_keys(t.db(), Cf::kNodes) ==
          std::vector<std::string>(expected.begin(), expected.end()));
    std::string v;
    for (const std::string& p : paths) {
      REQUIRE(t.db().get(Cf::kNodes, keys::node(p), &v));
      CHECK(v == p + "@2");
    }
    const std::vector<std::string> versions = committed_keys(t.db(), Cf::kVersions);
    CHECK(versions.size() == 3 * paths.size());
    CHECK(std::is_sorted(versions.begin(), versions.end()));
    t.reopen();
  }
}
