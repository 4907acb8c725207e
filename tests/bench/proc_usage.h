// What a running process uses, for the benchmarks' per-request and memory rows.
//
// CPU time so far, from /proc/<pid>/task/*/schedstat (the first field: nanoseconds on
// the CPU), summed over its threads — the same source tests/bench/profile.sh reads,
// finer than /proc/<pid>/stat's clock ticks. Threads that exit between two samples take
// their time with them; the daemons measured keep theirs. Resident memory now, from
// /proc/<pid>/status (VmRSS).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace bench {

// Nanoseconds, or nullopt if the process is gone or /proc cannot be read.
std::optional<uint64_t> process_cpu_ns(pid_t pid);

// Kilobytes, or nullopt if the process is gone or /proc cannot be read.
std::optional<uint64_t> process_rss_kb(pid_t pid);

}  // namespace bench
