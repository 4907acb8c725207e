// DomainNodes: which nodes of the tree name a domain in their permissions, as owner or in
// their ACL, so that a domain's RELEASE visits those nodes instead of the whole tree.
// (C xenstored 4.17 leaves a dead domain's entries in place and ignores them by
// comparing generation counts whenever a node is read; dxs removes them at the release,
// where the history records it.)
//
// The index (column family domain_nodes) holds exactly one entry for each node and each
// domain other than dom0 that its permissions name; special nodes are not in it. It is
// kept by every commit on main (record()), in the same write batch as the nodes, so it
// is as durable as they are. A store whose state predates it builds it once (build()).
// Thread-safety: none; the engine's thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/db.h"
#include "store/tree.h"

namespace dxs::store {

namespace domain_nodes {

// Brings the index up to date with the changes a commit on main makes to the tree, in
// their order. Costs nothing for a change that leaves the permissions as they were.
void record(WriteSet& ws, const ChangeList& changes);

// The paths of the nodes whose permissions name domid, in byte order (so a subtree's
// root comes before the rest of it). REQUIRES: domid != 0.
std::vector<std::string> of(StateReader& state, uint32_t domid);

// Writes the index of the whole tree into ws, replacing what it held; how many entries.
size_t build(WriteSet& ws);

// Each difference between the index and the tree, a line each ("" if none): for
// `control check`.
std::string verify(StateReader& state);

}  // namespace domain_nodes

}  // namespace dxs::store
