#include "store/history_commits.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "common/path.h"
#include "store/commit_view.h"
#include "store/point_in_time.h"

namespace dxs::store {
namespace {

// Which commits a LogRequest selects, beside its path.
struct LogFilter {
  uint64_t min_seq = 0;
  uint64_t max_seq = std::numeric_limits<uint64_t>::max();
  int64_t min_time = std::numeric_limits<int64_t>::min();
  int64_t max_time = std::numeric_limits<int64_t>::max();
  std::optional<uint32_t> domain;
  bool include_branches = false;

  bool matches(const pb::CommitRecord& c) const {
    if (!c.on_main() && !include_branches) return false;
    if (c.time_ns() < min_time || c.time_ns() > max_time) return false;
    if (domain) {
      if (c.author().kind() == pb::CommitAuthor::STORE || c.author().domid() != *domain)
        return false;
    }
    return true;
  }
};

// The first commit (lower) or the last (upper) whose time is within a bound of time t:
// commit times never go backwards (history.h) and retained commits are numbered without
// gaps, so it is a binary search of O(log n) point reads, and a walk by time never steps
// over the commits outside it. nullopt if a record is missing (no narrowing then).
std::optional<uint64_t> seq_by_time(StateReader& state, int64_t t, bool lower) {
  uint64_t lo = std::max<uint64_t>(history_horizon(state), 1);
  uint64_t hi = last_commit(state);
  if (hi < lo) return std::nullopt;
  // Invariant (lower): the answer is in [lo, hi + 1]; (upper): in [lo - 1, hi].
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    Result<pb::CommitRecord> c = read_commit(state, mid);
    if (!c) return std::nullopt;
    const bool in = lower ? c->time_ns() >= t : c->time_ns() <= t;
    if (lower == in) {
      hi = mid - 1;  // mid >= lo >= 1
    } else {
      lo = mid + 1;
    }
  }
  return lower ? lo : hi;
}

// A bound of the log: a seq (or head) bounds by number, a time by the commits' times.
Status apply_bound(StateReader& state, const pb::CommitRef& ref, bool lower, LogFilter& f) {
  switch (ref.ref_case()) {
    case pb::CommitRef::REF_NOT_SET:
      return Status::ok();
    case pb::CommitRef::kSeq:
    case pb::CommitRef::kHead: {
      const uint64_t seq = ref.has_seq() ? ref.seq() : main_head(state);
      (lower ? f.min_seq : f.max_seq) = seq;
      return Status::ok();
    }
    case pb::CommitRef::kTimeNs:
      (lower ? f.min_time : f.max_time) = ref.time_ns();
      if (std::optional<uint64_t> seq = seq_by_time(state, ref.time_ns(), lower)) {
        if (lower) {
          f.min_seq = std::max(f.min_seq, *seq);
        } else {
          f.max_seq = std::min(f.max_seq, *seq);
        }
      }
      return Status::ok();
  }
  return Status::error(EINVAL, "unknown commit reference");
}

std::optional<pb::CommitRecord> parse_commit(const rocksdb::Iterator& it, uint64_t* seq) {
  const std::string_view key(it.key().data(), it.key().size());
  const std::optional<uint64_t> s = keys::commit_seq(key);
  if (!s) fail_stop_corrupt(Cf::kCommits, key);
  pb::CommitRecord c;
  if (!c.ParseFromArray(it.value().data(), static_cast<int>(it.value().size())))
    fail_stop_corrupt(Cf::kCommits, key);
  *seq = *s;
  return c;
}

bool touches(const pb::CommitRecord& c, std::string_view special) {
  return std::any_of(c.changes().begin(), c.changes().end(),
                     [&](const pb::Change& ch) { return ch.path() == special; });
}

// Newest first from max_seq; `special`: only commits that change that special node.
Result<LogOutcome> walk_log(StateReader& state, const LogFilter& f, uint32_t limit,
                            bool with_changes, std::string_view special, const CommitSink& sink) {
  LogOutcome out;
  const uint64_t floor = std::max(f.min_seq, history_horizon(state));
  auto it = state.iterate(Cf::kCommits);
  if (f.max_seq == std::numeric_limits<uint64_t>::max()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(keys::commit(f.max_seq));
  }
  for (; it->Valid(); it->Prev()) {
    uint64_t seq = 0;
    std::optional<pb::CommitRecord> c = parse_commit(*it, &seq);
    if (seq < floor) break;
    // Commit times never go backwards (history.h): nothing older is late enough.
    if (c->time_ns() < f.min_time) break;
    if (!f.matches(*c)) continue;
    if (!special.empty() && !touches(*c, special)) continue;
    if (!sink(commit_view(state, seq, *c, with_changes))) break;
    if (++out.sent == limit) break;
  }
  return out;
}

// The commits that made a version of path or of a node below it, within [lo, hi]: at
// most kMaxPathCommits of the newest, newest first.
std::vector<uint64_t> path_commits(StateReader& state, const std::string& path, uint64_t lo,
                                   uint64_t hi, bool* truncated) {
  std::vector<uint64_t> seqs;
  auto keep_newest = [&] {
    std::sort(seqs.begin(), seqs.end(), std::greater<>());
    seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
    if (seqs.size() > kMaxPathCommits) {
      seqs.resize(kMaxPathCommits);
      *truncated = true;
      // What is dropped now is older than what is kept: later keys below it need not be.
      lo = std::max(lo, seqs.back());
    }
  };
  const std::string prefixes[] = {keys::versions_prefix(path), path + '\0', path + '/'};
  for (const std::string& prefix : prefixes) {
    for_each_entry(state, Cf::kVersions, prefix, [&](std::string_view key, std::string_view) {
      const uint64_t seq = keys::version_seq(key);
      if (seq < lo || seq > hi) return;
      seqs.push_back(seq);
      if (seqs.size() >= 2 * kMaxPathCommits) keep_newest();
    });
  }
  keep_newest();
  return seqs;
}

Result<LogOutcome> path_log(StateReader& state, const LogFilter& f, const std::string& path,
                            uint32_t limit, bool with_changes, const CommitSink& sink) {
  LogOutcome out;
  const uint64_t lo = std::max(f.min_seq, history_horizon(state));
  std::vector<uint64_t> seqs = path_commits(state, path, lo, f.max_seq, &out.truncated);
  // A transaction's branch commit writes no versions: it is listed after its merge.
  std::priority_queue<uint64_t> branches;
  size_t i = 0;
  while (i < seqs.size() || !branches.empty()) {
    uint64_t seq;
    if (!branches.empty() && (i == seqs.size() || branches.top() > seqs[i])) {
      seq = branches.top();
      branches.pop();
    } else {
      seq = seqs[i++];
    }
    Result<pb::CommitRecord> c = read_commit(state, seq);
    if (!c) continue;  // pruned meanwhile
    if (f.include_branches && c->on_main() && c->parents_size() > 1 && c->parents(1) >= lo)
      branches.push(c->parents(1));
    if (c->time_ns() < f.min_time) continue;
    if (!f.matches(*c)) continue;
    if (!sink(commit_view(state, seq, *c, with_changes))) break;
    if (++out.sent == limit) break;
  }
  return out;
}

}  // namespace

