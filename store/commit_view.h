// CommitView: one commit record as the History API shows it (proto/history.proto), with
// its change set resolved into whole node states.
//
// A main commit's change of a tree node is read from cf versions: its state after at
// (path, seq), its state before at (path, before_version). A version retention pruned
// reads as unknown (NodeState version 0, exists false), never as an error: history
// older than the horizon is allowed to be gone. A special node's change (@...) holds
// both states itself. A branch commit's changes hold their state after; the state before
// is the node in the tree at the branch's base (unknown if the base is below the
// horizon). Branch changes of a parent's list of children alone are not shown, as a main
// commit does not list them, and several changes of one path in a branch are shown as
// one, from the state before the first to the state after the last.
//
// Costs: the header is the record; the change set costs two point reads per change on
// the StateReader (a DbSnapshot, off the engine's lock), plus one tree read per change
// of a branch commit.
#pragma once

#include <cstdint>

#include "proto/history.pb.h"
#include "proto/records.pb.h"
#include "store/db.h"

namespace dxs::store {

// The commit's header: everything but its change set.
pb::CommitView commit_header(uint64_t seq, const pb::CommitRecord& record);

// The header and, with with_changes, the change set and state changes whole.
pb::CommitView commit_view(StateReader& state, uint64_t seq, const pb::CommitRecord& record,
                           bool with_changes);

// A node's state as commit `version` wrote it to cf versions; unknown (version 0, not
// existing) for version 0 or a version no longer held.
pb::NodeState version_state(StateReader& state, std::string_view path, uint64_t version);

}  // namespace dxs::store
