#include "store/quota.h"

#include <fmt/format.h>

#include <cerrno>

namespace dxs::store {
namespace {

constexpr std::string_view kNames[] = {
    "nodes",       "node-size", "watches",      "transactions", "transaction-nodes",
    "permissions", "path-max",  "watch-events",
};
static_assert(std::size(kNames) == static_cast<size_t>(QuotaKind::kCount));

constexpr std::string_view kDescriptions[] = {
    "Nodes per domain",
    "Max. size of a node",
    "Watches per domain",
    "Transactions per domain",
    "Max. number of accessed nodes per transaction",
    "Max. number of permissions per node",
    "Max. length of a node path",
    "Max. undelivered watch events per connection",
};
static_assert(std::size(kDescriptions) == static_cast<size_t>(QuotaKind::kCount));

}  // namespace

std::string_view quota_name(QuotaKind kind) {
  return kNames[static_cast<size_t>(kind)];
}

bool quota_from_name(std::string_view name, QuotaKind& out) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) {
      out = static_cast<QuotaKind>(i);
      return true;
    }
  }
  return false;
}

std::string_view quota_description(QuotaKind kind) {
  return kDescriptions[static_cast<size_t>(kind)];
}

int quota_errno(QuotaKind kind) {
  switch (kind) {
    case QuotaKind::kWatches:
      return E2BIG;
    case QuotaKind::kPathMax:
      return EINVAL;
    default:
      return ENOSPC;
  }
}

int64_t Quotas::limit(uint32_t domid, QuotaKind kind) const {
  if (const pb::DomainRecord* d = domains_.find(domid)) {
    auto it = d->quota().find(std::string(quota_name(kind)));
    if (it != d->quota().end()) return it->second;
  }
  return global_.get(kind);
}

int64_t Quotas::privileged_ceiling(QuotaKind kind) {
  return kind == QuotaKind::kTransactions ? kPrivilegedTransactions : 0;
}

Status Quotas::refuse(uint32_t domid, QuotaKind kind, int64_t lim, std::string_view what,
                      QuotaHits& hits) {
  hits.emplace_back(domid, kind);
  refusals_.note(
      LogLevel::kWarning, domid,
      fmt::format("quota: dom{} hit {} (limit {}): {}", domid, quota_name(kind), lim, what));
  return Status::error(quota_errno(kind), fmt::format("quota {} (limit {}) of dom{}: {}",
                                                      quota_name(kind), lim, domid, what));
}

int64_t Quotas::event_backlog(const Caller& watcher) const {
  return watcher.privileged ? kPrivilegedEventBacklog
                            : limit(watcher.domid, QuotaKind::kWatchEvents);
}

void Quotas::drop_event(WriteSet& ws, uint32_t domid, std::string_view what) {
  QuotaHits hits;
  (void)refuse(domid, QuotaKind::kWatchEvents, what, hits);
  count(ws, hits);
}

void Quotas::count(WriteSet& ws, const QuotaHits& hits) {
  for (const auto& [domid, kind] : hits) {
    pb::DomainRecord& d = domains_.get_or_create(domid);
    (*d.mutable_quota_hits())[std::string(quota_name(kind))] += 1;
    domains_.save(ws, domid);
  }
}

int64_t LiveAccounting::node_count(uint32_t domid) {
  const pb::DomainRecord* d = domains_.find(domid);
  auto it = deltas_.find(domid);
  return (d ? d->node_count() : 0) + (it == deltas_.end() ? 0 : it->second);
}

Status LiveAccounting::refuse(uint32_t domid, QuotaKind kind, int, std::string_view what) {
  return quotas_.refuse(domid, kind, what, hits_);
}

int64_t TxnAccounting::node_count(uint32_t domid) {
  auto it = txn_deltas_.find(domid);
  return live_.node_count(domid) + (it == txn_deltas_.end() ? 0 : it->second);
}

}  // namespace dxs::store
