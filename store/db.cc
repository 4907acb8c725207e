#include "store/db.h"

#include <google/protobuf/message_lite.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>
#include <rocksdb/write_buffer_manager.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "common/printable.h"
#include "common/unix_socket.h"

namespace dxs::store {
namespace {

constexpr const char* kCfNames[] = {
    "default",  // meta (RocksDB's default column family)
    "nodes",   "versions", "commits",   "connections", "watches",      "events",
    "domains", "txns",     "txn_nodes", "txn_log",     "domain_nodes",
};
static_assert(std::size(kCfNames) == static_cast<size_t>(Cf::kCount));

// A RocksDB iterator that owns the upper bound its ReadOptions point to.
class BoundedIterator final : public rocksdb::Iterator {
 public:
  BoundedIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view prefix,
                  const rocksdb::Snapshot* snapshot = nullptr)
      : upper_(keys::prefix_end(prefix)), upper_slice_(upper_) {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot;
    if (!upper_.empty()) options.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(options, cf));
  }
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(const rocksdb::Slice& target) override { it_->Seek(target); }
  void SeekForPrev(const rocksdb::Slice& target) override { it_->SeekForPrev(target); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  rocksdb::Slice key() const override { return it_->key(); }
  rocksdb::Slice value() const override { return it_->value(); }
  rocksdb::Status status() const override { return it_->status(); }

 private:
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Where a node's record, or one of its versions, goes in a memtable's skiplist: beside the
// last key inserted with the same parent. A node key is dirname 0x00 basename and a
// version's key continues with 0x00 ~seq, so the bytes up to the first 0x00 are the
// parent's path (paths hold no NUL); the root's own key has no 0x00 and is inserted
// without a hint. RocksDB keeps one insert position (about 250 bytes of the memtable) per
// parent written since the last flush and starts the search from it: rewriting a node,
// or creating the next of a directory's children, climbs a level or two of the skiplist
// instead of searching it from the top.
class ParentOfKey final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "dxs.ParentOfKey"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data(), 0, key.size());
    return rocksdb::Slice(key.data(), static_cast<const char*>(nul) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), 0, key.size()) != nullptr;
  }
};

[[noreturn]] void die(const char* what, const std::string& detail) {
  fail_stop(std::string(what) + ": " + detail);
}

}  // namespace

void fail_stop_corrupt(Cf c, std::string_view key) {
  fail_stop(fmt::format("corrupt record in column family {} at key '{}'",
                        kCfNames[static_cast<size_t>(c)], printable(key, 64)));
}

bool StateReader::get_record(Cf c, std::string_view key, google::protobuf::MessageLite* record) {
  std::string value;
  if (!get(c, key, &value)) return false;
  if (!record->ParseFromString(value)) fail_stop_corrupt(c, key);
  return true;
}

std::vector<std::string> key_suffixes(StateReader& reader, Cf c, std::string_view prefix) {
  std::vector<std::string> suffixes;
  for_each_entry(reader, c, prefix, [&](std::string_view key, std::string_view) {
    suffixes.emplace_back(key.substr(prefix.size()));
  });
  return suffixes;
}

