// Quotas (reference section 3.5): cxenstored's limits, defaults and errors, configurable
// globally and per domain (watch-events, which cxenstored does not count, takes
// oxenstored's quota-maxwatchevents). Privileged domains are exempt from all of them,
// but for ceilings that bound what one privileged connection can make the store hold
// (kPrivilegedTransactions, kPrivilegedEventBacklog).
//
// Every check against a limit is made here: Quotas::admit for the request handlers,
// Accounting (implemented here for the live tree and for a transaction) for the tree's
// node counts and sizes. A refusal is logged (rate-limited, RefusalLog), noted in the
// request's QuotaHits and returned as the error the protocol gives for that quota;
// the engine counts a failed request's hits in the domain's record.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/result.h"
#include "proto/records.pb.h"
#include "store/domain.h"
#include "store/policy.h"
#include "store/refusal_log.h"

namespace dxs::store {

enum class QuotaKind {
  kNodes = 0,         // nodes owned by a domain                 -> ENOSPC
  kNodeSize,          // accounted bytes of one node             -> ENOSPC
  kWatches,           // watches of a domain                     -> E2BIG
  kTransactions,      // open transactions of a connection       -> ENOSPC
  kTransactionNodes,  // nodes one transaction may touch         -> ENOSPC
  kPermissions,       // entries in one permission list          -> ENOSPC
  kPathMax,           // path length after the domain's home     -> EINVAL
  kWatchEvents,       // undelivered watch events per connection (oldest dropped)
  kCount,
};

// Names as `xenstore-control quota` (Xen 4.18+) spells them.
std::string_view quota_name(QuotaKind kind);
bool quota_from_name(std::string_view name, QuotaKind& out);
// The errno a request refused by this quota gets.
int quota_errno(QuotaKind kind);
// What the quota limits, as `xenstore-control quota` describes it ("Nodes per domain").
std::string_view quota_description(QuotaKind kind);

// Undelivered events kept for a privileged connection (unprivileged ones have the
// watch-events quota); beyond it new events are dropped, and logged.
constexpr int64_t kPrivilegedEventBacklog = 65536;

// Transactions a privileged connection may hold open at once. cxenstored and oxenstored
// set no bound, so a dom0 process that starts transactions and never ends them (a leak,
// or a hostile one) makes the store hold, and work on, ever more of them, at the
// expense of every other client. A toolstack holds a few per connection (xl one at a
// time); beyond this ceiling TRANSACTION_START fails with ENOSPC, as the quota does.
constexpr int64_t kPrivilegedTransactions = 1024;

// The quotas one request hit: counted in the domains' records even when the request
// fails and its writes are rolled back.
using QuotaHits = std::vector<std::pair<uint32_t, QuotaKind>>;
// Pending changes of the number of nodes each domain owns.
using NodeDeltas = std::map<uint32_t, int64_t>;

struct QuotaLimits {
  std::array<int64_t, static_cast<size_t>(QuotaKind::kCount)> values{
      1000,  // nodes
      2048,  // node-size
      128,   // watches
      10,    // transactions
      1024,  // transaction-nodes
      5,     // permissions
      2048,  // path-max
      1024,  // watch-events
  };
  int64_t get(QuotaKind k) const { return values[static_cast<size_t>(k)]; }
  void set(QuotaKind k, int64_t v) { values[static_cast<size_t>(k)] = v; }
};

// What tree operations need to count nodes and enforce quotas. The engine implements it
// for the live tree and for a transaction's view.
class Accounting {
 public:
  virtual ~Accounting() = default;
  // The limit that applies to domid (its override, else the global one).
  virtual int64_t limit(uint32_t domid, QuotaKind kind) = 0;
  virtual int64_t node_count(uint32_t domid) = 0;
  virtual void adjust_node_count(uint32_t domid, int64_t delta) = 0;
  // Counts and logs one refusal ("dom7 hit quota nodes (1000) creating /x") and returns
  // the error the client gets.
  virtual Status refuse(uint32_t domid, QuotaKind kind, int err, std::string_view what) = 0;
};

class Quotas {
 public:
  Quotas(DomainTable& domains, QuotaLimits& global, RefusalLog& refusals)
      : domains_(domains), global_(global), refusals_(refusals) {}

  // The limit that applies to domid: its override, else the global one (<= 0: none).
  int64_t limit(uint32_t domid, QuotaKind kind) const;

