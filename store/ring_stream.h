// A ring connection's response stream: where each reply and watch event sits in it.
//
// The store gives every reply and event of a ring connection its place when it produces
// it, while applying the batch, in the order Delivery sends them (delivery.h): events in
// id order, a reply after the events queued before it, a WATCH's first event after its
// reply. Each place is recorded with what it places (ReplyRecord, EventRecord) and the
// stream's end in the ConnectionRecord, all in the request's batch, so a restarted
// store or frontend writes everything where it was placed, however long an event waits
// for the event window. Events that are dropped get no place.
#pragma once

#include <cstddef>
#include <cstdint>

#include "store/connection.h"

namespace dxs::store {

// For a ring connection: appends a message of payload_size bytes (and its header) to c's
// response stream and returns the offset just past it (free-running u32, as the ring's
// indices). 0 and no change for other connections.
uint32_t place_in_ring(Connection& c, size_t payload_size);

// For a ring connection: the sequence number of the last recorded request the ring has
// consumed when `req` was read (its RingMark.consumed), whose replies are therefore in
// the ring; c's replied_seq if none is newer.
uint64_t ring_delivered(const Connection& c, const pb::Request& req);

}  // namespace dxs::store
