#include "common/path.h"

#include <fmt/format.h>
#include <cerrno>

namespace dxs::path {
namespace {

bool valid_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '/' || c == '_' || c == '@';
}

// Length of a leading "/local/domain/<1 to 5 digits>/", or 0.
size_t domain_prefix_length(std::string_view p) {
  constexpr std::string_view kPrefix = "/local/domain/";
  if (p.substr(0, kPrefix.size()) != kPrefix) return 0;
  size_t i = kPrefix.size();
  size_t digits = 0;
  while (i < p.size() && p[i] >= '0' && p[i] <= '9' && digits < 5) {
    ++i;
    ++digits;
  }
  if (digits == 0 || i >= p.size() || p[i] != '/') return 0;
  return i + 1;
}

Status check(std::string_view p, uint32_t path_max) {
  if (p.empty() || p[0] != '/') return Status::error(EINVAL, "path is not absolute");
  if (p.size() > 1 && p.back() == '/') return Status::error(EINVAL, "path ends with /");
  if (p.find("//") != std::string_view::npos) return Status::error(EINVAL, "empty path element");
  if (p.size() > domain_prefix_length(p) + path_max) {
    return Status::error(EINVAL, fmt::format("path of {} bytes is too long", p.size()));
  }
  for (char c : p) {
    if (!valid_char(c)) {
      return Status::error(
          EINVAL, fmt::format("invalid character 0x{:02x} in path", static_cast<unsigned char>(c)));
    }
  }
  return Status::ok();
}

}  // namespace

std::string home_of(uint32_t domid) {
  return fmt::format("/local/domain/{}", domid);
}

bool is_valid(std::string_view p, uint32_t path_max) {
  return check(p, path_max).is_ok();
}

bool is_special(std::string_view p) {
  return !p.empty() && p[0] == '@';
}

bool is_relative(std::string_view raw) {
  return raw.empty() || (raw[0] != '/' && raw[0] != '@');
}

Result<std::string> canonicalize(std::string_view raw, uint32_t domid, uint32_t path_max) {
  std::string p;
  if (is_relative(raw)) {
    p = home_of(domid);
    p.push_back('/');
    p.append(raw);
  } else {
    p.assign(raw);
  }
  Status s = check(p, path_max);
  if (!s.is_ok()) return s;
  return p;
}

std::string_view parent(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == 0 ? std::string_view("/") : p.substr(0, slash);
}

std::string_view basename(std::string_view p) {
  return p.substr(p.rfind('/') + 1);
}

bool is_at_or_below(std::string_view p, std::string_view ancestor) {
  if (ancestor == "/") return true;
  if (p.substr(0, ancestor.size()) != ancestor) return false;
  return p.size() == ancestor.size() || p[ancestor.size()] == '/';
}

std::string_view strip_home(std::string_view p, std::string_view home) {
  if (p.substr(0, home.size()) != home) return p;
  if (p.size() == home.size()) return std::string_view();
  if (p[home.size()] != '/') return p;
  return p.substr(home.size() + 1);
}

}  // namespace dxs::path