  // OK if `in_use + adding` stays within the limit of `kind` that applies to `caller`
  // (for a privileged caller its ceiling, if the kind has one: privileged_ceiling());
  // otherwise the refusal, described by what() (called only then). Not for
  // kWatchEvents (admit_event).
  template <typename What>
  Status admit(const Caller& caller, QuotaKind kind, int64_t in_use, int64_t adding,
               QuotaHits& hits, What&& what) {
    const int64_t lim = caller.privileged ? privileged_ceiling(kind) : limit(caller.domid, kind);
    if (lim <= 0 || in_use + adding <= lim) return Status::ok();
    return refuse(caller.domid, kind, lim, what(), hits);
  }
  // The bound of `kind` for a privileged caller (<= 0: none).
  static int64_t privileged_ceiling(QuotaKind kind);
  // Whether one more undelivered event fits the watcher's backlog (`pending` now). A
  // dropped event is logged and counted in the watcher's domain record at once: the
  // request that fired it succeeds.
  template <typename What>
  bool admit_event(WriteSet& ws, const Caller& watcher, uint64_t pending, What&& what) {
    const int64_t lim = event_backlog(watcher);
    if (lim <= 0 || static_cast<int64_t>(pending) < lim) return true;
    drop_event(ws, watcher.domid, fmt::format("{}: {} undelivered", what(), pending));
    return false;
  }

  // Logs and notes a refusal of `kind`, and returns its error.
  Status refuse(uint32_t domid, QuotaKind kind, std::string_view what, QuotaHits& hits) {
    return refuse(domid, kind, limit(domid, kind), what, hits);
  }
  // The same, for the limit `lim` that was applied.
  Status refuse(uint32_t domid, QuotaKind kind, int64_t lim, std::string_view what,
                QuotaHits& hits);
  // Counts hits in the domains' records (a failed request's, after its rollback).
  void count(WriteSet& ws, const QuotaHits& hits);

 private:
  int64_t event_backlog(const Caller& watcher) const;
  void drop_event(WriteSet& ws, uint32_t domid, std::string_view what);

  DomainTable& domains_;
  QuotaLimits& global_;
  RefusalLog& refusals_;
};

// Accounting for the live tree: the domain table plus one request's pending deltas.
class LiveAccounting final : public Accounting {
 public:
  LiveAccounting(Quotas& quotas, DomainTable& domains, NodeDeltas& deltas, QuotaHits& hits)
      : quotas_(quotas), domains_(domains), deltas_(deltas), hits_(hits) {}
  int64_t limit(uint32_t domid, QuotaKind kind) override { return quotas_.limit(domid, kind); }
  int64_t node_count(uint32_t domid) override;
  void adjust_node_count(uint32_t domid, int64_t delta) override { deltas_[domid] += delta; }
  Status refuse(uint32_t domid, QuotaKind kind, int err, std::string_view what) override;

 private:
  Quotas& quotas_;
  DomainTable& domains_;
  NodeDeltas& deltas_;
  QuotaHits& hits_;
};

// Accounting inside a transaction: the live counts plus the transaction's own changes
// (`txn_deltas`, from its record) and the request's.
class TxnAccounting final : public Accounting {
 public:
  TxnAccounting(Quotas& quotas, DomainTable& domains, NodeDeltas& deltas, QuotaHits& hits,
                const google::protobuf::Map<uint32_t, int64_t>& txn_deltas)
      : live_(quotas, domains, deltas, hits), txn_deltas_(txn_deltas) {}
  int64_t limit(uint32_t domid, QuotaKind kind) override { return live_.limit(domid, kind); }
  int64_t node_count(uint32_t domid) override;
  void adjust_node_count(uint32_t domid, int64_t delta) override {
    live_.adjust_node_count(domid, delta);
  }
  Status refuse(uint32_t domid, QuotaKind kind, int err, std::string_view what) override {
    return live_.refuse(domid, kind, err, what);
  }

 private:
  LiveAccounting live_;
  const google::protobuf::Map<uint32_t, int64_t>& txn_deltas_;
};

// Accounting that admits everything and counts nothing: for rebuilding a transaction's
// view after a restart from operations that were admitted, and counted, when they ran.
class UncheckedAccounting final : public Accounting {
 public:
  int64_t limit(uint32_t, QuotaKind) override { return 0; }
  int64_t node_count(uint32_t) override { return 0; }
  void adjust_node_count(uint32_t, int64_t) override {}
  Status refuse(uint32_t, QuotaKind, int err, std::string_view what) override {
    return Status::error(err, std::string(what));
  }
};

}  // namespace dxs::store
