// Db: dxs-store's RocksDB database, its column families and its key encoding. This is
// the only file that knows how state is laid out on disk.
//
// Layout (column family: key -> value record from proto/records.proto):
//   meta:        name                                 -> bytes (schema, counters, ACLs)
//   nodes:       node_key(path)                       -> NodeRecord (current tree)
//   versions:    node_key(path) 0x00 ~seq(BE64)       -> NodeRecord, tombstone if deleted
//   commits:     seq(BE64)                            -> CommitRecord
//   connections: conn(BE64)                           -> ConnectionRecord (with the
//                                                         replies not yet delivered)
//   watches:     conn(BE64) path 0x00 token           -> WatchRecord
//   events:      conn(BE64) event_id(BE64)            -> EventChunk (the events from
//                                                         this one on, moved out of the
//                                                         event log), or EventRecord (one
//                                                         event, as stores before wrote)
//                0(BE64) batch(BE64)                  -> EventLogRecord (event_log.h)
//   domains:     domid(BE32)                          -> DomainRecord
//   txns:        conn(BE64) tx_id(BE32)               -> TxnRecord, with its log
//   txn_log:     conn(BE64) tx_id(BE32) index(BE32)   -> TxnLogChunk (a long log's
//                                                         entries from index on)
//   txn_nodes, and txn_log's TxnLogEntry per index: the layout before TxnRecord.layout 1,
//                read only to migrate it (store/txn.h)
//
// node_key("/") = "/"; node_key(p) = dirname(p) 0x00 basename(p), where dirname of a
// child of the root is "". So the children of p are exactly the keys starting with
// children_prefix(p) = (p == "/" ? "" : p) 0x00, listed in byte order, and a node's
// versions sort newest first.
//
// Thread-safety: a Db may be read from any thread; WriteSet is single-threaded.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "store/fail_stop.h"
#include "store/record_cache.h"

namespace google::protobuf {
class MessageLite;
}

namespace dxs::store {

enum class Cf {
  kMeta = 0,
  kNodes,
  kVersions,
  kCommits,
  kConnections,
  kWatches,
  kEvents,
  kDomains,
  kTxns,
  kTxnNodes,
  kTxnLog,
  kDomainNodes,
  kCount,
};

// 2: the domain_nodes column family (store/domain_nodes.h), which a store of schema 1
// builds when it opens.
constexpr uint32_t kSchemaVersion = 2;

struct DbOptions {
  std::string dir;
  // fsync the WAL on every group commit. Off by default: the WAL is written before any
  // reply, which survives a crash of either process; see ARCHITECTURE.md section 2.
  bool sync = false;
  // Memory for RocksDB: the block cache, which the memtables are charged to (up to half).
  size_t block_cache_bytes = 16 << 20;
  // Size at which one column family's memtable is flushed to disk.
  size_t write_buffer_bytes = 4 << 20;
};

// Reads of the store's state, whichever state it is: the database as committed (Db), a
// consistent point-in-time snapshot of it (DbSnapshot), or the group commit being built
// (WriteSet). Code that only reads takes a StateReader, so it runs unchanged on the
// engine's thread and on readers that must not hold the engine up.
class StateReader {
 public:
  virtual ~StateReader() = default;
  virtual bool get(Cf c, std::string_view key, std::string* value) = 0;
  // An iterator over column family c. With a prefix, RocksDB stops at the end of the
  // keys that start with it: a scan never steps over deleted keys beyond its range,
  // which after many transactions and acknowledged events are most keys. The caller
  // still checks the prefix (keys of a WriteSet's batch are not bounded).
  virtual std::unique_ptr<rocksdb::Iterator> iterate(Cf c, std::string_view prefix = {}) = 0;

