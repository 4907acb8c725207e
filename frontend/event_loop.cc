#include "frontend/event_loop.h"

#include <sched.h>

#include <algorithm>

#include "common/daemon.h"
#include "frontend/idle_waker.h"

namespace dxs::frontend {

void EventLoop::run() {
  using Clock = std::chrono::steady_clock;
  using std::chrono::microseconds;
  // While a batch is at the store, wait in gRPC in slices: a reply normally ends the
  // wait far sooner; the slice only bounds how long new client requests may sit unread
  // if the store is slow.
  const microseconds await_slice(1000);
  const auto await_slice_ms = std::chrono::duration_cast<std::chrono::milliseconds>(await_slice);
  const microseconds spin(options_.spin_us);
  const std::chrono::milliseconds sleep_after(options_.sleep_after_ms);

  // Pinged from this loop, the one thread that serves every client: if it hangs, systemd
  // notices. Its longest wait, the idle one, is kept under the ping period (so is the
  // sleep: sleep()).
  Watchdog watchdog;
  int idle_ms = options_.idle_ms;
  if (watchdog.enabled()) {
    const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(watchdog.period());
    idle_ms = static_cast<int>(std::clamp<int64_t>(period.count(), 1, idle_ms));
  }
  // Joined before run() returns, so that it never wakes a session being destroyed.
  IdleWaker waker(
      poller_.fd(), [this] { session_.wake(); }, log_);
  const bool may_sleep = static_cast<bool>(waker.start());
  if (!may_sleep) log_.warn("cannot start the idle waker: looking every {} ms when idle", idle_ms);

  session_.start();
  bool announced = false;
  auto last_work = Clock::now();  // for the spin: the last round that did something
  auto last_event = last_work;    // for the sleep: the last anything, idle waits included
  bool asleep_logged = false;
  while (!stopping_ && !session_.superseded()) {
    watchdog.ping_if_due();
    int handled = session_.poll_if_ready();
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
      // The Poller also says when the store's socket is readable (the session's handler
      // notes it for the next round's poll_if_ready()).
      handled += serve_clients(0);
    }
    flush_clients();
    const auto now = Clock::now();
    if (handled > 0) {
      last_work = last_event = now;
      asleep_logged = false;
      continue;
    }
    if (now - last_work < spin) {
      sched_yield();  // polling: any other runnable thread (a client, the store) goes first
    } else if (session_.needs_grpc_wait()) {
      if (session_.poll(await_slice) > 0) last_event = Clock::now();
      flush_clients();
    } else if (may_sleep && !session_.awaiting() && now - last_event >= sleep_after) {
      if (!asleep_logged) {
        log_.debug("idle for {} ms: sleeping until a client, a guest or the store has something",
                   options_.sleep_after_ms);
        asleep_logged = true;
      }
      // What the store sends keeps the loop awake as a client's request does; the
      // waker's wake-up is not work (the round it leads to says whether there is any).
      if (sleep(waker, watchdog) > 0) {
        last_event = Clock::now();
        asleep_logged = false;
      }
    } else {
      // The store's answer (its socket is in the Poller) or a client's request ends the
      // wait; then the session is asked once, for what gRPC completed from a thread of its
      // own, which the Poller never sees. A batch at the store bounds the wait to a slice.
      const int timeout_ms =
          session_.awaiting() ? static_cast<int>(await_slice_ms.count()) : idle_ms;
      if (serve_clients(timeout_ms) > 0) {
        last_event = Clock::now();
      } else if (session_.poll(microseconds(0)) > 0) {
        last_event = Clock::now();
        flush_clients();
      }
    }
  }
  flush_clients();
  session_.stop();
  while (!session_.stopped()) session_.poll(await_slice);
}

int EventLoop::sleep(IdleWaker& waker, const Watchdog& watchdog) {
  using Clock = std::chrono::steady_clock;
  // Armed before the wait: an fd made ready since this round's look at the Poller fires
  // it at once, so nothing falls between that look and the sleep.
  waker.arm();
  const auto now = Clock::now();
  auto until = Clock::time_point::max();
  for (Transport* t : transports_) until = std::min(until, t->next_timer());
  if (watchdog.enabled()) until = std::min(until, now + watchdog.period());
  const auto timeout =
      until == Clock::time_point::max()
          ? SessionClient::kForever
          : std::max(std::chrono::microseconds(0),
                     std::chrono::duration_cast<std::chrono::microseconds>(until - now));
  const int handled = session_.poll(timeout);
  flush_clients();
  return handled;
}

void EventLoop::stop() {
  stopping_ = true;
  // Wakes a loop waiting in the Poller, and through the waker one asleep in the session.
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
