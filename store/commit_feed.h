// CommitFeed: the last durable commit, for readers that wait for new ones (the History
// API's Follow). The engine publishes the highest commit after each group commit is
// written; a follower waits for one beyond what it has streamed, then reads the commits
// from a fresh snapshot. The feed carries a number only: followers never hold up the
// engine, which never waits for them.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace dxs::store {

class CommitFeed {
 public:
  explicit CommitFeed(uint64_t last = 0) : last_(last) {}

  // Commits up to `last` are durable (a smaller number than before is ignored).
  void publish(uint64_t last);
  // The store is stopping: every waiter returns, and waits return at once from now on.
  void close();

  uint64_t last() const;
  bool closed() const;

  // Waits until a commit beyond `seen` is durable, the feed is closed, or `timeout`
  // passes (a caller's chance to notice its client went away); returns the last
  // durable commit.
  uint64_t wait_beyond(uint64_t seen, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t last_;
  bool closed_ = false;
};

}  // namespace dxs::store