Result<std::unique_ptr<Db>> Db::open(const DbOptions& options, Logger& log) {
  DXS_RETURN_IF_ERROR(make_directories(options.dir, 0700));

  // One memory budget for the whole store: the memtables of every column family are
  // charged to the block cache, so memory stays near block_cache_bytes however many
  // nodes there are (the data itself is on disk). One shard, not RocksDB's default of a
  // shard per 512 KiB: the memtables are charged as pinned 256 KiB entries, which fill
  // any small shard they hash to, and every data block that shard is given afterwards is
  // evicted as soon as it is read, to be read from the file again by the next lookup.
  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options.block_cache_bytes, /*num_shard_bits=*/0);
  auto table_options = rocksdb::BlockBasedTableOptions();
  table_options.block_cache = cache;
  table_options.cache_index_and_filter_blocks = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  // Creating a node looks up paths that do not exist (the node, missing parents, a
  // transaction's base versions): Bloom filters answer those without reading blocks.
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = options.write_buffer_bytes;
  cf_options.max_write_buffer_number = 2;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.block_cache_bytes / 2, cache);
  db_options.max_total_wal_size = 4 * options.write_buffer_bytes;
  // RocksDB's own LOG file is enough for its internals; ours goes to `log`.
  db_options.info_log_level = rocksdb::WARN_LEVEL;
  // One thread writes (the engine's): RocksDB's machinery for concurrent writers and
  // its adaptive spinning in the write queue only cost time.
  db_options.allow_concurrent_memtable_write = false;
  db_options.enable_write_thread_adaptive_yield = false;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kCfNames) descriptors.emplace_back(name, cf_options);
  // A connection's record is rewritten by every request it makes, a domain's by every
  // node it adds, a transaction's by every write in it, and all three are read back only
  // when the store starts. Their memtables are vectors, appended to and sorted once when
  // read or flushed, instead of skiplists searched on every insert. (Updating them in
  // place instead would turn off RocksDB's snapshots for the whole database.)
  for (Cf c : {Cf::kConnections, Cf::kDomains, Cf::kTxns}) {
    rocksdb::ColumnFamilyOptions& o = descriptors[static_cast<size_t>(c)].options;
    o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  }
  auto parent_of_key = std::make_shared<ParentOfKey>();
  for (Cf c : {Cf::kNodes, Cf::kVersions}) {
    descriptors[static_cast<size_t>(c)].options.memtable_insert_with_hint_prefix_extractor =
        parent_of_key;
  }

  std::unique_ptr<Db> db(new Db());
  db->dir_ = options.dir;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, descriptors, &handles, &raw);
  if (!s.ok()) {
    return Status::error(EIO, "opening RocksDB in " + options.dir + ": " + s.ToString());
  }
  db->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) db->handles_[i] = handles[i];
  db->write_options_.sync = options.sync;
  log.info("state in {} (RocksDB {}.{}; WAL {})", options.dir, ROCKSDB_MAJOR, ROCKSDB_MINOR,
           options.sync ? "fsynced on every commit" : "written, not fsynced");
  return db;
}

Db::~Db() {
  if (!db_) return;
  for (auto* h : handles_) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
  }
  db_->Close();
}

bool Db::get(Cf c, std::string_view key, std::string* value) {
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(c), rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) die("read", s.ToString());
  return true;
}

std::unique_ptr<rocksdb::Iterator> Db::iterate(Cf c, std::string_view prefix) {
  return std::make_unique<BoundedIterator>(db_.get(), cf(c), prefix);
}

void Db::write(rocksdb::WriteBatch* batch) {
  rocksdb::Status s = db_->Write(write_options_, batch);
  if (!s.ok()) die("RocksDB write of a group commit failed", s.ToString());
  writes_.fetch_add(1, std::memory_order_release);
}

DbSnapshot::DbSnapshot(Db& db) : db_(db), snapshot_(db.raw()->GetSnapshot()) {}

DbSnapshot::~DbSnapshot() {
  db_.raw()->ReleaseSnapshot(snapshot_);
}

bool DbSnapshot::get(Cf c, std::string_view key, std::string* value) {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot_;
  rocksdb::Status s =
      db_.raw()->Get(options, db_.cf(c), rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) die("read", s.ToString());
  return true;
}

std::unique_ptr<rocksdb::Iterator> DbSnapshot::iterate(Cf c, std::string_view prefix) {
  return std::make_unique<BoundedIterator>(db_.raw(), db_.cf(c), prefix, snapshot_);
}

