// IdleWaker: wakes the event loop out of gRPC's completion queue when one of the Poller's
// fds is ready, so that an idle frontend can sleep without a periodic wake-up.
//
// gRPC cannot wait on the frontend's fds, and the loop's one thread serves both, so a
// loop with nothing to do would have to look at the Poller every so often, forever. Once
// it has been idle a while, the loop instead arms this and sleeps in the session's
// completion queue. The waker's own thread sleeps in an epoll of its own on the watched
// fd, the Poller's epoll fd (readable while any fd registered there is ready, the Poller's
// wake-up included: Poller::wake_up() from any thread, stop() among them, reaches a
// sleeping loop this way), and when it fires calls `wake` (SessionClient::wake(), which
// puts an event on the completion queue).
//
// The watch is one-shot: it consumes none of the Poller's events (the loop still
// collects them with Poller::wait()), fires once per arm() at most, and a loop that is
// never idle for long never arms it and pays nothing. arm() goes before the loop blocks:
// an fd made ready since the loop last looked fires the watch at once, so no readiness
// falls between the loop's last look and its sleep.
//
// Thread-safe: arm() from the loop's thread, `wake` called from the waker's thread.
#pragma once

#include <functional>
#include <thread>

#include "common/log.h"
#include "common/result.h"

namespace dxs::frontend {

class IdleWaker {
 public:
  // REQUIRES: watched_fd stays open until the waker is destroyed.
  IdleWaker(int watched_fd, std::function<void()> wake, Logger& log)
      : watched_fd_(watched_fd), wake_(std::move(wake)), log_(log) {}
  // Stops and joins the thread: `wake` is not called once this returns.
  ~IdleWaker();
  IdleWaker(const IdleWaker&) = delete;
  IdleWaker& operator=(const IdleWaker&) = delete;

  // Creates the epoll and starts the thread, disarmed.
  Status start();

  // `wake` is called once, as soon as the watched fd is readable (at once if it already
  // is). Arming an armed waker changes nothing. REQUIRES: start() succeeded.
  void arm();

 private:
  void run();

  const int watched_fd_;
  const std::function<void()> wake_;
  Logger& log_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd: readable once the destructor wants the thread gone
  std::thread thread_;
};

}  // namespace dxs::frontend
