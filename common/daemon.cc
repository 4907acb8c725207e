#include "common/daemon.h"

#include <malloc.h>

#include <csignal>
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
