// Retention: how much history dxs-store keeps, and the redaction of private values once
// no reader needs them (docs/design.md, "Retention" and "Privacy").
//
// The horizon H is the oldest commit history holds (meta kHistoryHorizon). Reads of the
// tree at any commit >= H answer as they did before pruning: for each node, the newest
// version at or below every such commit is kept. H only grows, and never past the read
// horizon: main's head and the base of every open transaction and recorded reply, the
// commits a SnapshotNodes of the engine may still be asked to read at. Below it, commits
// are pruned when either limit says so (more than max_commits newer ones, or older than
// max_age): their records go, and the versions they superseded, and their own version
// where they deleted a node.
//
// A private node's versions superseded by a commit at or below the read horizon are
// redacted (privacy.h): no reader can reach them any more, so the value lives on only
// in the live node and its latest version.
//
// The work is done between batches (Engine::maintain), a bounded number of commits at a
// time, so a backlog (limits lowered, a transaction held open for hours) never stalls
// clients.
//
// Thread-safety: none; the engine's caller serialises every call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "store/db.h"
#include "store/privacy.h"

namespace dxs::store {

struct StoreState;

struct RetentionLimits {
  // Commits kept at most; 0: no limit.
  uint64_t max_commits = 1000000;
  // Commits older than this are pruned; 0: no limit.
  int64_t max_age_s = 7 * 24 * 3600;
};

// The oldest commit an open transaction, a recorded reply or a new request may read at.
uint64_t read_horizon(StoreState& s);

class HistoryKeeper {
 public:
  // Reads the horizon and how far private values were redacted.
  void load(StateReader& state, const Privacy& privacy);

  uint64_t horizon() const { return horizon_; }

  // Redacts and prunes at most `budget` commits each, into s.ws (which the caller
  // commits); true if there is more to do now.
  bool run(StoreState& s, const RetentionLimits& limits, int64_t now_ns, size_t budget);

 private:
  bool redact(StoreState& s, uint64_t upto, size_t budget);
  bool prune(StoreState& s, const RetentionLimits& limits, uint64_t upto, int64_t now_ns,
             size_t budget);

  uint64_t horizon_ = 1;
  // Every private version superseded by a commit <= redacted_ is redacted (0: none yet).
  uint64_t redacted_ = 0;
};

}  // namespace dxs::store
