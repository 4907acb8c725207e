#include "store/listing_cache.h"

namespace dxs::store {

const std::string* ListingCache::find(const std::string& path, uint64_t stamp) {
  auto it = index_.find(path);
  if (it == index_.end()) return nullptr;
  if (it->second->stamp != stamp) {
    // Listed before its last change: useless from now on.
    bytes_ -= cost(*it->second);
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->listing;
}

void ListingCache::insert(const std::string& path, uint64_t stamp, std::string listing) {
  Entry e{path, stamp, std::move(listing)};
  const size_t c = cost(e);
  if (c > max_bytes_ / 8) return;
  if (auto it = index_.find(path); it != index_.end()) {
    bytes_ -= cost(*it->second);
    lru_.erase(it->second);
    index_.erase(it);
  }
  evict_to(max_bytes_ - c);
  lru_.push_front(std::move(e));
  index_.emplace(lru_.front().path, lru_.begin());
  bytes_ += c;
}

void ListingCache::evict_to(size_t budget) {
  while (bytes_ > budget && !lru_.empty()) {
    bytes_ -= cost(lru_.back());
    index_.erase(lru_.back().path);
    lru_.pop_back();
  }
}

}  // namespace dxs::store
