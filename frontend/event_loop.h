// EventLoop: the frontend's one worker thread. It serves the client sockets (epoll) and
// the store session (gRPC completion queue) itself, so a request and its reply are never
// handed between threads: on a small VM a thread wake-up costs more than the request.
//
// The loop blocks where the next event is expected: in gRPC while a batch is at the
// store (client requests that arrive meanwhile are read with the reply, into the next
// batch), in epoll when nothing is. Before blocking it polls both for `spin_us` after
// its last piece of work, which spares the wake-up when the next event is a few
// microseconds away: the store's answer to a small batch usually is. An idle loop also
// looks at the session every `idle_ms`, for messages no request is waiting for (watch
// events caused through the Ops API).
#pragma once

#include <atomic>
#include <chrono>

#include "common/log.h"
#include "frontend/session_client.h"
#include "frontend/socket_transport.h"

namespace dxs::frontend {

struct EventLoopOptions {
  int spin_us = 50;
  int idle_ms = 10;
};

class EventLoop {
 public:
  EventLoop(SessionClient& session, SocketTransport& sockets, Logger& log, EventLoopOptions options)
      : session_(session), sockets_(sockets), log_(log), options_(options) {}

  // Serves until stop(); returns once the session has wound down.
  void run();
  // Thread-safe.
  void stop();

 private:
  SessionClient& session_;
  SocketTransport& sockets_;
  Logger& log_;
  EventLoopOptions options_;
  std::atomic<bool> stopping_{false};
};

}  // namespace dxs::frontend