  // Parses a record; false if absent. A record that does not parse is corruption: the
  // store stops (fail_stop), since a restart will not make it parse either but says where.
  bool get_record(Cf c, std::string_view key, google::protobuf::MessageLite* record);
};

// The one scan of a prefix: calls fn(key, value) for every key of column family c that
// starts with prefix, in key order. fn must not write to the WriteSet being iterated.
template <typename Fn>
void for_each_entry(StateReader& reader, Cf c, std::string_view prefix, Fn&& fn);
// As for_each_entry, with each value parsed as R. A value that does not parse stops the
// store.
template <typename R, typename Fn>
void for_each_record(StateReader& reader, Cf c, std::string_view prefix, Fn&& fn);
// The rest of every key of column family c after prefix, in key order: the names below a
// prefix, as the children of a node are.
std::vector<std::string> key_suffixes(StateReader& reader, Cf c, std::string_view prefix);

// Stops the store over a record of column family c that does not parse.
[[noreturn]] void fail_stop_corrupt(Cf c, std::string_view key);

class Db final : public StateReader {
 public:
  // Opens or creates the database in options.dir (created if missing).
  static Result<std::unique_ptr<Db>> open(const DbOptions& options, Logger& log);
  ~Db();

  rocksdb::DB* raw() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Cf c) { return handles_[static_cast<size_t>(c)]; }
  const rocksdb::WriteOptions& write_options() const { return write_options_; }

  // Committed state only (no batch in progress).
  bool get(Cf c, std::string_view key, std::string* value) override;
  std::unique_ptr<rocksdb::Iterator> iterate(Cf c, std::string_view prefix = {}) override;
  // Writes one batch atomically. A write RocksDB refuses stops the store (fail_stop):
  // what the engine holds in memory would no longer match the disk. Every write to the
  // database goes through here.
  void write(rocksdb::WriteBatch* batch);
  // How many batches write() has written: a WriteSet's node cache is as of one count.
  uint64_t writes() const { return writes_.load(std::memory_order_acquire); }

  // Approximate on-disk bytes (SST + WAL) for benchmarks and `control memreport`.
  uint64_t disk_bytes();

 private:
  Db() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, static_cast<size_t>(Cf::kCount)> handles_{};
  rocksdb::WriteOptions write_options_;
  std::string dir_;
  std::atomic<uint64_t> writes_{0};
};

// The database as it was when the snapshot was taken, whatever is committed after: for
// readers off the engine's thread (the Ops API), which see one consistent state.
// Thread-safety: one thread at a time per DbSnapshot; any number of them at once.
class DbSnapshot final : public StateReader {
 public:
  explicit DbSnapshot(Db& db);
  ~DbSnapshot() override;
  DbSnapshot(const DbSnapshot&) = delete;
  DbSnapshot& operator=(const DbSnapshot&) = delete;

  bool get(Cf c, std::string_view key, std::string* value) override;
  std::unique_ptr<rocksdb::Iterator> iterate(Cf c, std::string_view prefix = {}) override;

 private:
  Db& db_;
  const rocksdb::Snapshot* snapshot_;
};

// The RocksDB operations made through a WriteSet since it was created: point reads,
// iterators opened, and the puts and deletes put into its batches (what a request costs
// the database, for tests and benchmarks); of those writes, how many went into the batch
// without its index; and how often a rollback rebuilt the batch's index, which costs as
// much as every write in the batch again (neither counted in total()).
struct DbOpCounts {
  uint64_t reads = 0;
  uint64_t iterators = 0;
  uint64_t writes = 0;
  uint64_t unindexed_writes = 0;
  uint64_t index_rebuilds = 0;
  uint64_t total() const { return reads + iterators + writes; }
};

// The writes of one group commit, readable before they are committed: every get and
// iterator sees the database with this set's writes applied. Savepoints let one request
// be undone without touching the others in the batch. Nodes read again are served from a
// cache of committed values (record_cache.h) while the batch has not written them.
class WriteSet final : public StateReader {
 public:
  explicit WriteSet(Db& db);

