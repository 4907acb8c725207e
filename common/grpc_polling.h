// gRPC polling strategy for the daemons.
#pragma once

#include <cstdlib>

namespace dxs {

// Selects gRPC's "poll" engine unless GRPC_POLL_STRATEGY is already set. Call before any
// gRPC object exists.
//
// Why: with the default epoll1 engine every thread blocked on any completion queue polls
// one process-wide set, so the Ops server's threads pick up the Session stream's socket
// and hand each batch to the session thread: an extra thread wake-up (about 20 us on a
// small VM) on every request. With "poll" each completion queue polls its own calls.
inline void use_per_queue_polling() {
  setenv("GRPC_POLL_STRATEGY", "poll", 0);
}

}  // namespace dxs
