// What the History API shows of private paths (privacy.h): never a value, whatever
// state it is. History's own records keep superseded private values only as digests,
// but a node's latest version holds its live value (the tree needs it), and a reply
// built from it would carry the value out of the store, into a terminal's scrollback or
// a git export that outlives the value. So every node state a History reply carries,
// for a path under history.private-paths, is shown as `redacted` with its value's keyed
// digest: that it changed still shows, the value does not. The live tree's Ops API
// (dxsctl read) still reads live values, with the read role.
#pragma once

#include "proto/history.pb.h"
#include "store/privacy.h"

namespace dxs::store {

// Redacts, in place, the node states of private paths in each reply.
void redact_private(const Privacy& privacy, pb::CommitView& view);
void redact_private(const Privacy& privacy, pb::AtReply& reply);
void redact_private(const Privacy& privacy, pb::BlameReply& reply);
void redact_private(const Privacy& privacy, pb::DiffReply& reply);

}  // namespace dxs::store
