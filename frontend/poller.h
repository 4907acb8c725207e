// Poller: the frontend's readiness multiplexer (epoll) and its wake-up (an eventfd).
//
// Every file descriptor the frontend waits on is registered here by the transport that
// owns it, with the FdHandler to call when it is ready: client sockets and the listening
// socket now, event-channel fds later. The event loop alone waits (wait()); a transport
// never blocks on its own.
//
// Single-threaded except wake_up(). A handler is called only from wait(); once remove()
// has returned it is not called again, not even for an event wait() had already
// collected in the same round, so a handler may remove any fd (its own included) and be
// destroyed at once.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

#include "common/log.h"
#include "common/result.h"

namespace dxs::frontend {

class FdHandler {
 public:
  virtual ~FdHandler() = default;
  // `events`: the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLRDHUP, ...).
  virtual void on_fd_ready(uint32_t events) = 0;
};

class Poller {
 public:
  explicit Poller(Logger& log) : log_(log) {}
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Creates the epoll and eventfd descriptors. REQUIRES: before any other call.
  Status open();

  // `events` as for epoll_ctl. The handler must outlive its registration.
  Status add(int fd, uint32_t events, FdHandler& handler);
  Status modify(int fd, uint32_t events, FdHandler& handler);
  void remove(int fd, FdHandler& handler);

  // Waits up to timeout_ms (0: only what is ready; -1: no limit) and calls the handler of
  // each ready fd. Returns how many handlers it called (a wake-up alone counts none).
  // REQUIRES: not called from a handler (one round at a time).
  int wait(int timeout_ms);

  // Thread-safe: makes a blocked (or the next) wait() return.
  void wake_up();

  // The epoll descriptor itself: readable while a registered fd is ready or a wake-up
  // is pending, for a thread that waits for the Poller without taking its events
  // (idle_waker.h). Valid after open().
  int fd() const { return epoll_fd_; }

 private:
  static constexpr int kMaxEvents = 256;

  Logger& log_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  // The round wait() is dispatching, so that remove() can cancel its rest.
  epoll_event* round_ = nullptr;
  int round_next_ = 0;
  int round_size_ = 0;
};

}  // namespace dxs::frontend
