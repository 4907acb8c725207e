// Retention: how much history dxs-store keeps, and the redaction of private values once
// no reader needs them (docs/design.md, "Retention" and "Privacy").
//
// The horizon H is the oldest commit history holds (meta kHistoryHorizon). Reads of the
// tree at any commit >= H answer as they did before pruning: for each node, the newest
// version at or below every such commit is kept. H only grows, never past main's head,
// as far as the limits say (more than max_commits newer commits, or older than max_age):
// the commits below it are pruned, their records, the versions they superseded, and
// their own version where they deleted a node. No reader holds it back: an open
// transaction whose base falls below H is outdated (txn.h: it reads the current tree
// and commits EAGAIN), and a re-sent read whose recorded base did is answered from the
// current tree (engine.cc), so no guest keeps history beyond the limits.
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

// The oldest commit an open transaction, a recorded reply or a new request may read at,
// the history horizon being `horizon` (older bases read the current tree).
uint64_t read_horizon(StoreState& s, uint64_t horizon);

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
  // Marks the transactions based below the horizon outdated, and logs each once.
  void outdate_readers(StoreState& s);

  uint64_t horizon_ = 1;
  // The time of the commit at the horizon, read once per horizon: run() asks after every
  // batch whether it is old enough to go, and a RocksDB read there costs as much as a
  // READ request's own. A commit's time never changes (redaction rewrites values only).
  uint64_t oldest_seq_ = 0;  // 0: not read yet
  int64_t oldest_time_ns_ = 0;
  // Every private version superseded by a commit <= redacted_ is redacted (0: none yet).
  uint64_t redacted_ = 0;
};

}  // namespace dxs::store
