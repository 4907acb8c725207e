// RecordCache: the committed values of recently read keys of one column family, in
// memory, bounded in bytes; the least recently used go first. It saves the RocksDB read
// (a memtable skiplist search of every version written since the last flush, about as
// much work as the rest of a READ) for nodes read again and again: a toolstack polling a
// backend's state, a driver re-reading its configuration.
//
// It also remembers keys read and found absent: creating a node, and transactions, look
// up many paths that do not exist, and a RocksDB read that finds nothing searches every
// memtable and consults every file's filter.
//
// It holds no uncommitted value: WriteSet (db.h) consults it only for keys its batch has
// not written, and updates it with what a batch wrote once the batch is committed.
// Thread-safety: none; one owner (the engine's WriteSet).
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dxs::store {

class RecordCache {
 public:
  explicit RecordCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // What is cached for key, now the most recently used: its value, or nullopt if the key
  // is known to be absent; nullptr if nothing is cached. The pointer is good until the
  // next call that is not const.
  const std::optional<std::string>* find(std::string_view key);
  // Caches value as key's committed value (or, without one, that key is absent),
  // evicting the least recently used until the cache fits. A record larger than the
  // whole budget is not cached.
  void insert(std::string_view key, std::string_view value);
  void insert_absent(std::string_view key);
  void erase(std::string_view key);
  void clear();

  size_t bytes() const { return bytes_; }
  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string key;
    std::optional<std::string> value;
  };
  // What an entry is charged: its bytes, and what holding them costs besides: the list
  // node (96 bytes with malloc's header), the index's node (48) and bucket (8), and the
  // two strings' own allocations (24 each).
  static size_t cost(const Entry& e) {
    return e.key.size() + (e.value ? e.value->size() : 0) + 200;
  }
  void put(Entry e);
  void evict_to(size_t budget);

  size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // keys in lru_
};

}  // namespace dxs::store
