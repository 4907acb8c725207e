#include "store/commit_feed.h"

namespace dxs::store {

void CommitFeed::publish(uint64_t last) {
  {
    std::lock_guard lock(mu_);
    if (last <= last_) return;
    last_ = last;
  }
  cv_.notify_all();
}

void CommitFeed::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

uint64_t CommitFeed::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

bool CommitFeed::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

uint64_t CommitFeed::wait_beyond(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || last_ > seen; });
  return last_;
}

}  // namespace dxs::store
