#include "store/txn.h"

#include <algorithm>

namespace dxs::store {

std::string observation_key(pb::TxnLogEntry::Observation kind, std::string_view path) {
  std::string k(1, static_cast<char>('0' + kind));
  k.append(path);
  return k;
}

size_t TransactionTable::load(Db& db) {
  by_key_.clear();
  for_each_record<pb::TxnRecord>(db, Cf::kTxns, {}, [&](std::string_view key, pb::TxnRecord& r) {
    if (key.size() != 12) fail_stop_corrupt(Cf::kTxns, key);
    Transaction t;
    t.conn = keys::conn_of_key(key);
    t.record = std::move(r);
    by_key_[{t.conn, t.record.id()}] = std::move(t);
  });
  // Rebuild the derived sets from each transaction's log and private view.
  for (auto& [key, t] : by_key_) {
    const std::string prefix = keys::txn_entries(key.first, key.second);
    for_each_record<pb::TxnLogEntry>(db, Cf::kTxnLog, prefix,
                                     [&](std::string_view, const pb::TxnLogEntry& e) {
                                       t.accessed.insert(e.path());
                                       if (e.observed() != pb::TxnLogEntry::OBSERVATION_UNSPECIFIED)
                                         t.observed.insert(observation_key(e.observed(), e.path()));
                                     });
    for_each_record<pb::NodeRecord>(db, Cf::kTxnNodes, prefix,
                                    [&](std::string_view node_key, const pb::NodeRecord&) {
                                      t.accessed.insert(keys::path_of_txn_node_key(node_key));
                                    });
  }
  return by_key_.size();
}

uint64_t TransactionTable::oldest_base(uint64_t none) const {
  uint64_t oldest = none;
  for (const auto& [key, t] : by_key_) {
    if (!t.record.outdated()) oldest = std::min(oldest, t.record.base());
  }
  return oldest;
}

std::vector<const Transaction*> TransactionTable::outdate_below(uint64_t horizon) {
  std::vector<const Transaction*> marked;
  for (auto& [key, t] : by_key_) {
    if (t.record.outdated() || t.record.base() >= horizon) continue;
    t.record.set_outdated(true);
    save(t);
    marked.push_back(&t);
  }
  return marked;
}

Transaction* TransactionTable::find(uint64_t conn, uint32_t tx_id) {
  auto it = by_key_.find({conn, tx_id});
  return it == by_key_.end() ? nullptr : &it->second;
}

Transaction& TransactionTable::start(uint64_t conn, uint32_t tx_id, uint64_t base, int64_t now_ns) {
  Transaction& t = by_key_[{conn, tx_id}];
  t = Transaction{};
  t.conn = conn;
  t.record.set_id(tx_id);
  t.record.set_base(base);
  t.record.set_started_ns(now_ns);
  save(t);
  return t;
}

void TransactionTable::flush(WriteSet& ws) {
  for (const auto& key : changed_) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    ws.put_record(Cf::kTxns, keys::txn(key.first, key.second), it->second.record);
  }
  changed_.clear();
}

void TransactionTable::append(WriteSet& ws, Transaction& t, const pb::TxnLogEntry& entry) {
  const uint32_t index = t.record.op_count();
  ws.put_record(Cf::kTxnLog, keys::txn_log(t.conn, t.record.id(), index), entry);
  t.record.set_op_count(index + 1);
  if (entry.observed() != pb::TxnLogEntry::OBSERVATION_UNSPECIFIED) {
    t.observed.insert(observation_key(entry.observed(), entry.path()));
  }
  t.accessed.insert(entry.path());
  save(t);
}

std::vector<pb::TxnLogEntry> TransactionTable::read_log(StateReader& state, const Transaction& t) {
  std::vector<pb::TxnLogEntry> entries;
  for_each_record<pb::TxnLogEntry>(
      state, Cf::kTxnLog, keys::txn_entries(t.conn, t.record.id()),
      [&](std::string_view, pb::TxnLogEntry& e) { entries.push_back(std::move(e)); });
  return entries;
}

void TransactionTable::discard(WriteSet& ws, uint64_t conn, uint32_t tx_id) {
  const std::string prefix = keys::txn_entries(conn, tx_id);
  ws.del(Cf::kTxns, keys::txn(conn, tx_id));
  ws.del_prefix(Cf::kTxnLog, prefix);
  ws.del_prefix(Cf::kTxnNodes, prefix);
  by_key_.erase({conn, tx_id});
  changed_.erase({conn, tx_id});
}

void TransactionTable::discard_all(WriteSet& ws, uint64_t conn) {
  std::vector<uint32_t> ids;
  for (auto it = by_key_.lower_bound({conn, 0}); it != by_key_.end() && it->first.first == conn;
       ++it) {
    ids.push_back(it->first.second);
  }
  for (uint32_t id : ids) discard(ws, conn, id);
}

uint32_t TransactionTable::count(uint64_t conn) const {
  uint32_t n = 0;
  for (auto it = by_key_.lower_bound({conn, 0}); it != by_key_.end() && it->first.first == conn;
       ++it)
    ++n;
  return n;
}

}  // namespace dxs::store
