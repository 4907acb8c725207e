#include "common/grpc_runtime.h"

#include <absl/synchronization/mutex.h>

#include <cstdlib>

namespace dxs {

void configure_grpc_runtime() {
  setenv("GRPC_POLL_STRATEGY", "poll", 0);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace dxs
