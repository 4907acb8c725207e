// A guest's ring connection: the one connection of an introduced domain. The store
// creates it (INTRODUCE, a reset of the ring) and drops it (RELEASE, the domain's death,
// a reset, a broken ring), and tells the frontend with OPEN_RING and CLOSE commands:
// the frontend maps a ring and binds its event channel only when told to.
//
// A new ring connection has an id the store allocates (connection.h) and starts at
// offset 0 of both ring streams; with `reset` the frontend zeroes the ring's indices
// first (a re-introduction or a reconnection, as C xenstored does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/session.pb.h"
#include "store/state.h"

namespace dxs::store {

// The ring connections of domid: one, or none once the frontend closed a broken ring.
std::vector<uint64_t> ring_connections_of(StoreState& s, uint32_t domid);

// The ring features (server_features bits, xenstore-ring.txt) dxs supports: the ring's
// reset by the guest, and the error field. A domain's ring gets all of them unless
// SET_FEATURE chose fewer before INTRODUCE.
constexpr uint32_t kFeatureReconnection = 1;
constexpr uint32_t kFeatureError = 2;
constexpr uint32_t kSupportedFeatures = kFeatureReconnection | kFeatureError;

// The features domid's ring is given.
uint32_t ring_features(const StoreState& s, uint32_t domid);

// Creates the ring connection of ring.domid() and returns its OPEN_RING command.
pb::Outbound open_ring(StoreState& s, const pb::RingAddress& ring, bool reset);

// Drops connection conn with its watches, transactions and queued events, and returns
// its CLOSE command.
pb::Outbound close_ring(StoreState& s, uint64_t conn, std::string reason);

}  // namespace dxs::store
