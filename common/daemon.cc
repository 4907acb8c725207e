#include "common/daemon.h"

#include <malloc.h>

#include <csignal>
#include <cstdint>
#include <string>

#ifdef DXS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace dxs {

void notify_systemd(std::string_view state) {
#ifdef DXS_HAVE_SYSTEMD
  sd_notify(0, std::string(state).c_str());
#else
  (void)state;
#endif
}

Watchdog::Watchdog() {
#ifdef DXS_HAVE_SYSTEMD
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) period_ = std::chrono::microseconds(usec / 2);
#endif
}

void Watchdog::ping_if_due() {
  if (!enabled()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  notify_systemd("WATCHDOG=1");
  next_ = now + period_;
}

void limit_malloc_arenas() {
  mallopt(M_ARENA_MAX, 2);
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace dxs
