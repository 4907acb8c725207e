// The message table: what each Xenstore message type is, in one place.
//
// One entry per type of xs_wire.h: its name, the shape of its payload (which the
// frontend's codec decodes, knowing nothing of meaning), how many strings it takes, and
// the rules the store applies before any handler runs: privileged callers only, whether
// tx_id names a transaction, and whether its reply must be recorded for crash recovery.
// The store's command table (store/command_table.h) adds the handler of each entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/wire.h"

namespace dxs::wire {

// How a payload is laid out.
enum class Payload : uint8_t {
  kNotRequest,  // never sent by a client (WATCH_EVENT, ERROR) or removed (RESTRICT)
  kPath,        // exactly one NUL-terminated path filling the payload
  kPathValue,   // a NUL-terminated path, then the value: every byte up to the end
  kPathPerms,   // a path, then one or more permission strings
  kPathToken,   // a path and a token, then (WATCHDEPTH) optional extra strings
  kStrings,     // NUL-terminated strings, counted by min_args/max_args
  kRaw,         // not looked at (TRANSACTION_START, RESET_WATCHES)
};

// What a restarted frontend's re-sent request needs from the store.
enum class Recovery : uint8_t {
  // The reply is recorded with the request's effect, and a re-sent request gets it back.
  kRecorded,
  // A read: outside a transaction on a socket connection it changes nothing and is
  // answered again as of the commit it was first answered at, so it is not recorded.
  kReplayableRead,
};

struct MessageSpec {
  MsgType type;
  std::string_view name;
  Payload payload;
  // kStrings only: the number of NUL-terminated strings accepted, and whether bytes
  // after the last NUL are (xenstored's onearg() refuses them).
  uint8_t min_args = 0;
  uint8_t max_args = 0;
  bool trailing_ok = true;
  bool privileged_only = false;
  // tx_id must name an open transaction of the connection (0: none). WATCH and UNWATCH
  // ignore it, as xenstored does.
  bool in_transaction = true;
  Recovery recovery = Recovery::kRecorded;
};

inline constexpr uint8_t kAnyCount = UINT8_MAX;

// The entry of `type`, or nullptr for a type outside the table.
const MessageSpec* find_message(uint32_t type);

// Why `strings` strings (and `trailing` bytes after the last NUL) do not fit the
// entry's arity, or nullopt when they do. Only for Payload::kStrings.
std::optional<std::string_view> arity_error(const MessageSpec& spec, size_t strings, bool trailing);

}  // namespace dxs::wire
