#include "common/message_table.h"

#include <array>

namespace dxs::wire {
namespace {

using P = Payload;
using R = Recovery;

constexpr MessageSpec not_request(MsgType t, std::string_view name) {
  return MessageSpec{t, name, P::kNotRequest};
}
constexpr MessageSpec read(MsgType t, std::string_view name, P payload) {
  return MessageSpec{.type = t, .name = name, .payload = payload, .recovery = R::kReplayableRead};
}
constexpr MessageSpec strings(MsgType t, std::string_view name, uint8_t min, uint8_t max,
                              bool privileged, bool trailing_ok = true) {
  return MessageSpec{.type = t,
                     .name = name,
                     .payload = P::kStrings,
                     .min_args = min,
                     .max_args = max,
                     .trailing_ok = trailing_ok,
                     .privileged_only = privileged};
}

// In type order: the index is the type.
constexpr std::array<MessageSpec, kTypeCount> kMessages = {
    strings(MsgType::kControl, "CONTROL", 1, kAnyCount, true),
    read(MsgType::kDirectory, "DIRECTORY", P::kPath),
    read(MsgType::kRead, "READ", P::kPath),
    read(MsgType::kGetPerms, "GET_PERMS", P::kPath),
    MessageSpec{.type = MsgType::kWatch,
                .name = "WATCH",
                .payload = P::kPathToken,
                .in_transaction = false},
    MessageSpec{.type = MsgType::kUnwatch,
                .name = "UNWATCH",
                .payload = P::kPathToken,
                .in_transaction = false},
    MessageSpec{MsgType::kTransactionStart, "TRANSACTION_START", P::kRaw},
    strings(MsgType::kTransactionEnd, "TRANSACTION_END", 1, 1, false, false),
    strings(MsgType::kIntroduce, "INTRODUCE", 3, kAnyCount, true),
    strings(MsgType::kRelease, "RELEASE", 1, 1, true, false),
    strings(MsgType::kGetDomainPath, "GET_DOMAIN_PATH", 1, 1, false, false),
    MessageSpec{MsgType::kWrite, "WRITE", P::kPathValue},
    MessageSpec{MsgType::kMkdir, "MKDIR", P::kPath},
    MessageSpec{MsgType::kRm, "RM", P::kPath},
    MessageSpec{MsgType::kSetPerms, "SET_PERMS", P::kPathPerms},
    not_request(MsgType::kWatchEvent, "WATCH_EVENT"),
    not_request(MsgType::kError, "ERROR"),
    strings(MsgType::kIsDomainIntroduced, "IS_DOMAIN_INTRODUCED", 1, 1, true, false),
    strings(MsgType::kResume, "RESUME", 1, 1, true, false),
    strings(MsgType::kSetTarget, "SET_TARGET", 2, kAnyCount, true),
    not_request(MsgType::kRestrict, "RESTRICT"),
    MessageSpec{MsgType::kResetWatches, "RESET_WATCHES", P::kRaw},
    MessageSpec{.type = MsgType::kDirectoryPart,
                .name = "DIRECTORY_PART",
                .payload = P::kStrings,
                .min_args = 2,
                .max_args = 2,
                .recovery = R::kReplayableRead},
    // Without a domid, any caller's own features; with one, privileged callers only
    // (the handler checks: the table's rule is per type, this one is per arity).
    strings(MsgType::kGetFeature, "GET_FEATURE", 0, 1, false, false),
    strings(MsgType::kSetFeature, "SET_FEATURE", 2, 2, true, false),
};

constexpr bool in_type_order() {
  for (size_t i = 0; i < kMessages.size(); ++i) {
    if (static_cast<size_t>(kMessages[i].type) != i) return false;
  }
  return true;
}
static_assert(in_type_order(), "kMessages[t] must describe type t");

}  // namespace

const MessageSpec* find_message(uint32_t type) {
  return type < kMessages.size() ? &kMessages[type] : nullptr;
}

std::optional<std::string_view> arity_error(const MessageSpec& spec, size_t strings,
                                            bool trailing) {
  if (strings < spec.min_args) return "too few arguments";
  if (spec.max_args != kAnyCount && strings > spec.max_args) return "too many arguments";
  if (trailing && !spec.trailing_ok) return "bytes after the last NUL";
  return std::nullopt;
}

}  // namespace dxs::wire
