#include "store/low_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace dxs::store {
namespace {

// ioprio_set(2) has no glibc wrapper; these are linux/ioprio.h's.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassIdle = 3;
constexpr int kIoprioClassShift = 13;

void lower_this_thread() {
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  // On Linux PRIO_PROCESS with a thread id sets that thread's nice value alone.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 19);
  (void)::syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, kIoprioClassIdle << kIoprioClassShift);
}

}  // namespace

void run_at_low_priority(const std::function<void()>& job) {
  std::thread worker([&job] {
    lower_this_thread();
    job();
  });
  worker.join();
}

}  // namespace dxs::store
