// Process plumbing shared by the daemons: systemd readiness notification and waiting for
// a termination signal.
#pragma once

#include <chrono>
#include <string_view>

namespace dxs {

// Tells systemd (if NOTIFY_SOCKET is set) something like "READY=1"; no-op otherwise or
// when built without libsystemd.
void notify_systemd(std::string_view state);

// Blocks SIGINT and SIGTERM in the calling thread (call before starting other threads so
// they inherit the mask) and ignores SIGPIPE.
void block_termination_signals();

// Caps glibc's malloc arenas at two: by default each thread that allocates (gRPC's and
// RocksDB's included) may get its own arena, and the daemons' memory grows with threads
// that do next to nothing.
void limit_malloc_arenas();

// Feeds systemd's watchdog (WatchdogSec=). Call ping_if_due() on every turn of the loop
// that does the daemon's work, never from a thread of its own: then a loop that hangs (a
// deadlock, a request that never ends) stops the pings and systemd kills and restarts
// the daemon, which is what crash-only is for. It pings at half the interval systemd
// gives, so one slow turn is not fatal; the loop must never block longer than period().
class Watchdog {
 public:
  // Enabled when systemd asked for pings (WATCHDOG_USEC, and WATCHDOG_PID naming this
  // process, through sd_watchdog_enabled()); never when built without libsystemd.
  Watchdog();

  bool enabled() const { return period_.count() > 0; }
  // Half the interval: the longest the loop may go between two calls (0 if disabled).
  std::chrono::microseconds period() const { return period_; }
  // Sends WATCHDOG=1 if period() has passed since the last ping; otherwise costs one
  // clock read. The first call pings.
  void ping_if_due();

 private:
  std::chrono::microseconds period_{0};
  std::chrono::steady_clock::time_point next_{};
};

// Waits for SIGINT or SIGTERM (blocked by block_termination_signals()); returns its number.
int wait_for_termination_signal();

}  // namespace dxs
