#include "store/record_cache.h"

namespace dxs::store {

const std::optional<std::string>* RecordCache::find(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->value;
}

void RecordCache::insert(std::string_view key, std::string_view value) {
  put(Entry{std::string(key), std::string(value)});
}

void RecordCache::insert_absent(std::string_view key) {
  put(Entry{std::string(key), std::nullopt});
}

void RecordCache::put(Entry e) {
  erase(e.key);
  const size_t c = cost(e);
  if (c > max_bytes_) return;
  evict_to(max_bytes_ - c);
  lru_.push_front(std::move(e));
  index_.emplace(lru_.front().key, lru_.begin());
  bytes_ += c;
}

void RecordCache::erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  auto entry = it->second;
  bytes_ -= cost(*entry);
  index_.erase(it);
  lru_.erase(entry);
}

void RecordCache::clear() {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

void RecordCache::evict_to(size_t budget) {
  while (bytes_ > budget && !lru_.empty()) {
    const Entry& last = lru_.back();
    bytes_ -= cost(last);
    index_.erase(last.key);
    lru_.pop_back();
  }
}

}  // namespace dxs::store
