#include "common/grpc_runtime.h"

#include <absl/synchronization/mutex.h>
#include <grpc/support/log.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace dxs {
namespace {

constexpr double kBurst = 20;

void rate_limited_log(gpr_log_func_args* args) {
  static std::mutex mu;
  static double allowance = kBurst;
  static std::chrono::steady_clock::time_point last{};
  static uint64_t dropped = 0;
  std::lock_guard lock(mu);
  const auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{}) {
    allowance = std::min(kBurst, allowance + std::chrono::duration<double>(now - last).count());
  }
  last = now;
  if (allowance < 1) {
    ++dropped;
    return;
  }
  allowance -= 1;
  const char* severity = gpr_log_severity_string(args->severity);
  if (dropped > 0) {
    std::fprintf(stderr, "grpc %s: %s (%s:%d; %llu gRPC lines not logged before this one)\n",
                 severity, args->message, args->file, args->line,
                 static_cast<unsigned long long>(dropped));
    dropped = 0;
  } else {
    std::fprintf(stderr, "grpc %s: %s (%s:%d)\n", severity, args->message, args->file, args->line);
  }
}

}  // namespace

void configure_grpc_runtime() {
  setenv("GRPC_POLL_STRATEGY", "poll", 0);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  gpr_set_log_function(rate_limited_log);
}

}  // namespace dxs
