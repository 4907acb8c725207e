#include "store/txn.h"

#include <algorithm>

#include "store/node.h"

namespace dxs::store {
namespace {

// What an entry adds to the transaction's derived sets.
void note_entry(Transaction& t, const pb::TxnLogEntry& e) {
  t.accessed.insert(e.path());
  if (e.observed() != pb::TxnLogEntry::OBSERVATION_UNSPECIFIED)
    t.observed.insert(observation_key(e.observed(), e.path()));
}

}  // namespace

std::string observation_key(pb::TxnLogEntry::Observation kind, std::string_view path) {
  std::string k(1, static_cast<char>('0' + kind));
  k.append(path);
  return k;
}

size_t TransactionTable::load(Db& db, WriteSet& ws) {
  by_key_.clear();
  changed_.clear();
  for_each_record<pb::TxnRecord>(db, Cf::kTxns, {}, [&](std::string_view key, pb::TxnRecord& r) {
    if (key.size() != 12) fail_stop_corrupt(Cf::kTxns, key);
    Transaction t;
    t.conn = keys::conn_of_key(key);
    t.record = std::move(r);
    by_key_[{t.conn, t.record.id()}] = std::move(t);
  });
  for (auto& [key, t] : by_key_) {
    if (t.record.layout() == 0) {
      migrate(db, ws, t);
      continue;
    }
    if (t.record.layout() != kTxnLayout)
      fail_stop_corrupt(Cf::kTxns, keys::txn(key.first, key.second));
    for (const pb::TxnLogEntry& e : read_log(db, t)) note_entry(t, e);
    for (const pb::TxnLogEntry& e : t.record.log()) t.log_bytes += e.ByteSizeLong();
    t.view_pending = t.record.writes() > 0;
  }
  return by_key_.size();
}

void TransactionTable::migrate(Db& db, WriteSet& ws, Transaction& t) {
  const std::string prefix = keys::txn_entries(t.conn, t.record.id());
  for_each_record<pb::TxnLogEntry>(db, Cf::kTxnLog, prefix,
                                   [&](std::string_view, pb::TxnLogEntry& e) {
                                     note_entry(t, e);
                                     t.log_bytes += e.ByteSizeLong();
                                     *t.record.add_log() = std::move(e);
                                   });
  // The old view is exact: taken as it is rather than replayed.
  for_each_record<pb::NodeRecord>(db, Cf::kTxnNodes, prefix,
                                  [&](std::string_view node_key, const pb::NodeRecord& rec) {
                                    const std::string path = keys::path_of_txn_node_key(node_key);
                                    t.accessed.insert(path);
                                    if (rec.deleted()) {
                                      t.view.set(path, std::nullopt);
                                    } else {
                                      t.view.set(path, node_from_record(rec));
                                    }
                                  });
  ws.del_prefix(Cf::kTxnLog, prefix);
  ws.del_prefix(Cf::kTxnNodes, prefix);
  t.record.set_layout(kTxnLayout);
  t.record.set_op_count(static_cast<uint32_t>(t.record.log_size()));
  t.record.set_spilled(0);
  spill_if_long(ws, t);
  ws.put_record(Cf::kTxns, keys::txn(t.conn, t.record.id()), t.record);
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
  t.record.set_layout(kTxnLayout);
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
  *t.record.add_log() = entry;
  t.record.set_op_count(t.record.op_count() + 1);
  t.log_bytes += entry.ByteSizeLong();
  note_entry(t, entry);
  spill_if_long(ws, t);
  save(t);
}

void TransactionTable::spill_if_long(WriteSet& ws, Transaction& t) {
  if (t.log_bytes <= kLogSpillBytes) return;
  pb::TxnLogChunk chunk;
  chunk.mutable_entries()->Swap(t.record.mutable_log());
  ws.put_record(Cf::kTxnLog, keys::txn_log(t.conn, t.record.id(), t.record.spilled()), chunk);
  t.record.set_spilled(t.record.op_count());
  t.log_bytes = 0;
}

std::vector<pb::TxnLogEntry> TransactionTable::read_log(StateReader& state, const Transaction& t) {
  std::vector<pb::TxnLogEntry> entries;
  entries.reserve(t.record.op_count());
  if (t.record.spilled() > 0) {
    for_each_record<pb::TxnLogChunk>(state, Cf::kTxnLog, keys::txn_entries(t.conn, t.record.id()),
                                     [&](std::string_view, pb::TxnLogChunk& chunk) {
                                       for (pb::TxnLogEntry& e : *chunk.mutable_entries())
                                         entries.push_back(std::move(e));
                                     });
    if (entries.size() != t.record.spilled()) {
      fail_stop_corrupt(Cf::kTxnLog, keys::txn_entries(t.conn, t.record.id()));
    }
  }
  entries.insert(entries.end(), t.record.log().begin(), t.record.log().end());
  return entries;
}

void TransactionTable::discard(WriteSet& ws, uint64_t conn, uint32_t tx_id) {
  auto it = by_key_.find({conn, tx_id});
  ws.del(Cf::kTxns, keys::txn(conn, tx_id));
  if (it != by_key_.end() && it->second.record.spilled() > 0) {
    ws.del_prefix(Cf::kTxnLog, keys::txn_entries(conn, tx_id));
  }
  if (it != by_key_.end()) by_key_.erase(it);
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
