#include "dxsctl/output.h"

#include <fmt/format.h>

#include "common/wire.h"

namespace dxs::ctl {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c >= 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}

std::vector<std::string> split_nuls(const std::string& payload) {
  std::vector<std::string> out;
  wire::Strings s = wire::split_strings(payload);
  for (auto v : s.strings) out.emplace_back(v);
  return out;
}

}  // namespace dxs::ctl
