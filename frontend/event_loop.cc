#include "frontend/event_loop.h"

#include <sched.h>

#include <algorithm>

#include "common/daemon.h"

namespace dxs::frontend {

void EventLoop::run() {
  using Clock = std::chrono::steady_clock;
  using std::chrono::microseconds;
  // While a batch is at the store, wait in gRPC in slices: a reply normally ends the
  // wait far sooner; the slice only bounds how long new client requests may sit unread
  // if the store is slow.
  const microseconds await_slice(1000);
  const microseconds spin(options_.spin_us);

  // Pinged from this loop, the one thread that serves every client: if it hangs, systemd
  // notices. Its longest wait, the idle one, is kept under the ping period.
  Watchdog watchdog;
  int idle_ms = options_.idle_ms;
  if (watchdog.enabled()) {
    const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(watchdog.period());
    idle_ms = static_cast<int>(std::clamp<int64_t>(period.count(), 1, idle_ms));
  }

  session_.start();
  bool announced = false;
  auto last_work = Clock::now();
  while (!stopping_ && !session_.superseded()) {
    watchdog.ping_if_due();
    int handled = session_.poll(microseconds(0));
    // What the store answered goes out before any client is read again: a socket's
    // requests are consumed as their replies are written, and only then may a request
    // read later report those replies delivered (socket_transport.h).
    if (handled > 0) flush_clients();
    if (session_.attached()) {
      if (!announced) {
        log_.info("attached to the store");
        notify_systemd("READY=1");
        announced = true;
      }
      handled += serve_clients(0);
    }
    flush_clients();
    if (handled > 0) {
      last_work = Clock::now();
      continue;
    }
    if (Clock::now() - last_work < spin) {
      sched_yield();  // polling: any other runnable thread (a client, the store) goes first
    } else if (!session_.attached() || session_.awaiting()) {
      session_.poll(await_slice);
      flush_clients();
    } else {
      serve_clients(idle_ms);
    }
  }
  flush_clients();
  session_.stop();
  while (!session_.stopped()) session_.poll(await_slice);
}

void EventLoop::stop() {
  stopping_ = true;
  poller_.wake_up();
}

int EventLoop::serve_clients(int timeout_ms) {
  int handled = 0;
  for (Transport* t : transports_) handled += t->run_pending();
  return handled + poller_.wait(handled > 0 ? 0 : timeout_ms);
}

void EventLoop::flush_clients() {
  for (Transport* t : transports_) t->flush_pending();
}

}  // namespace dxs::frontend
