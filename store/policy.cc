#include "store/policy.h"

namespace dxs::store {

uint8_t rights_for(const Caller& caller, const Perms& perms) {
  if (caller.privileged || perms.empty()) return kRightsAll;
  const uint32_t owner = perms[0].domid;
  if (owner == caller.domid || (caller.target && owner == *caller.target)) return kRightsAll;
  for (size_t i = 1; i < perms.size(); ++i) {
    if (perms[i].domid == caller.domid || (caller.target && perms[i].domid == *caller.target)) {
      return perms[i].access;
    }
  }
  return perms[0].access;
}

}  // namespace dxs::store
