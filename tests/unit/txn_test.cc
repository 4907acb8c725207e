// TransactionTable: open transactions, each one record in RocksDB carrying its log (a long
// log spilled in chunks), the derived sets rebuilt by load(), and the previous layout's
// records migrated.
#include "store/txn.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "store/node_view.h"
#include "store_helpers.h"
#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::make_node;
using dxs::testing::TempDb;
using Obs = pb::TxnLogEntry;

namespace {

Obs entry(std::string path, Obs::Observation observed = Obs::OBSERVATION_UNSPECIFIED,
          uint32_t op_type = 0) {
  Obs e;
  e.set_path(std::move(path));
  e.set_observed(observed);
  e.set_existed(true);
  e.set_op_type(op_type);
  return e;
}

std::vector<std::string> paths(const std::vector<Obs>& log) {
  std::vector<std::string> out;
  for (const auto& e : log) out.push_back(e.path());
  return out;
}

std::set<std::string> as_set(const std::unordered_set<std::string>& s) {
  return std::set<std::string>(s.begin(), s.end());
}

size_t keys_with_prefix(Db& db, Cf c, const std::string& prefix) {
  size_t n = 0;
  auto it = db.iterate(c, prefix);
  for (it->Seek(prefix); it->Valid() && keys::starts_with(it->key(), prefix); it->Next()) ++n;
  return n;
}

}  // namespace

TEST_CASE("start, find and count: transactions are per connection and id") {
  TransactionTable table;
  CHECK(table.find(1, 1) == nullptr);
  Transaction& t = table.start(1, 1, 17, 1234);
  CHECK(t.conn == 1);
  CHECK(t.record.id() == 1);
  CHECK(t.record.base() == 17);
  CHECK(t.record.started_ns() == 1234);
  CHECK(t.record.op_count() == 0);
  CHECK(t.record.layout() == kTxnLayout);
  table.start(1, 2, 18, 0);
  table.start(2, 1, 18, 0);
  CHECK(table.find(1, 1) == &t);
  CHECK(table.find(1, 3) == nullptr);
  CHECK(table.find(3, 1) == nullptr);
  CHECK(table.count(1) == 2);
  CHECK(table.count(2) == 1);
  CHECK(table.count(0) == 0);
  CHECK(table.count(3) == 0);
  CHECK(table.size() == 3);

  // Starting an id again starts afresh.
  t.accessed.insert("/x");
  Transaction& again = table.start(1, 1, 20, 5);
  CHECK(again.record.base() == 20);
  CHECK(again.accessed.empty());
  CHECK(table.size() == 3);
}

TEST_CASE("append logs entries in order and updates accessed and observed; read_log reads them") {
  TempDb t;
  WriteSet ws(t.db());
  TransactionTable table;
  Transaction& tx = table.start(1, 1, 0, 0);
  table.append(ws, tx, entry("/a", Obs::NODE));
  table.append(ws, tx, entry("/b", Obs::CHILDREN));
  table.append(ws, tx, entry("/c", Obs::OBSERVATION_UNSPECIFIED, 11));
  CHECK(tx.record.op_count() == 3);
  CHECK(as_set(tx.accessed) == std::set<std::string>{"/a", "/b", "/c"});
  CHECK(as_set(tx.observed) == std::set<std::string>{observation_key(Obs::NODE, "/a"),
                                                     observation_key(Obs::CHILDREN, "/b")});
  CHECK(paths(table.read_log(ws, tx)) == std::vector<std::string>{"/a", "/b", "/c"});
  CHECK(table.read_log(ws, tx)[2].op_type() == 11);

  // The log is ordered by index numerically, past 255 and 256 entries.
  Transaction& big = table.start(1, 2, 0, 0);
  std::vector<std::string> expected;
  for (int i = 0; i < 300; ++i) {
    expected.push_back("/n" + std::to_string(i));
    table.append(ws, big, entry(expected.back()));
  }
  CHECK(paths(table.read_log(ws, big)) == expected);
  // Each transaction reads only its own log.
  CHECK(table.read_log(ws, tx).size() == 3);
  Transaction& other = table.start(2, 1, 0, 0);
  CHECK(table.read_log(ws, other).empty());
}

TEST_CASE("a long log moves out of the record in chunks, each written once") {
  TempDb t;
  WriteSet ws(t.db());
  TransactionTable table;
  Transaction& tx = table.start(1, 1, 0, 0);
  std::vector<std::string> expected;
  const DbOpCounts before = ws.op_counts();
  for (int i = 0; i < 40; ++i) {
    Obs e = entry("/n" + std::to_string(i), Obs::OBSERVATION_UNSPECIFIED, 11);
    e.set_value(std::string(1000, 'x'));
    expected.push_back(e.path());
    table.append(ws, tx, e);
    // The record never holds much more than kLogSpillBytes of log.
    CHECK(tx.record.ByteSizeLong() < TransactionTable::kLogSpillBytes + 1100);
  }
  CHECK(tx.record.op_count() == 40);
  CHECK(tx.record.spilled() > 0);
  CHECK(tx.record.log_size() == 40 - static_cast<int>(tx.record.spilled()));
  // 40 entries of 1 kB: four or five chunks, not one write per entry.
  const uint64_t chunk_writes = ws.op_counts().writes - before.writes;
  CHECK(chunk_writes >= 4);
  CHECK(chunk_writes <= 5);
  table.flush(ws);
  ws.commit();
  CHECK(paths(table.read_log(ws, tx)) == expected);
  CHECK(paths(table.read_log(t.db(), tx)) == expected);

  // Discarding it removes its chunks with its record.
  table.discard(ws, 1, 1);
  ws.commit();
  CHECK(keys_with_prefix(t.db(), Cf::kTxnLog, keys::txn(1, 1)) == 0);
  CHECK(keys_with_prefix(t.db(), Cf::kTxns, keys::txn(1, 1)) == 0);
}

