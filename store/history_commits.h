// History's reads of commits (the History API's Log, Show, Export and Follow, without
// gRPC): which commits a request selects, as CommitViews (commit_view.h), streamed to a
// sink one at a time so that no result is held whole.
//
// Everything reads one StateReader, in practice a DbSnapshot taken for the call, off the
// engine's lock. Costs, for the commits a call streams:
// - A time bound becomes a bound by number first: commit times never go backwards, so
//   the commit at a time is a binary search, O(log n) point reads.
// - Log without a path walks cf commits newest first from `until` and stops at `since`
//   or the limit: O(commits walked).
// - Log with a path does not walk commits: it collects the commits that made a version of
//   the node or of a node below it (cf versions: the node's own keys, then its
//   descendants', which start with "P\0" and "P/"), at most kMaxPathCommits of the newest
//   (8 bytes each: a 4 MiB bound whatever the history's size), sorts them newest first and
//   reads only those records. Older commits past that bound are left out, and the
//   outcome says so. A special node (@introduceDomain) has no versions: its commits are
//   found by walking commits.
// - Export walks cf commits oldest first from `after`.
// Errors (errno): ENOENT for a commit reference that names no retained commit, EINVAL for
// a malformed path or reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "common/result.h"
#include "proto/history.pb.h"
#include "store/db.h"

namespace dxs::store {

// Receives one commit; returns false to stop the stream (the caller went away).
using CommitSink = std::function<bool(pb::CommitView&& commit)>;

inline constexpr size_t kMaxPathCommits = size_t{1} << 19;

struct LogOutcome {
  size_t sent = 0;
  // A path's commits were more than kMaxPathCommits: the oldest were not considered.
  bool truncated = false;
};

Result<LogOutcome> log_commits(StateReader& state, const pb::LogRequest& request,
                               const CommitSink& sink);

Result<pb::CommitView> show_commit(StateReader& state, const pb::ShowRequest& request);

// Every retained commit after request.after, oldest first, with its changes.
Status export_commits(StateReader& state, const pb::ExportRequest& request, const CommitSink& sink);

// The retained commits in (after, upto], oldest first: what a follower has not seen yet
// when the store has made commits up to `upto`. Returns the last commit looked at (upto,
// unless the sink stopped the stream first).
uint64_t commits_between(StateReader& state, uint64_t after, uint64_t upto, bool with_changes,
                         const CommitSink& sink);

}  // namespace dxs::store
