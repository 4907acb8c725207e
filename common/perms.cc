#include "common/perms.h"

#include <fmt/format.h>
#include <cerrno>

namespace dxs {

Result<PermEntry> parse_perm(std::string_view s) {
  if (s.size() < 2 || s.size() > 6) {
    return Status::error(EINVAL, fmt::format("bad permission '{}'", s));
  }
  PermEntry p;
  switch (s[0]) {
    case 'n':
      p.access = kAccessNone;
      break;
    case 'r':
      p.access = kAccessRead;
      break;
    case 'w':
      p.access = kAccessWrite;
      break;
    case 'b':
      p.access = kAccessBoth;
      break;
    default:
      return Status::error(EINVAL, fmt::format("bad permission letter in '{}'", s));
  }
  // A leading zero is refused: xenstored reads it as octal ("r010" is dom8 there), a
  // decimal reading would silently name another domain.
  if (s.size() > 2 && s[1] == '0') {
    return Status::error(EINVAL, fmt::format("domid with a leading zero in '{}'", s));
  }
  uint32_t domid = 0;
  for (char c : s.substr(1)) {
    if (c < '0' || c > '9') return Status::error(EINVAL, fmt::format("bad domid in '{}'", s));
    domid = domid * 10 + static_cast<uint32_t>(c - '0');
  }
  if (domid > kMaxDomid) return Status::error(EINVAL, fmt::format("domid too large in '{}'", s));
  p.domid = domid;
  return p;
}

std::string format_perm(const PermEntry& p) {
  static constexpr char kLetters[] = {'n', 'r', 'w', 'b'};
  return fmt::format("{}{}", kLetters[p.access & 3], p.domid);
}

std::string format_perms_payload(const Perms& perms) {
  std::string out;
  for (const auto& p : perms) {
    out += format_perm(p);
    out.push_back('\0');
  }
  return out;
}

std::string format_perms(const Perms& perms) {
  std::string out;
  for (const auto& p : perms) {
    if (!out.empty()) out.push_back(' ');
    out += format_perm(p);
  }
  return out;
}

}  // namespace dxs
