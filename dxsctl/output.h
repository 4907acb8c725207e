// How dxsctl prints what the store holds: values are bytes, so text output escapes what
// a terminal would take for control characters, and --json output is valid JSON whatever
// the bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dxs::ctl {

// A JSON string literal of s: '"' and '\\' escaped, other bytes outside printable
// ASCII as \u00XX (so the byte value survives).
std::string json_string(std::string_view s);

// s with '\\' doubled and bytes outside printable ASCII as \xXX.
std::string printable(std::string_view s);

// The NUL-separated strings of a Xenstore payload (DIRECTORY, GET_PERMS).
std::vector<std::string> split_nuls(const std::string& payload);

}  // namespace dxs::ctl
