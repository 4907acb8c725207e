#include "common/printable.h"

#include <fmt/format.h>

namespace dxs {

std::string printable(std::string_view bytes, size_t max) {
  std::string out;
  out.reserve(std::min(bytes.size(), max));
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (bytes.size() > max) out += fmt::format("... ({} bytes)", bytes.size());
  return out;
}

}  // namespace dxs
