// ConflictGuard: a connection that keeps losing transaction conflicts wins within a
// bounded number of retries (ARCHITECTURE.md section 5, "Fairness").
//
// Merging at key granularity leaves the real conflicts: a transaction read something
// another client changed before it committed. A client whose transactions read what
// others keep changing could retry forever. So once `losses` consecutive commits of one
// connection were answered EAGAIN, its next transaction is guarded: while it is open,
// for at most `hold_ns`, a change by another connection to anything it observes, or
// its last lost attempt observed (a retry reads what the attempt read), waits. The
// engine holds such a request back and applies it when the guard lifts (engine.h). So
// the guarded attempt commits, unless it observes something new that changed since it
// began, or outlasts `hold_ns`; then it stays guarded for its next attempt.
//
// Only changes to the live tree wait: WRITE, MKDIR, RM and SET_PERMS outside a
// transaction, and commits (TRANSACTION_END T); inside a transaction they change only
// its view. A guard costs its connection a lost commit, which a guest can provoke at
// will, so the guard of an unprivileged connection holds up unprivileged connections
// only: no guest holds up the toolstack. Guards are ordered by when a connection was
// first guarded since its last win, and a guarded connection waits for older guards
// only, so none waits for another in a cycle, every wait ends within `hold_ns` of the
// guard's start, and the connection that has been losing longest goes first.
//
// Not durable: a restarted store counts losses afresh, and the requests it held are
// re-sent by the frontend, which holds them unanswered.
//
// Memory: a count per connection that lost and has not won since, and, while a guard is
// up or due (armed), at most kMaxPaths paths of what it observed.
//
// Thread-safety: none (the engine's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dxs::store {

struct ConflictGuardOptions {
  // Consecutive lost commits after which a connection's next transaction is guarded
  // (0: never).
  uint32_t losses = 2;
  // The longest a guard holds others' changes back, in nanoseconds.
  int64_t hold_ns = 100'000'000;
};

// What a transaction observed at a path, as txn_merge.h checks it: bits of these.
enum Seen : uint8_t {
  kSeenNode = 1,      // value, permissions and existence
  kSeenPerms = 2,     // permissions and existence
  kSeenChildren = 4,  // the set of children and existence
};

// One thing a transaction observed: its path and what of it (Seen bits).
struct Observed {
  std::string path;
  uint8_t seen = 0;
};

// A change a request is about to make to the live tree (planned_changes.h).
struct PlannedChange {
  enum class Reach {
    kValue,   // an existing node's value
    kPerms,   // an existing node's permissions
    kCreate,  // the node, created, with any missing ancestors: their listings change
    kRemove,  // the node and everything below it, and its parent's listing
  };
  std::string path;
  Reach reach = Reach::kValue;
};

class ConflictGuard {
 public:
  // A guard remembers at most this many paths; past them, changes elsewhere do not wait.
  static constexpr size_t kMaxPaths = 4096;

  explicit ConflictGuard(const ConflictGuardOptions& options = {}) : options_(options) {}

  // conn's commit was answered EAGAIN; its transaction had observed `seen`.
  void lost(uint64_t conn, bool privileged, const std::vector<Observed>& seen);
  // conn's commit succeeded: it starts counting afresh.
  void won(uint64_t conn);
  // conn began transaction tx at `now_ns` (a monotonic clock): guarded if conn's last
  // lost commit was at least its `losses`th in a row and no guard was given for it yet,
  // and conn has no guarded transaction open.
  // True if it is guarded.
  bool began(uint64_t conn, uint32_t tx, int64_t now_ns);
  // Transaction tx of conn observed `seen` (Seen bits) of `path`: if it is guarded,
  // changes to that wait too.
  void observed(uint64_t conn, uint32_t tx, std::string_view path, uint8_t seen);
  // Transaction tx of conn ended (committed, lost or abandoned): its guard lifts.
  void ended(uint64_t conn, uint32_t tx);
  // conn is gone, or dropped its transactions.
  void forget(uint64_t conn);

  // Whether a change by conn (privileged or not) must wait for a guard.
  bool must_wait(uint64_t conn, bool privileged, const std::vector<PlannedChange>& changes) const;
  bool any_guarded() const { return guarded_ > 0; }
  bool is_guarded(uint64_t conn, uint32_t tx) const;
  // Lifts the guards that began `hold_ns` or more before `now_ns`; true if any did.
  bool expire(int64_t now_ns);
  // When the oldest guard lifts by itself, if any is up.
  std::optional<int64_t> next_expiry() const;
  // How many guards have lifted so far: what waited may go on once this changes.
  uint64_t lifted() const { return lifted_; }

 private:
  struct Entry {
    uint32_t losses = 0;
    // Set by each loss from the `losses`th on, spent by the guard it gives: every guard
    // is paid for by a lost commit.
    bool armed = false;
    bool privileged = false;
    // What the guarded transaction and its last lost attempt observed: Seen bits by
    // path.
    std::map<std::string, uint8_t, std::less<>> paths;
    uint32_t tx = 0;  // the guarded transaction, 0 if none
    uint64_t order = 0;
    int64_t until_ns = 0;
  };
  void lift(Entry& e);

  ConflictGuardOptions options_;
  std::map<uint64_t, Entry> by_conn_;
  size_t guarded_ = 0;
  uint64_t next_order_ = 1;
  uint64_t lifted_ = 0;
};

}  // namespace dxs::store
