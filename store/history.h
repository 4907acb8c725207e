// CommitLog: the commit DAG (ARCHITECTURE.md section 3).
//
// Every change of state is a commit on main, numbered by a sequence that only grows:
// requests that change the tree, transaction merges, and the changes outside it that an
// operator would want to find again (domains introduced, released, resumed, targets,
// quotas, the special nodes' permissions; docs/design.md, "History"). A commit names
// its author in its own record. Its tree changes are stored as versions of each node (cf
// versions), which the commit's change set references rather than copies, so any
// retained commit can be read back as a tree and as a change set. A transaction is a
// branch commit from its base, joined to main by a merge commit with two parents.
//
// Commit times never go backwards: each commit, on main or a branch, is stamped with the
// later of the clock and the previous commit's time (a clock stepped back repeats the
// last time). So time_ns is monotone in seq, and the commit made at or before a time is
// found by binary search over the commits (store/point_in_time.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/records.pb.h"
#include "store/db.h"
#include "store/tree.h"

namespace dxs::store {

struct CommitInfo {
  pb::CommitAuthor author;
  uint64_t conn = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  std::string summary;
  std::string note;
  // Changes outside the tree, in the order they were made.
  std::vector<pb::StateChange> state;
};

class CommitLog {
 public:
  // Finds main's head, the highest commit and its time; 0 for an empty database.
  void load(Db& db);

  // Main's newest commit: the parent of the next commit on main, the base of a new
  // transaction.
  uint64_t head() const { return main_head_; }
  // The sequence number the next commit will get; changes made for it are stamped so.
  uint64_t next() const { return last_ + 1; }

  // Appends a commit on main with parent head() (and `merged`, for a merge), recording
  // `changes` and a version of every changed node. Changes of one path are recorded as
  // one (the state before the first, after the last); a node that did not exist before
  // and does not after (created and removed by a merge) is not. A change of a special
  // node (a path starting with '@') holds its states itself: it has no versions.
  // Returns its sequence number.
  uint64_t commit_main(WriteSet& ws, const CommitInfo& info, const ChangeList& changes,
                       int64_t now_ns, uint64_t merged = 0);
  // Appends a branch commit (not on main) with parent `base`, holding `changes` whole.
  uint64_t commit_branch(WriteSet& ws, const CommitInfo& info, uint64_t base,
                         const ChangeList& changes, int64_t now_ns);
  // Both stamp the commit with max(now_ns, the previous commit's time).

 private:
  int64_t stamp_time(int64_t now_ns);

  uint64_t main_head_ = 0;
  uint64_t last_ = 0;
  int64_t last_time_ns_ = 0;
};

// The commit that wrote n's version, the state a change of n starts from: n's latest
// stamp, since every change of a node stamps it.
uint64_t version_of(const Node& n);

// A change of a special node's permissions (@introduceDomain, @releaseDomain), for a
// request's change list: it fires no watch (as in C) and is committed whole.
Change special_perms_change(std::string_view name, const Perms& before, const Perms& after);

// One StateChange, or nothing if before and after are equal.
void add_state_change(std::vector<pb::StateChange>& out, std::string key,
                      std::optional<std::string> before, std::optional<std::string> after);

// The changes between two states of a domain's record (nullptr: none), as an operator
// sees them, under "domain/<domid>/": introduced ("yes"), ring ("gfn G port P"), ring
// features, target, shutdown-reported ("yes"), quota/<name>; unset where the record has
// none (a flag that is false). Counters the store keeps for itself (node count, quota
// refusals) are not state changes.
void add_domain_changes(std::vector<pb::StateChange>& out, uint32_t domid,
                        const pb::DomainRecord* before, const pb::DomainRecord* after);

// "vm7", or the first bytes of a long value with its length, with non-printable bytes
// escaped: values in summaries are for reading; the change set holds them whole.
std::string abbreviate_value(std::string_view value);

}  // namespace dxs::store
