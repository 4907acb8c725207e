// TransactionTable: open transactions (ARCHITECTURE.md section 5), each durable as one
// record in cf txns that carries its log, rewritten once per batch it changed in, so it
// survives a restart of either process and its end deletes one key.
//
// A transaction reads the tree as of its base commit plus its own writes, until
// retention moves the history horizon past its base: from then on it is outdated, reads
// the current tree instead (its base is being pruned) and its commit answers EAGAIN
// (txn_merge.h). Its log holds each thing it observed (a value, a listing, permissions,
// an absence) once, and each operation with the reply the client got. At commit the
// observations are checked against the live tree and the operations replayed onto it
// (txn_merge.h).
//
// Its private view (the nodes it wrote or removed, PrivateNodes) is kept in memory only:
// after a restart it is rebuilt by replaying the logged operations onto the base
// (rebuild_view, txn_merge.h), which reads the same snapshot they ran on. A log longer
// than kLogSpillBytes moves out of the record into cf txn_log in chunks written once, so
// a long transaction does not rewrite its whole log in every batch. A record of the
// previous layout (log and view in cf txn_log and txn_nodes, one key per entry) is
// migrated when loaded.
//
// Memory: the view is bounded as C xenstored's is, by the transaction-nodes and
// node-size quotas (for unprivileged callers); the log kept in memory by kLogSpillBytes
// plus one entry.
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

// The layout of transactions this store writes (TxnRecord.layout).
constexpr uint32_t kTxnLayout = 1;

struct Transaction {
  uint64_t conn = 0;
  // Its record, with the log's entries not yet spilled to cf txn_log.
  pb::TxnRecord record;
  // The nodes it wrote or removed.
  PrivateNodes view;
  // Derived from the log and view: distinct nodes touched, and observations logged.
  std::unordered_set<std::string> accessed;
  std::unordered_set<std::string> observed;
  // Bytes of record.log, serialized.
  size_t log_bytes = 0;
  // Loaded after a restart with its view still to rebuild (rebuild_view).
  bool view_pending = false;
  // Its view could not be rebuilt as it was (an operation no longer applies to its base
  // as it did: the caller's rights changed across the restart): its commit is EAGAIN.
  bool unreplayable = false;

  // The commit its view reads at (a SnapshotNodes base).
  uint64_t read_base() const { return record.outdated() ? kCurrentTree : record.base(); }
};

class TransactionTable {
 public:
  // Beyond this many bytes of log in its record, a transaction's log moves to cf txn_log.
  static constexpr size_t kLogSpillBytes = 8 << 10;

  // Loads every open transaction; a record of the previous layout is migrated, its new
  // record and the removal of its old keys written into ws.
  size_t load(Db& db, WriteSet& ws);

  Transaction* find(uint64_t conn, uint32_t tx_id);
  Transaction& start(uint64_t conn, uint32_t tx_id, uint64_t base, int64_t now_ns);
  // t's record changed: it is written by the next flush(), once per batch however
  // often it changed (every logged entry counts in the record).
  void save(const Transaction& t) { changed_.insert({t.conn, t.record.id()}); }
  // Writes the changed records into ws; the engine calls it before each commit.
  void flush(WriteSet& ws);
  void append(WriteSet& ws, Transaction& t, const pb::TxnLogEntry& entry);
  // The whole log, in order: the chunks spilled to cf txn_log, then the record's.
  std::vector<pb::TxnLogEntry> read_log(StateReader& state, const Transaction& t);
  // Forgets the transaction: its record (and spilled log, if any).
  void discard(WriteSet& ws, uint64_t conn, uint32_t tx_id);
  void discard_all(WriteSet& ws, uint64_t conn);
  uint32_t count(uint64_t conn) const;
  size_t size() const { return by_key_.size(); }
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (auto& [key, t] : by_key_) fn(t);
  }
  // The oldest base of an open transaction not outdated, or `none` if there is none.
  uint64_t oldest_base(uint64_t none) const;
  // Marks outdated every transaction based below horizon (and saves it); returns those
  // that were not already.
  std::vector<const Transaction*> outdate_below(uint64_t horizon);

 private:
  // Moves t's record.log into a chunk of cf txn_log once it is over kLogSpillBytes.
  void spill_if_long(WriteSet& ws, Transaction& t);
  // A record of layout 0: its log and view read from their keys into t, which is
  // written back in this layout, and the old keys deleted.
  void migrate(Db& db, WriteSet& ws, Transaction& t);

  std::map<std::pair<uint64_t, uint32_t>, Transaction> by_key_;
  std::set<std::pair<uint64_t, uint32_t>> changed_;
};

// The key under which an observation is remembered in Transaction::observed.
std::string observation_key(pb::TxnLogEntry::Observation kind, std::string_view path);

}  // namespace dxs::store