  bool get(Cf c, std::string_view key, std::string* value) override;
  void put(Cf c, std::string_view key, std::string_view value);
  void put_record(Cf c, std::string_view key, const google::protobuf::MessageLite& record);
  void del(Cf c, std::string_view key);
  // Deletes every key starting with prefix (as individual deletes).
  void del_prefix(Cf c, std::string_view prefix);
  // Iterates the database with this set's writes applied (prefix as StateReader's).
  std::unique_ptr<rocksdb::Iterator> iterate(Cf c, std::string_view prefix = {}) override;

  // Savepoints nest. Rolling back to one that nothing was written since is as cheap as
  // popping it; otherwise RocksDB rebuilds the whole batch's index.
  void set_savepoint();
  void rollback_to_savepoint();
  void pop_savepoint();

  bool empty() { return batch_.GetWriteBatch()->Count() == 0; }
  // Writes everything atomically (or stops the store, as Db::write) and starts a new,
  // empty set.
  void commit();

  const DbOpCounts& op_counts() const { return counts_; }

 private:
  // The column families written while the store runs but read back only when it starts
  // (by Db, in ConnectionTable, DomainTable and TransactionTable::load): their writes go
  // into the batch without the index, whose every entry costs a search of it (two, for
  // a key written again) and is one more for every other search to step over. Reading
  // one through a WriteSet that wrote it stops the store.
  static bool indexed(Cf c) { return c != Cf::kConnections && c != Cf::kDomains && c != Cf::kTxns; }
  void check_readable(Cf c) const;
  bool dirty(Cf c) const { return (dirty_ >> static_cast<unsigned>(c)) & 1u; }
  void mark_dirty(Cf c) { dirty_ |= 1u << static_cast<unsigned>(c); }
  bool get_node(std::string_view key, std::string* value);
  void note_written(Cf c, std::string_view key);

  Db& db_;
  rocksdb::WriteBatchWithIndex batch_;
  // Committed nodes, as of Db::writes() == nodes_as_of_ (a write not made by commit(),
  // as tests make, empties it), and the node keys this batch has written since its last
  // commit, which are read from the batch instead (a savepoint rolled back leaves them
  // in: harmless).
  RecordCache nodes_cache_{kNodeCacheBytes};
  uint64_t nodes_as_of_ = 0;
  std::set<std::string, std::less<>> written_nodes_;
  static constexpr size_t kNodeCacheBytes = 1 << 20;
  // Column families this set has written to since its last commit (a savepoint rolled
  // back leaves its bits set: harmless). Reads of the others skip the batch's index.
  uint32_t dirty_ = 0;
  // The batch's operation count at each savepoint still set, innermost last.
  std::vector<uint32_t> savepoint_counts_;
  DbOpCounts counts_;
};

