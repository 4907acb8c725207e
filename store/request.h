// Request: one client request while the engine applies it, and the effects it has
// gathered so far. The effects on the live tree (changes, node counts, events) take
// hold only if the request succeeds; its writes to the batch are undone otherwise
// (a savepoint), except for what must outlive a failure: its transaction
// observations, its quota hits and `on_failure`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proto/records.pb.h"
#include "proto/session.pb.h"
#include "store/connection.h"
#include "store/policy.h"
#include "store/quota.h"
#include "store/tree.h"
#include "store/txn.h"

namespace dxs::store {

struct StoreState;

struct Request {
  Request(const pb::Request& req, Connection& conn, Caller caller)
      : req(req), conn(conn), caller(caller) {}

  const pb::Request& req;
  Connection& conn;
  Caller caller;
  Transaction* txn = nullptr;  // the transaction named by tx_id, if any
  // Answer from the tree as it was right after this commit (a read re-sent after a
  // store restart, answered as it would have been when first sent).
  std::optional<uint64_t> as_of;

  // Effects on main awaiting the request's success.
  ChangeList changes;
  NodeDeltas node_delta;
  std::string summary;  // commit summary when `changes` is not empty
  std::string note;
  // Changes outside the tree (domains, quotas), for the commit's change set; a request
  // that makes one is a commit.
  std::vector<pb::StateChange> state_changes;
  // A commit even without any change (a re-introduction, a RESUME of a domain whose
  // shutdown was not reported): the request is an event in the domain's life.
  bool force_commit = false;
  // The branch commit a transaction's merge joins to main.
  uint64_t merged_branch = 0;
  // Special events (@introduceDomain, @releaseDomain) to fire after the events of
  // `changes`: C fires @releaseDomain once the domain's nodes are gone.
  std::vector<std::string_view> specials;

  // What the request observed in its transaction, logged once the request is over,
  // whether it succeeded or not: a READ answered ENOENT observed an absence all the same.
  std::vector<pb::TxnLogEntry> observations;

  // Refusals to count even though the request fails (its savepoint is rolled back).
  QuotaHits quota_hits;
  // What must happen even though the request fails, after its savepoint is rolled back
  // (a transaction that failed to commit is gone all the same).
  std::vector<std::function<void()>> on_failure;

  // Events for the requesting connection, delivered right after its reply (a WATCH's
  // first event), and commands for the frontend.
  std::vector<pb::Outbound> after_reply;
};

// The OK reply of most requests.
inline const std::string kOkReply("OK\0", 3);

// The canonical absolute form of a path the request names (relative paths resolve
// against the connection's home); EINVAL for a bad path, and a path-max refusal for a
// good one that is too long.
Result<std::string> canonical_path(StoreState& s, Request& r, std::string_view raw);

// Who made a change, for commit summaries: "dom7", "ops" for the Ops API, "dxs" for the
// store itself.
std::string author(const Request& r);
// Who made a change, for the commit's own record: the connection's kind and domain and,
// for a socket, its peer's pid, uid and command as the frontend reported them. `conn` is
// the request's connection if it still exists: a request may close its own (a
// privileged guest that released or reintroduced itself), and r.conn is then gone; only
// a ring connection can be so closed.
pb::CommitAuthor commit_author(const Request& r, const Connection* conn);

}  // namespace dxs::store
