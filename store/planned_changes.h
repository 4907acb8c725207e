// What a request is about to change on the live tree, told before it runs, so that
// the engine can hold it back while a guarded transaction observes it (conflict_guard.h).
//
// A plain WRITE, MKDIR, RM or SET_PERMS names its path; a commit (TRANSACTION_END T)
// changes what its transaction's operations name. A WRITE or MKDIR of a node that does
// not exist yet creates it, and maybe its ancestors. What the request would be refused
// (a bad path, a missing transaction) changes nothing and waits for nothing.
#pragma once

#include <vector>

#include "proto/session.pb.h"
#include "store/conflict_guard.h"
#include "store/connection.h"

namespace dxs::store {

struct StoreState;

std::vector<PlannedChange> planned_changes(StoreState& s, const Connection& c,
                                           const pb::Request& req);

}  // namespace dxs::store
