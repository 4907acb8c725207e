// TransactionTable: open transactions (ARCHITECTURE.md section 5), durable in cf txns
// (the record), cf txn_log (what it observed and the operations to replay) and
// cf txn_nodes (its private view), so they survive a restart of either process.
//
// A transaction reads the tree as of its base commit plus its own writes, until
// retention moves the history horizon past its base: from then on it is outdated, reads
// the current tree instead (its base is being pruned) and its commit answers EAGAIN
// (txn_merge.h). Its log holds
// each thing it observed (a value, a listing, permissions, an absence) once, and each
// operation with the reply the client got. At commit the observations are checked
// against the live tree and the operations replayed onto it (engine.cc).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "proto/records.pb.h"
#include "store/db.h"
#include "store/node_view.h"

namespace dxs::store {

struct Transaction {
  uint64_t conn = 0;
  pb::TxnRecord record;
  // Derived from the log and overlay: distinct nodes touched, and observations logged.
  std::unordered_set<std::string> accessed;
  std::unordered_set<std::string> observed;

  // The commit its view reads at (a SnapshotNodes base).
  uint64_t read_base() const { return record.outdated() ? kCurrentTree : record.base(); }
};

class TransactionTable {
 public:
  size_t load(Db& db);

  Transaction* find(uint64_t conn, uint32_t tx_id);
  Transaction& start(uint64_t conn, uint32_t tx_id, uint64_t base, int64_t now_ns);
  // t's record changed: it is written by the next flush(), once per batch however
  // often it changed (every logged entry counts in the record).
  void save(const Transaction& t) { changed_.insert({t.conn, t.record.id()}); }
  // Writes the changed records into ws; the engine calls it before each commit.
  void flush(WriteSet& ws);
  void append(WriteSet& ws, Transaction& t, const pb::TxnLogEntry& entry);
  std::vector<pb::TxnLogEntry> read_log(StateReader& state, const Transaction& t);
  // Forgets the transaction: record, log and private view.
  void discard(WriteSet& ws, uint64_t conn, uint32_t tx_id);
  void discard_all(WriteSet& ws, uint64_t conn);
  uint32_t count(uint64_t conn) const;
  size_t size() const { return by_key_.size(); }
  // The oldest base of an open transaction not outdated, or `none` if there is none.
  uint64_t oldest_base(uint64_t none) const;
  // Marks outdated every transaction based below horizon (and saves it); returns those
  // that were not already.
  std::vector<const Transaction*> outdate_below(uint64_t horizon);

 private:
  std::map<std::pair<uint64_t, uint32_t>, Transaction> by_key_;
  std::set<std::pair<uint64_t, uint32_t>> changed_;
};

// The key under which an observation is remembered in Transaction::observed.
std::string observation_key(pb::TxnLogEntry::Observation kind, std::string_view path);

}  // namespace dxs::store
