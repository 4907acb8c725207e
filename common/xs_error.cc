#include "common/xs_error.h"

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

namespace dxs {
namespace {

struct ErrorName {
  int err;
  std::string_view name;
};

// Order of xsd_errors[] in xen/include/public/io/xs_wire.h.
constexpr ErrorName kErrors[] = {
    {EINVAL, "EINVAL"},       {EACCES, "EACCES"},   {EEXIST, "EEXIST"}, {EISDIR, "EISDIR"},
    {ENOENT, "ENOENT"},       {ENOMEM, "ENOMEM"},   {ENOSPC, "ENOSPC"}, {EIO, "EIO"},
    {ENOTEMPTY, "ENOTEMPTY"}, {ENOSYS, "ENOSYS"},   {EROFS, "EROFS"},   {EBUSY, "EBUSY"},
    {EAGAIN, "EAGAIN"},       {EISCONN, "EISCONN"}, {E2BIG, "E2BIG"},   {EPERM, "EPERM"},
};

}  // namespace

std::string_view xs_error_name(int err) {
  for (const auto& e : kErrors) {
    if (e.err == err) return e.name;
  }
  return "EINVAL";
}

int xs_error_from_name(std::string_view name) {
  for (const auto& e : kErrors) {
    if (e.name == name) return e.err;
  }
  return 0;
}

bool xs_error_is_known(int err) {
  for (const auto& e : kErrors) {
    if (e.err == err) return true;
  }
  return false;
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string name =
      xs_error_is_known(err_) ? std::string(xs_error_name(err_)) : fmt::format("errno {}", err_);
  if (detail_.empty()) return name;
  return fmt::format("{} ({})", name, detail_);
}

}  // namespace dxs