uint64_t Db::disk_bytes() {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

WriteSet::WriteSet(Db& db) : db_(db), batch_(rocksdb::BytewiseComparator(), 0, true) {}

bool WriteSet::get(Cf c, std::string_view key, std::string* value) {
  ++counts_.reads;
  check_readable(c);
  if (c == Cf::kNodes && !written_nodes_.contains(key)) return get_node(key, value);
  const rocksdb::Slice k(key.data(), key.size());
  rocksdb::Status s =
      dirty(c) ? batch_.GetFromBatchAndDB(db_.raw(), rocksdb::ReadOptions(), db_.cf(c), k, value)
               : db_.raw()->Get(rocksdb::ReadOptions(), db_.cf(c), k, value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) die("read", s.ToString());
  return true;
}

// A node the batch has not written: as committed, from the cache or the database.
bool WriteSet::get_node(std::string_view key, std::string* value) {
  if (nodes_as_of_ != db_.writes()) {
    nodes_cache_.clear();
    nodes_as_of_ = db_.writes();
  }
  if (const std::optional<std::string>* cached = nodes_cache_.find(key)) {
    if (!*cached) return false;
    *value = **cached;
    return true;
  }
  rocksdb::Status s = db_.raw()->Get(rocksdb::ReadOptions(), db_.cf(Cf::kNodes),
                                     rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) {
    nodes_cache_.insert_absent(key);
    return false;
  }
  if (!s.ok()) die("read", s.ToString());
  nodes_cache_.insert(key, *value);
  return true;
}

void WriteSet::check_readable(Cf c) const {
  // The batch's index does not hold this column family's writes: reading them back
  // would return what was committed before, silently.
  if (!indexed(c) && dirty(c)) {
    fail_stop(fmt::format("column family {} read back in the batch that wrote it",
                          kCfNames[static_cast<size_t>(c)]));
  }
}

void WriteSet::note_written(Cf c, std::string_view key) {
  mark_dirty(c);
  if (!indexed(c)) ++counts_.unindexed_writes;
  if (c == Cf::kNodes && !written_nodes_.contains(key)) written_nodes_.emplace(key);
}

void WriteSet::put(Cf c, std::string_view key, std::string_view value) {
  ++counts_.writes;
  note_written(c, key);
  const rocksdb::Slice k(key.data(), key.size());
  const rocksdb::Slice v(value.data(), value.size());
  rocksdb::Status s =
      indexed(c) ? batch_.Put(db_.cf(c), k, v) : batch_.GetWriteBatch()->Put(db_.cf(c), k, v);
  if (!s.ok()) die("batch put", s.ToString());
}

void WriteSet::put_record(Cf c, std::string_view key, const google::protobuf::MessageLite& record) {
  put(c, key, record.SerializeAsString());
}

void WriteSet::del(Cf c, std::string_view key) {
  ++counts_.writes;
  note_written(c, key);
  const rocksdb::Slice k(key.data(), key.size());
  rocksdb::Status s =
      indexed(c) ? batch_.Delete(db_.cf(c), k) : batch_.GetWriteBatch()->Delete(db_.cf(c), k);
  if (!s.ok()) die("batch delete", s.ToString());
}

void WriteSet::del_prefix(Cf c, std::string_view prefix) {
  std::vector<std::string> doomed;
  auto it = iterate(c, prefix);
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() && keys::starts_with(it->key(), prefix); it->Next()) {
    doomed.push_back(it->key().ToString());
  }
  for (const auto& k : doomed) del(c, k);
}

std::unique_ptr<rocksdb::Iterator> WriteSet::iterate(Cf c, std::string_view prefix) {
  ++counts_.iterators;
  check_readable(c);
  if (!dirty(c)) return db_.iterate(c, prefix);
  return std::unique_ptr<rocksdb::Iterator>(
      batch_.NewIteratorWithBase(db_.cf(c), db_.iterate(c, prefix).release()));
}

void WriteSet::set_savepoint() {
  batch_.SetSavePoint();
  savepoint_counts_.push_back(batch_.GetWriteBatch()->Count());
}

void WriteSet::rollback_to_savepoint() {
  // Most failing requests fail before writing (ENOENT, EACCES, a quota): their rollback
  // has nothing to undo, and RollbackToSavePoint would still rebuild the index of every
  // write the batch's earlier requests made.
  if (!savepoint_counts_.empty() && savepoint_counts_.back() == batch_.GetWriteBatch()->Count()) {
    pop_savepoint();
    return;
  }
  rocksdb::Status s = batch_.RollbackToSavePoint();
  if (!s.ok()) die("rollback", s.ToString());
  if (!savepoint_counts_.empty()) savepoint_counts_.pop_back();
  ++counts_.index_rebuilds;
}

void WriteSet::pop_savepoint() {
  rocksdb::Status s = batch_.PopSavePoint();
  if (!s.ok()) die("pop savepoint", s.ToString());
  if (!savepoint_counts_.empty()) savepoint_counts_.pop_back();
}

void WriteSet::commit() {
  const bool cache_current = nodes_as_of_ == db_.writes();
  if (batch_.GetWriteBatch()->Count() > 0) db_.write(batch_.GetWriteBatch());
  if (cache_current) {
    // What the batch wrote is committed now: a node written is cached as written (the
    // next request on it usually reads it first), one deleted or rolled back is dropped.
    static const rocksdb::DBOptions kNoMergeOperator;
    std::string value;
    for (const std::string& key : written_nodes_) {
      rocksdb::Status s = batch_.GetFromBatch(db_.cf(Cf::kNodes), kNoMergeOperator, key, &value);
      if (s.ok()) {
        nodes_cache_.insert(key, value);
      } else {
        nodes_cache_.erase(key);
      }
    }
  } else {
    nodes_cache_.clear();
  }
  batch_.Clear();
  savepoint_counts_.clear();
  dirty_ = 0;
  nodes_as_of_ = db_.writes();
  written_nodes_.clear();
}