TEST_CASE("observation_key tells kinds and paths apart") {
  CHECK(observation_key(Obs::NODE, "/a") != observation_key(Obs::CHILDREN, "/a"));
  CHECK(observation_key(Obs::NODE, "/a") != observation_key(Obs::PERMS, "/a"));
  CHECK(observation_key(Obs::NODE, "/a") != observation_key(Obs::NODE, "/b"));
  CHECK(observation_key(Obs::NODE, "/a") == observation_key(Obs::NODE, "/a"));
}

TEST_CASE("flush writes each changed record once per batch, and nothing when none changed") {
  TempDb t;
  WriteSet ws(t.db());
  TransactionTable table;
  Transaction& a = table.start(1, 1, 5, 0);
  table.append(ws, a, entry("/x", Obs::NODE));
  table.append(ws, a, entry("/y", Obs::NODE));
  table.append(ws, a, entry("/z", Obs::NODE));
  table.save(a);
  table.start(1, 2, 5, 0);
  uint64_t before = t.last_sequence();
  table.flush(ws);
  ws.commit();
  CHECK(t.last_sequence() - before == 2);  // two records, the log inside the first

  pb::TxnRecord r;
  std::string v;
  REQUIRE(t.db().get(Cf::kTxns, keys::txn(1, 1), &v));
  REQUIRE(r.ParseFromString(v));
  CHECK(r.id() == 1);
  CHECK(r.base() == 5);
  CHECK(r.op_count() == 3);
  CHECK(r.log_size() == 3);

  before = t.last_sequence();
  table.flush(ws);
  CHECK(ws.empty());
  ws.commit();
  CHECK(t.last_sequence() == before);

  // A discarded transaction's pending record is not written back.
  Transaction& c = table.start(1, 3, 5, 0);
  table.save(c);
  table.discard(ws, 1, 3);
  table.flush(ws);
  ws.commit();
  CHECK_FALSE(t.db().get(Cf::kTxns, keys::txn(1, 3), &v));
}

TEST_CASE("discard forgets one transaction's record with one delete; discard_all a connection's") {
  TempDb t;
  WriteSet ws(t.db());
  TransactionTable table;
  for (auto [conn, id] :
       {std::pair<uint64_t, uint32_t>{1, 1}, std::pair<uint64_t, uint32_t>{1, 2},
        std::pair<uint64_t, uint32_t>{2, 1}, std::pair<uint64_t, uint32_t>{256, 1}}) {
    Transaction& tx = table.start(conn, id, 0, 0);
    table.append(ws, tx, entry("/a", Obs::NODE));
    table.append(ws, tx, entry("/b", Obs::NODE));
    tx.view.set("/a", make_node("v", {PermEntry{0, kAccessNone}}, kTxnSeq));
  }
  table.flush(ws);
  ws.commit();

  const DbOpCounts before = ws.op_counts();
  table.discard(ws, 1, 1);
  CHECK(ws.op_counts().total() - before.total() == 1);
  CHECK(table.find(1, 1) == nullptr);
  CHECK(table.find(1, 2) != nullptr);
  CHECK(table.count(1) == 1);
  ws.commit();
  std::string v;
  CHECK_FALSE(t.db().get(Cf::kTxns, keys::txn(1, 1), &v));
  CHECK(t.db().get(Cf::kTxns, keys::txn(1, 2), &v));

  table.discard_all(ws, 1);
  CHECK(table.count(1) == 0);
  CHECK(table.count(2) == 1);
  CHECK(table.count(256) == 1);
  CHECK(table.size() == 2);
  ws.commit();
  CHECK(keys_with_prefix(t.db(), Cf::kTxns, keys::connection(1)) == 0);
  for (uint64_t conn : {2ull, 256ull}) {
    CHECK(t.db().get(Cf::kTxns, keys::txn(conn, 1), &v));
    CHECK(table.read_log(t.db(), *table.find(conn, 1)).size() == 2);
  }
  // Nothing of theirs is anywhere but in their records.
  CHECK(keys_with_prefix(t.db(), Cf::kTxnLog, "") == 0);
  CHECK(keys_with_prefix(t.db(), Cf::kTxnNodes, "") == 0);
}

