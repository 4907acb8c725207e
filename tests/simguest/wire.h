// Xenstore messages as the guest and its dom0 client build and parse them: the 16-byte
// header (type, req_id, tx_id, len; little endian) and a payload of at most 4096 bytes;
// message type names; and the escaping the CLI uses to print and read binary payloads
// (\0, \n, \\, \xHH; everything else printable passes as is).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace simguest {

inline constexpr uint32_t kPayloadMax = 4096;
inline constexpr size_t kHeaderSize = 16;
inline constexpr uint32_t kWatchEvent = 15;
inline constexpr uint32_t kError = 16;

struct Message {
  uint32_t type = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  std::string payload;

  bool is_error() const { return type == kError; }
  // The errno name of an ERROR reply ("ENOENT").
  std::string error_name() const;
};

std::string encode(const Message& m);

// Parses one message off the front of `buf` if it is complete and erases it. A header
// promising more than 4096 bytes makes the stream unusable: `bad` is set.
std::optional<Message> take_message(std::string& buf, bool* bad);

// "READ" or "2" -> 2; nullopt for an unknown name.
std::optional<uint32_t> type_by_name(const std::string& name);

std::string escape(const std::string& bytes);
std::optional<std::string> unescape(const std::string& text);

// NUL-separated strings (a trailing NUL ends the last one).
std::vector<std::string> split_nul(const std::string& payload);

}  // namespace simguest
