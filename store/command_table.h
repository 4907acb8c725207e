// The command table: for each message type, its entry in the message table
// (common/message_table.h: payload shape and arity, privileged-only, transaction-scoped,
// recorded for recovery) and the handler that carries it out (commands.h). Adding a
// message type is one entry there and one handler here.
//
// The engine dispatches every request through it. Before the handler runs, the entry's
// rules are checked in the order C xenstored checks them: ENOSYS for a type that is no
// request, EACCES for a privileged-only type from anyone else, ENOENT for a tx_id that
// names no open transaction, then EINVAL for a payload of the wrong shape or arity.
#pragma once

#include <cstdint>

#include "common/message_table.h"
#include "common/result.h"
#include "store/commands.h"

namespace dxs::store {

struct Command {
  const wire::MessageSpec* spec;
  Handler handler;
};

// The command for `type`, or nullptr for a type no client may send.
const Command* find_command(uint32_t type);

// Checks the rules above for r (setting r.txn) and runs the handler.
Result<std::string> run_command(StoreState& s, Request& r);

// Whether the reply to `req` on connection c is recorded, with its effect, so that a
// frontend re-sending it after a restart gets the same answer (Recovery in the message
// table). A ring connection's record also tells a restarted frontend where its ring was
// read up to, so each of its requests is recorded.
bool is_recorded(const Connection& c, const pb::Request& req);

}  // namespace dxs::store
