// Quota names and defaults (reference 3.5).
#include "store/quota.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/path.h"

using dxs::store::QuotaKind;
using dxs::store::QuotaLimits;

namespace {

constexpr QuotaKind kAll[] = {
    QuotaKind::kNodes,        QuotaKind::kNodeSize,         QuotaKind::kWatches,
    QuotaKind::kTransactions, QuotaKind::kTransactionNodes, QuotaKind::kPermissions,
    QuotaKind::kPathMax,      QuotaKind::kWatchEvents,
};
static_assert(std::size(kAll) == static_cast<size_t>(QuotaKind::kCount));

}  // namespace

TEST_CASE("quota names are xenstore-control's and round-trip for every kind") {
  CHECK(dxs::store::quota_name(QuotaKind::kNodes) == "nodes");
  CHECK(dxs::store::quota_name(QuotaKind::kNodeSize) == "node-size");
  CHECK(dxs::store::quota_name(QuotaKind::kWatches) == "watches");
  CHECK(dxs::store::quota_name(QuotaKind::kTransactions) == "transactions");
  CHECK(dxs::store::quota_name(QuotaKind::kTransactionNodes) == "transaction-nodes");
  CHECK(dxs::store::quota_name(QuotaKind::kPermissions) == "permissions");
  CHECK(dxs::store::quota_name(QuotaKind::kPathMax) == "path-max");
  CHECK(dxs::store::quota_name(QuotaKind::kWatchEvents) == "watch-events");

  std::set<std::string_view> names;
  for (QuotaKind k : kAll) {
    const std::string_view name = dxs::store::quota_name(k);
    CAPTURE(name);
    names.insert(name);
    QuotaKind back = QuotaKind::kCount;
    REQUIRE(dxs::store::quota_from_name(name, back));
    CHECK(back == k);
  }
  CHECK(names.size() == std::size(kAll));
}

TEST_CASE("an unknown quota name is refused and leaves the output alone") {
  for (const char* bad : {"", "Nodes", "node_size", "nodes ", "watch", "memory", "kCount"}) {
    CAPTURE(bad);
    QuotaKind out = QuotaKind::kWatches;
    CHECK_FALSE(dxs::store::quota_from_name(bad, out));
    CHECK(out == QuotaKind::kWatches);
  }
}

TEST_CASE("QuotaLimits defaults are cxenstored 4.17's; set changes one limit only") {
  const QuotaLimits d;
  CHECK(d.get(QuotaKind::kNodes) == 1000);             // -E
  CHECK(d.get(QuotaKind::kNodeSize) == 2048);          // -S
  CHECK(d.get(QuotaKind::kWatches) == 128);            // -W
  CHECK(d.get(QuotaKind::kTransactions) == 10);        // -T
  CHECK(d.get(QuotaKind::kTransactionNodes) == 1024);  // -Q transaction-nodes=
  CHECK(d.get(QuotaKind::kPermissions) == 5);          // -A
  CHECK(d.get(QuotaKind::kPathMax) == 2048);           // -M
  CHECK(d.get(QuotaKind::kPathMax) == dxs::path::kDefaultPathMax);
  // cxenstored has no count of pending events (it times them out after 20 s); dxs keeps
  // oxenstored's quota-maxwatchevents.
  CHECK(d.get(QuotaKind::kWatchEvents) == 1024);

  QuotaLimits l;
  l.set(QuotaKind::kWatches, 3);
  CHECK(l.get(QuotaKind::kWatches) == 3);
  for (QuotaKind k : kAll) {
    if (k != QuotaKind::kWatches) CHECK(l.get(k) == d.get(k));
  }
}
