// Fail-stop: when dxs-store can no longer trust its state (a write RocksDB refused, a
// record that does not parse), it stops at once with one log line, before anyone is
// answered from a memory that may no longer match the disk. Recovery is from disk, by
// the restart systemd (or the operator) makes: crash-only, ARCHITECTURE.md section 4.
#pragma once

#include <string_view>

namespace dxs::store {

// Writes "dxs-store: fatal: <what>; stopping ..." to stderr and aborts. Never returns.
[[noreturn]] void fail_stop(std::string_view what);

}  // namespace dxs::store
