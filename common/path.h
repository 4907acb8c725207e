// Xenstore path syntax.
//
// A canonical path is absolute: "/" or "/"-separated names of [A-Za-z0-9_@-], no empty
// name, no trailing "/". Relative paths are resolved against the connection's home,
// /local/domain/<domid>. Length is limited as in xenstored: `path_max` characters after a
// leading "/local/domain/<domid>/" (so a guest's path stays valid when migration changes
// the length of its domid), `path_max` for any other path. Special watch names start with
// "@" and are never resolved.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dxs::path {

constexpr uint32_t kDefaultPathMax = 2048;  // xenstored's -M default

// "/local/domain/<domid>"
std::string home_of(uint32_t domid);

// True if `p` is a canonical absolute path within `path_max`.
bool is_valid(std::string_view p, uint32_t path_max = kDefaultPathMax);

// Resolves a client's path (absolute or relative to home_of(domid)) and validates it.
// EINVAL for any syntax or length error; the detail says which.
Result<std::string> canonicalize(std::string_view raw, uint32_t domid,
                                 uint32_t path_max = kDefaultPathMax);

bool is_special(std::string_view p);     // starts with '@'
bool is_relative(std::string_view raw);  // neither '/' nor '@' first

// REQUIRES: p is canonical and not "/".
std::string_view parent(std::string_view p);
std::string_view basename(std::string_view p);

// True if `p` is `ancestor` or below it ("/" is everyone's ancestor).
bool is_at_or_below(std::string_view p, std::string_view ancestor);

// p with home + "/" removed when it starts with it ("" when p == home), else p.
std::string_view strip_home(std::string_view p, std::string_view home);

}  // namespace dxs::path
