#include "store/command_table.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>

#include "common/wire.h"

namespace dxs::store {
namespace {

using wire::MsgType;

// The handler of each type, in type order; nullptr where the message table has no
// request (WATCH_EVENT, ERROR, RESTRICT).
constexpr std::array<Handler, wire::kTypeCount> kHandlers = {
    cmd_control,               // CONTROL
    cmd_directory,             // DIRECTORY
    cmd_read,                  // READ
    cmd_get_perms,             // GET_PERMS
    cmd_watch,                 // WATCH
    cmd_unwatch,               // UNWATCH
    cmd_transaction_start,     // TRANSACTION_START
    cmd_transaction_end,       // TRANSACTION_END
    cmd_introduce,             // INTRODUCE
    cmd_release,               // RELEASE
    cmd_get_domain_path,       // GET_DOMAIN_PATH
    cmd_write,                 // WRITE
    cmd_mkdir,                 // MKDIR
    cmd_rm,                    // RM
    cmd_set_perms,             // SET_PERMS
    nullptr,                   // WATCH_EVENT
    nullptr,                   // ERROR
    cmd_is_domain_introduced,  // IS_DOMAIN_INTRODUCED
    cmd_resume,                // RESUME
    cmd_set_target,            // SET_TARGET
    nullptr,                   // RESTRICT
    cmd_reset_watches,         // RESET_WATCHES
    cmd_directory_part,        // DIRECTORY_PART
    cmd_get_feature,           // GET_FEATURE
    cmd_set_feature,           // SET_FEATURE
};

std::array<Command, wire::kTypeCount> make_table() {
  std::array<Command, wire::kTypeCount> table{};
  for (uint32_t t = 0; t < wire::kTypeCount; ++t) {
    const wire::MessageSpec* spec = wire::find_message(t);
    // A request type without a handler, or a handler for no request, is a build error
    // the unit tests catch at once (store_command_table).
    table[t] = Command{spec, spec->payload == wire::Payload::kNotRequest ? nullptr : kHandlers[t]};
  }
  return table;
}

const std::array<Command, wire::kTypeCount> kCommands = make_table();

// Arity of the strings of a Payload::kStrings request.
Status check_arity(const wire::MessageSpec& spec, const pb::Request& req) {
  if (spec.payload != wire::Payload::kStrings) return Status::ok();
  const auto& strings = req.strings();
  if (auto why = wire::arity_error(spec, strings.strings_size(), !strings.trailing().empty())) {
    return Status::error(EINVAL, fmt::format("{}: {}", spec.name, *why));
  }
  return Status::ok();
}

}  // namespace

const Command* find_command(uint32_t type) {
  if (type >= kCommands.size() || kCommands[type].handler == nullptr) return nullptr;
  return &kCommands[type];
}

Result<std::string> run_command(StoreState& s, Request& r) {
  const uint32_t type = r.req.type();
  const Command* cmd = find_command(type);
  if (cmd == nullptr) {
    return Status::error(ENOSYS, fmt::format("unknown or unsupported message type {}", type));
  }
  const wire::MessageSpec& spec = *cmd->spec;
  if (spec.privileged_only && !r.caller.privileged) {
    return Status::error(EACCES, fmt::format("{} is for privileged domains", spec.name));
  }
  if (spec.in_transaction && r.req.tx_id() != 0) {
    r.txn = s.txns.find(r.req.conn(), r.req.tx_id());
    if (r.txn == nullptr)
      return Status::error(ENOENT, fmt::format("no transaction {}", r.req.tx_id()));
  }
  if (r.req.has_malformed()) return Status::error(EINVAL, r.req.malformed().reason());
  DXS_RETURN_IF_ERROR(check_arity(spec, r.req));
  return cmd->handler(s, r);
}

bool is_recorded(const Connection& c, const pb::Request& req) {
  const Command* cmd = find_command(req.type());
  if (cmd == nullptr || cmd->spec->recovery == wire::Recovery::kRecorded) return true;
  return c.record.kind() != pb::SOCKET || req.tx_id() != 0;
}

}  // namespace dxs::store
