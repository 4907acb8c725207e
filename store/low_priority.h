// Work that must never hold up clients (history's reads: an export of a million commits,
// a log walked from the start) runs on a thread of its own at the lowest CPU priority
// (nice 19) and idle I/O priority: on a busy dom0 it gets what the engine, the frontend
// and their clients leave. An unprivileged process can lower a thread's priority but
// never raise it again, so the thread is made for the work and ends with it; a thread
// costs tens of microseconds, history's calls milliseconds and more.
//
// The work holds no lock of the engine's: it reads a RocksDB snapshot, whose own
// mutexes are held for moments, so a starved thread stalls nobody but its caller.
#pragma once

#include <functional>

namespace dxs::store {

// Runs job on a new thread at the lowest priority and returns when it is done. If the
// priority cannot be lowered, the job runs all the same.
void run_at_low_priority(const std::function<void()>& job);

}  // namespace dxs::store
