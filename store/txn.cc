#include "store/txn.h"

#include <cstdio>

namespace dxs::store {
namespace {

[[noreturn]] void corrupt(const char* what) {
  std::fprintf(stderr, "dxs-store: fatal: corrupt %s record\n", what);
  std::abort();
}

}  // namespace

std::string observation_key(pb::TxnLogEntry::Observation kind, std::string_view path) {
  std::string k(1, static_cast<char>('0' + kind));
  k.append(path);
  return k;
}

size_t TransactionTable::load(Db& db) {
  by_key_.clear();
  auto it = db.iterate(Cf::kTxns);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 12) corrupt("transaction");
    Transaction t;
    t.conn = keys::load_be64(std::string_view(it->key().data(), 8));
    if (!t.record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      corrupt("transaction");
    }
    by_key_[{t.conn, t.record.id()}] = std::move(t);
  }
  // Rebuild the derived sets from each transaction's log and private view.
  for (auto& [key, t] : by_key_) {
    const std::string prefix = keys::txn(key.first, key.second);
    auto log = db.iterate(Cf::kTxnLog, prefix);
    for (log->Seek(prefix); log->Valid() && keys::starts_with(log->key(), prefix); log->Next()) {
      pb::TxnLogEntry e;
      if (!e.ParseFromArray(log->value().data(), static_cast<int>(log->value().size())))
        corrupt("txn log");
      t.accessed.insert(e.path());
      if (e.observed() != pb::TxnLogEntry::OBSERVATION_UNSPECIFIED) {
        t.observed.insert(observation_key(e.observed(), e.path()));
      }
    }
    auto nodes = db.iterate(Cf::kTxnNodes, prefix);
    for (nodes->Seek(prefix); nodes->Valid() && keys::starts_with(nodes->key(), prefix);
         nodes->Next()) {
      t.accessed.insert(keys::path_of_node_key(std::string_view(
          nodes->key().data() + prefix.size(), nodes->key().size() - prefix.size())));
    }
  }
  return by_key_.size();
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

std::vector<pb::TxnLogEntry> TransactionTable::read_log(WriteSet& ws, const Transaction& t) {
  std::vector<pb::TxnLogEntry> entries;
  const std::string prefix = keys::txn(t.conn, t.record.id());
  auto it = ws.iterate(Cf::kTxnLog, prefix);
  for (it->Seek(prefix); it->Valid() && keys::starts_with(it->key(), prefix); it->Next()) {
    pb::TxnLogEntry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      corrupt("txn log");
    entries.push_back(std::move(e));
  }
  return entries;
}

void TransactionTable::discard(WriteSet& ws, uint64_t conn, uint32_t tx_id) {
  const std::string prefix = keys::txn(conn, tx_id);
  ws.del(Cf::kTxns, prefix);
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
