// Backpressure: a connection whose changes fire events for a watcher far behind waits
// for it (ARCHITECTURE.md section 5, "Fairness"; oxenstored likewise stops reading a
// connection whose events a full watcher cannot take).
//
// Queued events are durable and bounded (the watch-events quota, kPrivilegedEventBacklog),
// so what a writer feeding a watcher that does not read costs is work: the events it
// fires, and its share of the pair's round trips, taken from the clients that do read.
// So once a request of connection S queues an event for a watcher W that has `behind`
// or more events unacknowledged, S's next requests wait, until W has caught up (fewer
// than `behind` unacknowledged) or `hold_ns` has passed since; then they go, and if one
// feeds W again, S waits again. A watcher that never reads holds its writer to about one
// request per hold, a slow one to its own pace; one that reads holds nobody.
//
// As with the conflict guard, no guest holds up the toolstack: an unprivileged
// watcher's backlog holds up unprivileged connections only. A connection is never held
// for its own events (its replies already queue behind them, delivery.h).
//
// Not durable: a restarted store holds nobody, and the frontend re-sends the requests
// it held unanswered.
//
// Memory: one entry per connection held.
// Thread-safety: none (the engine's thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace dxs::store {

struct BackpressureOptions {
  // Unacknowledged events from which a watcher holds up the connections that feed it
  // (0: never).
  uint64_t behind = 1024;
  // The longest one hold lasts, in nanoseconds.
  int64_t hold_ns = 100'000'000;
};

class Backpressure {
 public:
  explicit Backpressure(const BackpressureOptions& options = {}) : options_(options) {}

  // A request of `source` queued an event for `watcher`, which now has `pending` events
  // unacknowledged, at `now_ns` (a monotonic clock). True if that put up a hold (source
  // was not held already).
  bool fed(uint64_t source, bool source_privileged, uint64_t watcher, bool watcher_privileged,
           uint64_t pending, int64_t now_ns);
  // watcher has `pending` events unacknowledged now: below `behind`, what it held goes.
  void acknowledged(uint64_t watcher, uint64_t pending);
  // conn is gone: its holds go, and so do those it held others in.
  void forget(uint64_t conn);

  // Whether a watcher with `pending` events unacknowledged is far enough behind to hold
  // up those that feed it (fed() checks it too; this spares its caller the clock).
  bool behind(uint64_t pending) const { return options_.behind != 0 && pending >= options_.behind; }
  bool any() const { return !holds_.empty(); }
  bool holds(uint64_t conn) const { return holds_.count(conn) != 0; }
  // Lifts the holds that began `hold_ns` or more before `now_ns`; true if any did.
  bool expire(int64_t now_ns);
  // When the oldest hold ends by itself, if any is up.
  std::optional<int64_t> next_expiry() const;
  // How many holds have lifted so far: what waited may go on once this changes.
  uint64_t lifted() const { return lifted_; }

 private:
  struct Hold {
    uint64_t watcher = 0;
    int64_t until_ns = 0;
  };
  void lift(std::map<uint64_t, Hold>::iterator it);

  BackpressureOptions options_;
  // By held connection.
  std::map<uint64_t, Hold> holds_;
  uint64_t lifted_ = 0;
};

}  // namespace dxs::store