namespace keys {

std::string node(std::string_view path);
std::string children_prefix(std::string_view path);
// Inverse of node(); REQUIRES: a key of cf nodes.
std::string path_of_node_key(std::string_view key);
std::string version(std::string_view path, uint64_t seq);
// Prefix of every version of path.
std::string versions_prefix(std::string_view path);
// Decodes the sequence number at the end of a version key.
uint64_t version_seq(std::string_view key);
// Whether a versions key is a version of the node whose versions_prefix() is `prefix`
// (and not of a node below it).
bool is_version_of(std::string_view key, std::string_view prefix);
// For a versions key that starts with children_prefix(p): the name of the child of p it
// is a version of, and the version's sequence number; nullopt for a node further below.
std::optional<std::pair<std::string_view, uint64_t>> child_version(std::string_view key,
                                                                   std::string_view prefix);

std::string commit(uint64_t seq);
// The sequence number of a commits key; nullopt if it is not one.
std::optional<uint64_t> commit_seq(std::string_view key);
std::string connection(uint64_t conn);
std::string watch(uint64_t conn, std::string_view path, std::string_view token);
std::string event(uint64_t conn, uint64_t event_id);
// Prefix of every event of conn.
std::string events_of(uint64_t conn);
// The event log's record of a batch (connection 0, which no connection has).
std::string event_log(uint64_t batch);
std::string domain(uint32_t domid);
std::string txn(uint64_t conn, uint32_t tx_id);
// Prefix of the transaction's entries in txn_nodes and txn_log.
std::string txn_entries(uint64_t conn, uint32_t tx_id);
std::string txn_node(uint64_t conn, uint32_t tx_id, std::string_view path);
// Prefix of the transaction's txn_nodes entries for the children of path; the rest of
// each key is the child's name.
std::string txn_children_prefix(uint64_t conn, uint32_t tx_id, std::string_view path);
std::string txn_log(uint64_t conn, uint32_t tx_id, uint32_t index);

// A node whose permissions name domid (store/domain_nodes.h): BE32 domid, then the path.
std::string domain_node(uint32_t domid, std::string_view path);
// Prefix of every domain_nodes key of domid.
std::string domain_nodes_of(uint32_t domid);

// Decoders of the keys above. REQUIRES: a key of that column family.
uint64_t conn_of_key(std::string_view key);  // watches, events, txns, txn_nodes, txn_log
// The path of a txn_nodes key.
std::string path_of_txn_node_key(std::string_view key);
// The domid and the path of a domain_nodes key; nullopt if it is too short to be one.
std::optional<std::pair<uint32_t, std::string_view>> parse_domain_node(std::string_view key);

// Big-endian fixed-width integers, so byte order is numeric order.
void append_be64(std::string& out, uint64_t v);
void append_be32(std::string& out, uint32_t v);
std::string be64(uint64_t v);
std::string be32(uint32_t v);
uint64_t load_be64(std::string_view s);
uint32_t load_be32(std::string_view s);

// The first key after every key starting with prefix ("" if none).
std::string prefix_end(std::string_view prefix);
bool starts_with(const rocksdb::Slice& key, std::string_view prefix);

}  // namespace keys

template <typename Fn>
void for_each_entry(StateReader& reader, Cf c, std::string_view prefix, Fn&& fn) {
  auto it = reader.iterate(c, prefix);
  const rocksdb::Slice start(prefix.data(), prefix.size());
  for (prefix.empty() ? it->SeekToFirst() : it->Seek(start);
       it->Valid() && keys::starts_with(it->key(), prefix); it->Next()) {
    fn(std::string_view(it->key().data(), it->key().size()),
       std::string_view(it->value().data(), it->value().size()));
  }
}

template <typename R, typename Fn>
void for_each_record(StateReader& reader, Cf c, std::string_view prefix, Fn&& fn) {
  for_each_entry(reader, c, prefix, [&](std::string_view key, std::string_view value) {
    R record;
    if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      fail_stop_corrupt(c, key);
    }
    fn(key, record);
  });
}

// Names of the meta column family's entries.
namespace meta {
inline constexpr std::string_view kSchemaVersion = "schema_version";
inline constexpr std::string_view kConnIdBase = "conn_id_base";
// The generation of the frontend attached last (BE64): Engine::hello.
inline constexpr std::string_view kFrontendGeneration = "frontend_generation";
// The highest socket connection id opened (BE64): Welcome.last_socket_conn.
inline constexpr std::string_view kLastSocketConn = "last_socket_conn";
// The next id of a ring connection (BE64): the store allocates those itself.
inline constexpr std::string_view kNextRingConn = "next_ring_conn";
// The oldest commit history still holds (BE64; absent: every commit since the first).
// Commits before it, and the versions only they read, have been pruned (retention).
inline constexpr std::string_view kHistoryHorizon = "history_horizon";
// The key of private paths' value digests (docs/design.md, "Privacy").
inline constexpr std::string_view kPrivacyKey = "privacy_key";
// How far private values were redacted: BE64 commit, then the patterns it was done for
// (store/retention.h).
inline constexpr std::string_view kPrivacyRedacted = "privacy_redacted";
inline constexpr std::string_view kSpecialPermsPrefix = "special_perms:";
inline constexpr std::string_view kQuotaPrefix = "quota:";
}  // namespace meta

}  // namespace dxs::store
