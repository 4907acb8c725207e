// Quotas (reference section 3.5): cxenstored's limits, defaults and errors, configurable
// globally and per domain. Privileged domains are exempt from all of them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

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

}  // namespace dxs::store
