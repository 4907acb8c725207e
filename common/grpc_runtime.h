// How the daemons set up gRPC's runtime. Call configure_grpc_runtime() in main() before
// any gRPC object exists.
#pragma once

namespace dxs {

// - Selects gRPC's "poll" engine unless GRPC_POLL_STRATEGY is already set. With the
//   default epoll1 engine every thread blocked on any completion queue polls one
//   process-wide set, so the Ops server's threads pick up the Session stream's socket and
//   hand each batch to the session thread: an extra thread wake-up (about 20 us on a
//   small VM) on every request. With "poll" each completion queue polls its own calls.
// - Turns off Abseil's mutex deadlock detection, which Debian's build leaves on: it
//   tracks every lock gRPC takes (a few per cent of the CPU of each request).
// - Rate-limits gRPC's own log lines (a burst of 20, then one a second, the next line
//   saying how many were dropped): any network peer of the store's TLS listener makes
//   one per failed handshake, and must not fill dom0's journal.
void configure_grpc_runtime();

}  // namespace dxs