Result<LogOutcome> log_commits(StateReader& state, const pb::LogRequest& request,
                               const CommitSink& sink) {
  LogFilter f;
  if (Status s = apply_bound(state, request.since(), true, f); !s) return s;
  if (Status s = apply_bound(state, request.until(), false, f); !s) return s;
  if (request.has_domain()) f.domain = request.domain();
  f.include_branches = request.include_branches();
  const std::string& path = request.path();
  if (path.empty() || path == "/")
    return walk_log(state, f, request.limit(), request.with_changes(), {}, sink);
  if (path::is_special(path))
    return walk_log(state, f, request.limit(), request.with_changes(), path, sink);
  if (!path::is_valid(path)) return Status::error(EINVAL, "not a canonical path");
  return path_log(state, f, path, request.limit(), request.with_changes(), sink);
}

Result<pb::CommitView> show_commit(StateReader& state, const pb::ShowRequest& request) {
  Result<uint64_t> seq = resolve_commit(state, request.commit());
  if (!seq) return seq.status();
  Result<pb::CommitRecord> c = read_commit(state, *seq);
  if (!c) return c.status();
  return commit_view(state, *seq, *c, true);
}

Status export_commits(StateReader& state, const pb::ExportRequest& request,
                      const CommitSink& sink) {
  commits_between(state, request.after(), std::numeric_limits<uint64_t>::max(), true, sink);
  return Status::ok();
}

uint64_t commits_between(StateReader& state, uint64_t after, uint64_t upto, bool with_changes,
                         const CommitSink& sink) {
  const uint64_t from = std::max(after + 1, history_horizon(state));
  auto it = state.iterate(Cf::kCommits);
  for (it->Seek(keys::commit(from)); it->Valid(); it->Next()) {
    uint64_t seq = 0;
    std::optional<pb::CommitRecord> c = parse_commit(*it, &seq);
    if (seq > upto) break;
    if (!sink(commit_view(state, seq, *c, with_changes))) return seq - 1;
  }
  return upto;
}

}  // namespace dxs::store
