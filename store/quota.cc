#include "store/quota.h"

namespace dxs::store {
namespace {

constexpr std::string_view kNames[] = {
    "nodes",       "node-size", "watches",      "transactions", "transaction-nodes",
    "permissions", "path-max",  "watch-events",
};
static_assert(std::size(kNames) == static_cast<size_t>(QuotaKind::kCount));

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

}  // namespace dxs::store
