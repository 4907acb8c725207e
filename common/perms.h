// Xenstore permission lists: "<letter><domid>" strings, letter n (none), r (read),
// w (write) or b (both). Entry 0 names the owner, who has every right, and the access
// every domain not listed afterwards gets; later entries are per-domain exceptions, the
// first match winning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dxs {

enum Access : uint8_t {
  kAccessNone = 0,
  kAccessRead = 1,
  kAccessWrite = 2,
  kAccessBoth = 3,
};

struct PermEntry {
  uint32_t domid = 0;
  uint8_t access = kAccessNone;
  bool operator==(const PermEntry&) const = default;
};

// REQUIRES (for a node's permissions): at least one entry.
using Perms = std::vector<PermEntry>;

constexpr uint32_t kMaxDomid = 0xFFFF;  // domid_t is 16 bits

// Parses one entry strictly: a letter, then 1-5 decimal digits without a leading zero,
// naming a domid <= 65535. (xenstored 4.17 reads the domid with strtol base 0: it also
// takes hex, octal ("w010" is dom8), signs, leading blanks and domids over 65535, all of
// which dxs refuses with EINVAL. Both refuse "r" and "r5x".)
Result<PermEntry> parse_perm(std::string_view s);
std::string format_perm(const PermEntry& p);

// The wire form of a whole list: each entry NUL-terminated.
std::string format_perms_payload(const Perms& perms);
// Human form for logs and history: "n0 r7".
std::string format_perms(const Perms& perms);

}  // namespace dxs
