// ListingCache: recent DIRECTORY answers of the live tree, in memory.
//
// A node's list of children is a scan of its children's keys in RocksDB; toolstacks
// list the same directories again and again (backend/vif, device/vbd, ...). An entry
// is valid while the node's children_modified stamp is the one it was listed at:
// every change of the list (create, remove, a merged transaction) gives the node a
// new stamp, so nothing needs invalidating. Entries are evicted least recently used
// beyond a byte budget. Only listings of the live tree belong here, never a
// transaction's or a snapshot's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dxs::store {

class ListingCache {
 public:
  explicit ListingCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The listing of path made at `stamp`, or nullptr.
  const std::string* find(const std::string& path, uint64_t stamp);
  // Keeps a listing (NUL-separated names) unless it is too large to be worth a slot.
  void insert(const std::string& path, uint64_t stamp, std::string listing);

  size_t bytes() const { return bytes_; }
  size_t entries() const { return index_.size(); }

 private:
  struct Entry {
    std::string path;
    uint64_t stamp;
    std::string listing;
  };
  static size_t cost(const Entry& e) { return e.path.size() + e.listing.size() + 64; }
  void evict_to(size_t budget);

  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
};

}  // namespace dxs::store
