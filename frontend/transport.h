// Transport: one way Xenstore clients reach the frontend (the Unix socket, guests' rings).
//
// A transport registers its file descriptors with the Poller and does its reading from
// their handlers; what it reads goes to the Dispatch, what the Dispatch sends back is
// queued until flush_pending(). The event loop serves every transport through this
// interface and knows nothing else of them, so a new transport plugs in without a change
// to the loop. All calls come from the loop's thread.
#pragma once

#include <chrono>

namespace dxs::frontend {

class Transport {
 public:
  virtual ~Transport() = default;

  // Work the transport can do without an fd becoming ready (clients that may be read
  // again, rings with requests not yet taken). Called every round, spinning included, so
  // it must cost no system call when there is nothing to do. Returns how much it did.
  virtual int run_pending() = 0;

  // When run_pending() next has work that comes from the clock, not from an fd (a
  // rescan): the loop, however idle, calls it by then. time_point::max(): never.
  virtual std::chrono::steady_clock::time_point next_timer() const {
    return std::chrono::steady_clock::time_point::max();
  }

  // Writes what was queued for clients since the last call. The loop calls it after each
  // round of work, so that a client gets a whole batch's replies at once.
  virtual void flush_pending() = 0;
};

}  // namespace dxs::frontend
