// Status and Result<T>: errors as values.
//
// An error carries the Xenstore errno a client will see (EINVAL, EACCES, ENOSPC, ...) and
// a detail for logs that never reaches the wire. Functions that can fail return Status or
// Result<T>; exceptions never cross a module boundary.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace dxs {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(int err, std::string detail = {}) {
    assert(err != 0);
    Status s;
    s.err_ = err;
    s.detail_ = std::move(detail);
    return s;
  }

  bool is_ok() const { return err_ == 0; }
  explicit operator bool() const { return is_ok(); }
  // The errno; 0 when OK.
  int err() const { return err_; }
  const std::string& detail() const { return detail_; }
  // "ENOENT" or "ENOENT (detail)", for logs.
  std::string to_string() const;

 private:
  int err_ = 0;
  std::string detail_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  // REQUIRES: is_ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error; OK when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }
  int err() const { return is_ok() ? 0 : std::get<Status>(v_).err(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dxs

// Propagates a non-OK Status from an expression returning Status.
#define DXS_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::dxs::Status dxs_status_ = (expr);           \
    if (!dxs_status_.is_ok()) return dxs_status_; \
  } while (0)
