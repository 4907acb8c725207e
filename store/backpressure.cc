#include "store/backpressure.h"

#include <algorithm>

namespace dxs::store {

bool Backpressure::fed(uint64_t source, bool source_privileged, uint64_t watcher,
                       bool watcher_privileged, uint64_t pending, int64_t now_ns) {
  if (!behind(pending) || source == watcher) return false;
  if (source_privileged && !watcher_privileged) return false;
  auto [it, added] = holds_.try_emplace(source);
  // Renewed by every event it feeds meanwhile: the hold runs from the last one.
  it->second = Hold{watcher, now_ns + options_.hold_ns};
  return added;
}

void Backpressure::acknowledged(uint64_t watcher, uint64_t pending) {
  if (holds_.empty() || behind(pending)) return;
  for (auto it = holds_.begin(); it != holds_.end();) {
    auto next = std::next(it);
    if (it->second.watcher == watcher) lift(it);
    it = next;
  }
}

void Backpressure::forget(uint64_t conn) {
  for (auto it = holds_.begin(); it != holds_.end();) {
    auto next = std::next(it);
    if (it->first == conn || it->second.watcher == conn) lift(it);
    it = next;
  }
}

bool Backpressure::expire(int64_t now_ns) {
  const uint64_t before = lifted_;
  for (auto it = holds_.begin(); it != holds_.end();) {
    auto next = std::next(it);
    if (it->second.until_ns <= now_ns) lift(it);
    it = next;
  }
  return lifted_ != before;
}

std::optional<int64_t> Backpressure::next_expiry() const {
  if (holds_.empty()) return std::nullopt;
  int64_t first = holds_.begin()->second.until_ns;
  for (const auto& [conn, hold] : holds_) first = std::min(first, hold.until_ns);
  return first;
}

void Backpressure::lift(std::map<uint64_t, Hold>::iterator it) {
  holds_.erase(it);
  ++lifted_;
}

}  // namespace dxs::store
