// The watch events a change fires (reference section 3.3), queued durably for each
// watcher in the request's batch (event_log.h) and handed to Delivery.
//
// A change at P fires every watch at or above P (a node removed below the root of an
// RM, only those exactly on it); a merged transaction fires once per node it changed.
// XSA-115: an unprivileged watcher hears of a change only if it may read the node, its
// parent, or (for a permission change) could read the node before. Events beyond the
// watcher's backlog quota are dropped and counted, and an event too large to frame is
// dropped (XSA-324).
#pragma once

#include <cstdint>
#include <string_view>

#include "store/request.h"
#include "store/state.h"

namespace dxs::store {

// Fires the watches of r's committed changes, then its special events.
void fire_watches(StoreState& s, Request& r);

// Queues one event for connection `conn`: delivered in its turn, or, with after_reply,
// right after r's reply (a WATCH's first event).
void queue_event(StoreState& s, Request& r, uint64_t conn, std::string_view path,
                 std::string_view token, bool after_reply = false);

// Gives an event queued for c its place in c's ring (ring_stream.h) and logs it with
// the batch (event_log.h). queue_event does so at once; for an event that follows r's reply,
// the engine does once the reply has its place, so that places are in delivery order.
void settle_event(StoreState& s, Connection& c, pb::Outbound& event);

}  // namespace dxs::store