namespace keys {

void append_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void append_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string be64(uint64_t v) {
  std::string out;
  append_be64(out, v);
  return out;
}

std::string be32(uint32_t v) {
  std::string out;
  append_be32(out, v);
  return out;
}

uint64_t load_be64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

uint32_t load_be32(std::string_view s) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

std::string node(std::string_view path) {
  if (path == "/") return "/";
  size_t slash = path.rfind('/');
  std::string k;
  k.reserve(path.size());
  k.append(path.substr(0, slash));
  k.push_back('\0');
  k.append(path.substr(slash + 1));
  return k;
}

std::string children_prefix(std::string_view path) {
  std::string k;
  if (path != "/") k.append(path);
  k.push_back('\0');
  return k;
}

std::string path_of_node_key(std::string_view key) {
  if (key == "/") return "/";
  size_t nul = key.find('\0');
  std::string p;
  p.reserve(key.size() + 1);
  p.append(key.substr(0, nul));
  p.push_back('/');
  p.append(key.substr(nul + 1));
  return p;
}

std::string versions_prefix(std::string_view path) {
  std::string k = node(path);
  k.push_back('\0');
  return k;
}

std::string version(std::string_view path, uint64_t seq) {
  std::string k = versions_prefix(path);
  append_be64(k, ~seq);
  return k;
}

uint64_t version_seq(std::string_view key) {
  return ~load_be64(key.substr(key.size() - 8));
}

bool is_version_of(std::string_view key, std::string_view prefix) {
  return key.size() == prefix.size() + 8 && key.substr(0, prefix.size()) == prefix;
}

std::optional<std::pair<std::string_view, uint64_t>> child_version(std::string_view key,
                                                                   std::string_view prefix) {
  // children_prefix(p) name 0x00 ~seq(BE64)
  if (key.size() < prefix.size() + 9) return std::nullopt;
  const std::string_view name = key.substr(prefix.size(), key.size() - prefix.size() - 9);
  if (name.find('\0') != std::string_view::npos) return std::nullopt;  // further below
  return std::make_pair(name, version_seq(key));
}

std::string commit(uint64_t seq) {
  return be64(seq);
}

std::optional<uint64_t> commit_seq(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return load_be64(key);
}

std::string connection(uint64_t conn) {
  return be64(conn);
}

std::string event(uint64_t conn, uint64_t event_id) {
  return be64(conn) + be64(event_id);
}

std::string events_of(uint64_t conn) {
  return connection(conn);
}

std::string event_log(uint64_t batch) {
  return event(0, batch);
}

std::string watch(uint64_t conn, std::string_view path, std::string_view token) {
  std::string k = be64(conn);
  k.append(path);
  k.push_back('\0');
  k.append(token);
  return k;
}

std::string domain(uint32_t domid) {
  return be32(domid);
}

std::string txn(uint64_t conn, uint32_t tx_id) {
  return be64(conn) + be32(tx_id);
}

std::string txn_entries(uint64_t conn, uint32_t tx_id) {
  return txn(conn, tx_id);
}

std::string txn_node(uint64_t conn, uint32_t tx_id, std::string_view path) {
  std::string k = txn_entries(conn, tx_id);
  k.append(node(path));
  return k;
}

std::string txn_children_prefix(uint64_t conn, uint32_t tx_id, std::string_view path) {
  return txn_entries(conn, tx_id) + children_prefix(path);
}

std::string txn_log(uint64_t conn, uint32_t tx_id, uint32_t index) {
  std::string k = txn_entries(conn, tx_id);
  append_be32(k, index);
  return k;
}

std::string domain_node(uint32_t domid, std::string_view path) {
  std::string k = be32(domid);
  k.append(path);
  return k;
}

std::string domain_nodes_of(uint32_t domid) {
  return be32(domid);
}

std::optional<std::pair<uint32_t, std::string_view>> parse_domain_node(std::string_view key) {
  if (key.size() < 5) return std::nullopt;
  return std::make_pair(load_be32(key.substr(0, 4)), key.substr(4));
}

uint64_t conn_of_key(std::string_view key) {
  return load_be64(key.substr(0, 8));
}

std::string path_of_txn_node_key(std::string_view key) {
  return path_of_node_key(key.substr(12));
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

bool starts_with(const rocksdb::Slice& key, std::string_view prefix) {
  // An empty prefix may have no data pointer at all, which memcmp must not be given.
  if (prefix.empty()) return true;
  return key.size() >= prefix.size() && std::memcmp(key.data(), prefix.data(), prefix.size()) == 0;
}

}  // namespace keys
}  // namespace dxs::store