TEST_CASE("load() rebuilds transactions and their accessed and observed sets after reopen") {
  TempDb t;
  {
    WriteSet ws(t.db());
    TransactionTable table;
    Transaction& tx = table.start(7, 3, 42, 99);
    table.append(ws, tx, entry("/a", Obs::NODE));
    table.append(ws, tx, entry("/b", Obs::PERMS));
    table.append(ws, tx, entry("/c", Obs::OBSERVATION_UNSPECIFIED, 11));
    tx.record.set_writes(1);
    table.start(8, 1, 43, 100);
    table.flush(ws);
    ws.commit();
    table.start(9, 1, 44, 0);  // never flushed: not durable
  }
  t.reopen();
  TransactionTable table;
  WriteSet ws(t.db());
  CHECK(table.load(t.db(), ws) == 2);
  CHECK(ws.empty());  // nothing to migrate
  CHECK(table.find(9, 1) == nullptr);
  Transaction* tx = table.find(7, 3);
  REQUIRE(tx != nullptr);
  CHECK(tx->conn == 7);
  CHECK(tx->record.id() == 3);
  CHECK(tx->record.base() == 42);
  CHECK(tx->record.started_ns() == 99);
  CHECK(tx->record.op_count() == 3);
  // Its view is rebuilt from the log by the engine (rebuild_view), which knows callers.
  CHECK(tx->view_pending);
  CHECK(tx->view.size() == 0);
  CHECK(as_set(tx->accessed) == std::set<std::string>{"/a", "/b", "/c"});
  CHECK(as_set(tx->observed) ==
        std::set<std::string>{observation_key(Obs::NODE, "/a"), observation_key(Obs::PERMS, "/b")});
  Transaction* other = table.find(8, 1);
  REQUIRE(other != nullptr);
  CHECK(other->accessed.empty());
  CHECK(other->observed.empty());
  CHECK_FALSE(other->view_pending);

  // The log continues where it stopped.
  table.append(ws, *tx, entry("/e"));
  CHECK(paths(table.read_log(ws, *tx)) == std::vector<std::string>{"/a", "/b", "/c", "/e"});
}

TEST_CASE("load() migrates a transaction of the previous layout: log and view from their keys") {
  TempDb t;
  {
    // As the store before layout 1 wrote it: a record without layout, one txn_log key per
    // entry, one txn_nodes key per node of its view.
    WriteSet ws(t.db());
    pb::TxnRecord old;
    old.set_id(3);
    old.set_base(42);
    old.set_op_count(3);
    old.set_writes(2);
    ws.put_record(Cf::kTxns, keys::txn(7, 3), old);
    ws.put_record(Cf::kTxnLog, keys::txn_log(7, 3, 0), entry("/a", Obs::NODE));
    ws.put_record(Cf::kTxnLog, keys::txn_log(7, 3, 1),
                  entry("/p/q", Obs::OBSERVATION_UNSPECIFIED, 11));
    ws.put_record(Cf::kTxnLog, keys::txn_log(7, 3, 2),
                  entry("/d", Obs::OBSERVATION_UNSPECIFIED, 13));
    pb::NodeRecord q;
    node_to_record(make_node("v", {PermEntry{0, kAccessNone}}, kTxnSeq), q);
    ws.put_record(Cf::kTxnNodes, keys::txn_node(7, 3, "/p/q"), q);
    ws.put_record(Cf::kTxnNodes, keys::txn_node(7, 3, "/p"), q);
    pb::NodeRecord gone;
    gone.set_deleted(true);
    ws.put_record(Cf::kTxnNodes, keys::txn_node(7, 3, "/d"), gone);
    ws.commit();
  }
  t.reopen();
  {
    TransactionTable table;
    WriteSet ws(t.db());
    CHECK(table.load(t.db(), ws) == 1);
    Transaction* tx = table.find(7, 3);
    REQUIRE(tx != nullptr);
    // Its view is taken as it was, not replayed.
    CHECK_FALSE(tx->view_pending);
    REQUIRE(tx->view.find("/p/q") != nullptr);
    CHECK((*tx->view.find("/p/q"))->value == "v");
    REQUIRE(tx->view.find("/d") != nullptr);
    CHECK_FALSE(tx->view.find("/d")->has_value());
    CHECK(as_set(tx->accessed) == std::set<std::string>{"/a", "/d", "/p", "/p/q"});
    CHECK(as_set(tx->observed) == std::set<std::string>{observation_key(Obs::NODE, "/a")});
    CHECK(paths(table.read_log(ws, *tx)) == std::vector<std::string>{"/a", "/p/q", "/d"});
    ws.commit();
  }
  // Written back in this layout, the old keys gone.
  CHECK(keys_with_prefix(t.db(), Cf::kTxnLog, "") == 0);
  CHECK(keys_with_prefix(t.db(), Cf::kTxnNodes, "") == 0);
  pb::TxnRecord r;
  std::string v;
  REQUIRE(t.db().get(Cf::kTxns, keys::txn(7, 3), &v));
  REQUIRE(r.ParseFromString(v));
  CHECK(r.layout() == kTxnLayout);
  CHECK(r.log_size() == 3);
  CHECK(r.writes() == 2);
}
