#include "store/directory_listing.h"

#include <cstring>

#include "common/wire.h"

namespace dxs::store {

std::string join_children(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    out.append(n);
    out.push_back('\0');
  }
  return out;
}

std::string directory_part(const std::string& list, uint64_t generation, size_t offset) {
  std::string out = std::to_string(generation);
  out.push_back('\0');
  if (offset >= list.size()) {
    out.push_back('\0');
    return out;
  }
  const size_t max_len = wire::kPayloadMax - out.size() - 1;
  size_t len = 0;
  while (offset + len < list.size()) {
    const size_t name_len = std::strlen(list.c_str() + offset + len);
    if (len + name_len >= max_len) break;
    len += name_len + 1;
  }
  out.append(list, offset, len);
  if (offset + len == list.size()) out.push_back('\0');
  return out;
}

}  // namespace dxs::store
