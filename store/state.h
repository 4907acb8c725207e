// StoreState: everything dxs-store knows while it runs: the tables rebuilt from RocksDB
// at start (connections, domains, watches, open transactions), the commit log, the
// quotas in force, and the group commit being built (`ws`), through which every change
// is written and every read sees the changes before them in the batch.
//
// The engine (engine.h) owns one and applies batches to it; the commands
// (commands.h) read and change it. Only db.h knows how it is laid out on disk.
//
// Thread-safety: none. The engine's caller serialises every use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/log.h"
#include "store/backpressure.h"
#include "store/conflict_guard.h"
#include "store/connection.h"
#include "store/db.h"
#include "store/delivery.h"
#include "store/domain.h"
#include "store/event_log.h"
#include "store/history.h"
#include "store/listing_cache.h"
#include "store/policy.h"
#include "store/privacy.h"
#include "store/quota.h"
#include "store/refusal_log.h"
#include "store/retention.h"
#include "store/txn.h"
#include "store/watch.h"

namespace dxs::store {

struct EngineOptions {
  QuotaLimits quota;
  // A domain with dom0's rights besides dom0 (xenstored -p).
  std::optional<uint32_t> privileged_domid;
  // On release, hand a dead domain's nodes to dom0 instead of removing them
  // (xenstored -K / --keep-orphans).
  bool keep_orphans = false;
  // How much history is kept, and the paths whose values it never keeps.
  RetentionLimits retention;
  PrivatePaths private_paths;
  // When a connection that keeps losing conflicts gets a guarded transaction.
  ConflictGuardOptions guard;
  // When a watcher far behind holds up the connections that feed it.
  BackpressureOptions backpressure;
};

// Memory for recent DIRECTORY answers (listing_cache.h).
constexpr size_t kListingCacheBytes = 1 << 20;

// The connection id of the ops API's own privileged client.
constexpr uint64_t kOpsConnection = 1;
// The store itself, as the author of what it does on its own (a domain found dead).
// Never in the connection table: nothing is ever sent to it.
constexpr uint64_t kStoreConnection = 2;

// Counters for `control memreport` and dxsctl.
struct EngineStats {
  uint64_t requests = 0;
  uint64_t batches = 0;
  uint64_t commits = 0;
  uint64_t eagain = 0;
  // Transactions guarded after losing (conflict_guard.h), and requests held for them.
  uint64_t guards = 0;
  uint64_t held = 0;
  // Connections held up for feeding a watcher far behind (backpressure.h), and their
  // requests held meanwhile.
  uint64_t backpressure_holds = 0;
  uint64_t held_behind = 0;
};

struct StoreState {
  StoreState(Db& db, const EngineOptions& options, Logger& log);

  Db& db;
  EngineOptions options;
  Logger& log;
  WriteSet ws;
  ConnectionTable connections;
  DomainTable domains;
  WatchTable watches;
  TransactionTable txns;
  CommitLog history;
  ListingCache listings{kListingCacheBytes};
  RefusalLog refusals;
  Quotas quotas;
  EventLog events;
  Delivery delivery;
  Privacy privacy;
  ConflictGuard guard;
  Backpressure backpressure;
  EngineStats stats;

  // The identity c's requests are checked against.
  Caller caller_of(const Connection& c) const;
  bool is_privileged_domid(uint32_t domid) const;
  // The domain whose home relative paths of c resolve against (0 for sockets).
  static uint32_t home_domid(const Connection& c);
  // Forgets c's watches and transactions (RESET_WATCHES, close).
  void drop_connection_state(uint64_t conn);
  // Forgets the connection and everything it holds (its queued events too).
  void forget_connection(uint64_t conn);
};

// Wall-clock time for commit records.
int64_t now_ns();
// A monotonic clock, for what lasts a while (a guard's hold).
int64_t steady_ns();

}  // namespace dxs::store
