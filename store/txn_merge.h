// Transaction semantics (ARCHITECTURE.md section 5): what a transaction observed, and
// its merge onto main at TRANSACTION_END.
//
// A transaction reads a snapshot (its base commit plus its own writes). Each thing it
// observes there (a value, a listing, permissions, an absence) is logged once, and each
// operation it makes is logged with the reply the client got. At commit every
// observation must still hold on the live tree and every operation, replayed there,
// must succeed: creating or removing different children of one parent never conflicts,
// reading something another client changed does (EAGAIN). A transaction is recorded as
// a branch commit from its base, joined to main by the merge commit. An outdated
// transaction (its base pruned, txn.h) never commits: EAGAIN, read-only or not, since
// what it read since is no one snapshot.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proto/records.pb.h"
#include "store/conflict_guard.h"
#include "store/node.h"
#include "store/request.h"
#include "store/state.h"

namespace dxs::store {

// Notes that r's transaction saw `seen` (nullopt: nothing) at path. Each observation is
// noted once per kind and path, and none of what the transaction wrote itself; they
// are logged when the request is over, whether it succeeded or not.
void observe(Request& r, pb::TxnLogEntry::Observation kind, std::string_view path,
             const std::optional<Node>& seen);

// An observation's kind, as the conflict guard holds it (conflict_guard.h).
uint8_t seen_of(pb::TxnLogEntry::Observation kind);
// What a transaction's log says it observed.
std::vector<Observed> observations_of(const std::vector<pb::TxnLogEntry>& log);

// The transaction-nodes quota: whether r's transaction may touch one more node, path.
Status check_txn_access(StoreState& s, Request& r, std::string_view path);

// Merges t onto main. On success r.changes holds what the merge changed, r.summary and
// r.merged_branch describe the merge commit (which the engine makes), and the reply is
// returned; EAGAIN when an observation no longer holds or a replayed operation fails.
Result<std::string> merge_transaction(StoreState& s, Request& r, Transaction& t);

// Rebuilds t's private view after a restart (t.view_pending): its logged operations
// replayed in order onto its base as its connection's caller, without quotas (each was
// admitted when it ran, and counted in the record's node_delta). The base is the snapshot
// they ran on, so the view is the one they left; if one fails now (the caller's rights
// changed across the restart), t is unreplayable and its commit answers EAGAIN.
void rebuild_view(StoreState& s, Transaction& t);

}  // namespace dxs::store
