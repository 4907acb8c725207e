// EventLoop: the frontend's one worker thread. It serves every client transport (through
// the Poller and the Transport interface) and the store session (gRPC completion queue)
// itself, so a request and its reply are never handed between threads: on a small VM a
// thread wake-up costs more than the request.
//
// The store's socket is in the Poller beside the clients' (session_client.h), so one
// epoll_wait waits for a client and for the store, and the completion queue is asked only
// when that socket was readable or an operation is under way. Before blocking the loop
// polls for `spin_us` after its last piece of work, which spares the wake-up when the
// next event is a few microseconds away: the store's answer to a small batch usually is.
// While a batch is at the store it blocks in the Poller for at most a millisecond at a
// time, then asks the session once (a completion gRPC queued from a thread of its own
// is not seen by the Poller); while the stream is set up, wound down or has a write the
// socket has not taken, it blocks in gRPC instead. An idle loop waits in the Poller,
// looking at the session every `idle_ms`.
//
// After `sleep_after_ms` without work it sleeps instead: in gRPC, with no deadline but
// the transports' timers (next_timer()) and the watchdog's, and with the IdleWaker
// (idle_waker.h) armed to wake it through the session (SessionClient::wake()) as soon as
// an fd in the Poller is ready. An idle frontend then takes no CPU at all, and pays for
// it with one thread hand-off on its first event, never under steady traffic.
#pragma once

#include <atomic>
#include <chrono>
#include <vector>

#include "common/log.h"
#include "frontend/poller.h"
#include "frontend/session_client.h"
#include "frontend/transport.h"

namespace dxs {
class Watchdog;
}

namespace dxs::frontend {

class IdleWaker;

struct EventLoopOptions {
  int spin_us = 50;
  int idle_ms = 10;
  int sleep_after_ms = 250;
};

class EventLoop {
 public:
  // REQUIRES: the session and the poller outlive the loop.
  EventLoop(SessionClient& session, Poller& poller, Logger& log, EventLoopOptions options)
      : session_(session), poller_(poller), log_(log), options_(options) {}

  // REQUIRES: before run(); the transport outlives run().
  void add_transport(Transport& transport) { transports_.push_back(&transport); }

  // Serves until stop(); returns once the session has wound down.
  void run();
  // Thread-safe.
  void stop();

 private:
  // One look at every transport: its pending work, then the Poller for up to
  // timeout_ms (not at all if there was pending work). Returns the work done.
  int serve_clients(int timeout_ms);
  void flush_clients();
  // Blocks in the session until an event, the waker or the next timer; then flushes.
  // Returns the session events handled.
  int sleep(IdleWaker& waker, const Watchdog& watchdog);

  SessionClient& session_;
  Poller& poller_;
  Logger& log_;
  EventLoopOptions options_;
  std::vector<Transport*> transports_;
  std::atomic<bool> stopping_{false};
};

}  // namespace dxs::frontend
