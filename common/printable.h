// Bytes made fit for a log line or a one-line summary: printable ASCII kept, everything
// else (and the backslash) escaped as \xNN, and anything past `max` bytes replaced by
// "... (N bytes)". Guest-controlled strings pass through it before they are logged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dxs {

std::string printable(std::string_view bytes, size_t max);

}  // namespace dxs
