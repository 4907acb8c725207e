// CPU time a running process has used so far, from /proc/<pid>/task/*/schedstat (the
// first field: nanoseconds on the CPU), summed over its threads — the same source
// tests/bench/profile.sh reads, finer than /proc/<pid>/stat's clock ticks. Threads that
// exit between two samples take their time with them; the daemons measured keep theirs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace bench {

// Nanoseconds, or nullopt if the process is gone or /proc cannot be read.
std::optional<uint64_t> process_cpu_ns(pid_t pid);

}  // namespace bench
