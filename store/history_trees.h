// History's reads of past trees (the History API's At, Diff and Blame, without gRPC), on
// point_in_time.h's trees of retained commits.
//
// Everything reads one StateReader, in practice a DbSnapshot taken for the call, off the
// engine's lock. Replies are whole messages, so each is bounded: at most kMaxTreeNodes
// nodes and about kMaxReplyBytes of values; beyond that the reply is cut and says
// `truncated` (a guest's subtree may be huge).
// Costs:
// - At: a read is O(log n) seeks; a listing is the walk's, O(k log n) for k nodes.
// - Diff: the candidates are the nodes under the path with a version between the two
//   commits (main's commits they are, or branch from): one seek per node that ever had
//   a version under the path, not a walk of the commits between, then two tree reads per
//   candidate; plus the changes of a branch commit given.
// - Blame: the walk, and one commit record per distinct commit named (a node's
//   `modified` stamp is the commit that last changed its value or permissions).
// Errors (errno): ENOENT for a reference to no retained commit, EINVAL for a malformed
// path or reference. A read of an absent node is no error of the call: the reply's
// `error` names it ("ENOENT"), as a Xenstore reply would.
#pragma once

#include <cstddef>

#include "common/result.h"
#include "proto/history.pb.h"
#include "store/db.h"

namespace dxs::store {

inline constexpr size_t kMaxTreeNodes = 100000;
inline constexpr size_t kMaxReplyBytes = size_t{32} << 20;

Result<pb::AtReply> read_at(StateReader& state, const pb::AtRequest& request);
Result<pb::DiffReply> diff_trees(StateReader& state, const pb::DiffRequest& request);
Result<pb::BlameReply> blame(StateReader& state, const pb::BlameRequest& request);

}  // namespace dxs::store
