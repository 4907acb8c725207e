// Process plumbing shared by the daemons: systemd readiness notification and waiting for
// a termination signal.
#pragma once

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

// Waits for SIGINT or SIGTERM (blocked by block_termination_signals()); returns its number.
int wait_for_termination_signal();

}  // namespace dxs
