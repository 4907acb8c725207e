// Point-in-time reads of the history: which commit a CommitRef names, and the tree as it
// was right after any retained commit, read node by node (docs/design.md, "History").
//
// Everything here reads one StateReader, in practice a DbSnapshot taken off the engine's
// thread, and never writes. Costs, for n versions or commits in the database: resolving
// a reference is O(log n) seeks (commit times are monotone, store/history.h); reading a
// node of a past tree is O(log n); listing k children is O(k log n) (SnapshotNodes). A
// walk visits at most the number of nodes its caller allows: a hostile tree may be huge.
//
// Paths given here are canonical absolute paths (common/path.h), not special @ names.
// Errors: ENOENT for a commit that does not exist, one before the retention horizon, a
// time before every retained commit on main, and a node absent from the tree read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/perms.h"
#include "common/result.h"
#include "proto/history.pb.h"
#include "proto/records.pb.h"
#include "store/db.h"
#include "store/node.h"
#include "store/node_view.h"

namespace dxs::store {

// The oldest commit history holds (meta kHistoryHorizon; absent: 0, every commit).
uint64_t history_horizon(StateReader& state);
// The highest commit (0: none), and main's newest commit (0: none retained).
uint64_t last_commit(StateReader& state);
uint64_t main_head(StateReader& state);

// A retained commit's record; ENOENT if there is no commit seq or it is before the
// horizon.
Result<pb::CommitRecord> read_commit(StateReader& state, uint64_t seq);

// The commit a reference names: seq, a retained commit (main's or a branch's); head,
// main's head; time_ns, the last commit on main made at or before that time. ENOENT if
// there is none; EINVAL if the reference is unset.
Result<uint64_t> resolve_commit(StateReader& state, const pb::CommitRef& ref);

// The tree right after retained commit seq (ENOENT if not retained). A main commit's
// tree is SnapshotNodes(state, seq). A branch commit's is its base's tree with the
// branch's changes on top; nodes the branch wrote carry seq as their stamps. The reader
// borrows state, which must outlive it.
Result<std::unique_ptr<NodeReader>> tree_at(StateReader& state, uint64_t seq);

// Permissions as xenstore-ls prints them: {"n0", "r7"}.
std::vector<std::string> perms_text(const Perms& perms);
// An existing node as the History API shows it; version is the commit that wrote it.
pb::NodeState node_state(const Node& n);
// A version record (cf versions, a change's before or after) written by commit
// `version`: a tombstone is a node that does not exist (version 0); a redacted record
// keeps its value's digest only.
pb::NodeState node_state(const pb::NodeRecord& record, uint64_t version);

// Reads of one tree (any NodeReader, usually tree_at's). ENOENT if path is absent.
Result<pb::NodeState> read_node(NodeReader& tree, std::string_view path);
// Names of path's children in byte order.
Result<std::vector<std::string>> list_children(NodeReader& tree, std::string_view path);

struct WalkResult {
  size_t visited = 0;
  // The subtree has more nodes than the walk was allowed to visit.
  bool truncated = false;
};
// Calls visit(node_path, node) for path and each node below it, depth first, a node
// before its children and children by name in byte order (as xenstore-ls lists a
// tree), stopping after max_nodes nodes. ENOENT if path is absent. Memory: the names
// of the children of the nodes on the current path, however large the subtree.
Result<WalkResult> walk_subtree(
    NodeReader& tree, std::string_view path, size_t max_nodes,
    const std::function<void(const std::string& node_path, const Node& node)>& visit);

}  // namespace dxs::store
