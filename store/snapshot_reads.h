// The Ops API's reads of the live tree (READ, GET_PERMS, DIRECTORY, DIRECTORY_PART
// outside a transaction), answered from a RocksDB snapshot of the last commit, on the
// caller's thread and off the engine's lock: an operator's long `dxsctl ls` (and the
// history reads to come) never holds clients up. The snapshot holds every acknowledged
// change, as every reply waits for its commit. The caller is the privileged ops client,
// with dom0's rights, so no permission or quota applies to it.
#pragma once

#include <optional>

#include "proto/session.pb.h"
#include "store/db.h"

namespace dxs::store {

// Whether `request` is one of the reads above.
bool is_snapshot_read(const pb::Request& request);

// Answers a snapshot read, as the engine would have answered it.
// REQUIRES: is_snapshot_read(request).
pb::Reply read_from_snapshot(Db& db, const pb::Request& request);

}  // namespace dxs::store
