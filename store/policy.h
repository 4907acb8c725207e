// Permission rules (reference section 3.1): who may do what to a node.
#pragma once

#include <cstdint>
#include <optional>

#include "common/perms.h"

namespace dxs::store {

// The identity a request is checked against.
struct Caller {
  uint32_t domid = 0;
  // Socket clients, dom0 and the configured privileged domain bypass every check and
  // quota.
  bool privileged = true;
  // SET_TARGET: this domain acts for `target` (a device model acting for its guest).
  std::optional<uint32_t> target;
};

constexpr uint8_t kRightRead = kAccessRead;
constexpr uint8_t kRightWrite = kAccessWrite;
constexpr uint8_t kRightOwner = 4;
constexpr uint8_t kRightsAll = kRightRead | kRightWrite | kRightOwner;

// The rights `caller` has on a node with `perms` (xenstored's perm_for_conn): all of them
// for the privileged and the owner (or the owner's targeter); else the first ACL entry
// naming the caller or its target; else entry 0's default.
uint8_t rights_for(const Caller& caller, const Perms& perms);

inline bool has_rights(const Caller& caller, const Perms& perms, uint8_t need) {
  return (rights_for(caller, perms) & need) == need;
}

}  // namespace dxs::store
