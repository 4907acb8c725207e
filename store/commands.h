// The commands: one handler per message type, as oxenstored's process.ml has, each
// taking its arguments from the request (whose shape and arity the command table has
// checked), asking the model (tree, transactions, watches, domains, quotas) and
// returning the reply payload or the error the client gets. A handler changes state
// only through StoreState; its writes are undone if it fails.
//
// Grouped by concept: nodes (cmd_nodes.cc), transactions (cmd_txn.cc), watches
// (cmd_watch.cc), domains (cmd_domain.cc), CONTROL (cmd_control.cc).
#pragma once

#include <string>

#include "common/result.h"
#include "store/request.h"
#include "store/state.h"

namespace dxs::store {

using Handler = Result<std::string> (*)(StoreState& s, Request& r);

Result<std::string> cmd_read(StoreState& s, Request& r);
Result<std::string> cmd_get_perms(StoreState& s, Request& r);
Result<std::string> cmd_directory(StoreState& s, Request& r);
Result<std::string> cmd_directory_part(StoreState& s, Request& r);
Result<std::string> cmd_write(StoreState& s, Request& r);
Result<std::string> cmd_mkdir(StoreState& s, Request& r);
Result<std::string> cmd_rm(StoreState& s, Request& r);
Result<std::string> cmd_set_perms(StoreState& s, Request& r);

Result<std::string> cmd_transaction_start(StoreState& s, Request& r);
Result<std::string> cmd_transaction_end(StoreState& s, Request& r);

Result<std::string> cmd_watch(StoreState& s, Request& r);
Result<std::string> cmd_unwatch(StoreState& s, Request& r);
Result<std::string> cmd_reset_watches(StoreState& s, Request& r);

Result<std::string> cmd_introduce(StoreState& s, Request& r);
Result<std::string> cmd_release(StoreState& s, Request& r);
Result<std::string> cmd_resume(StoreState& s, Request& r);
Result<std::string> cmd_set_target(StoreState& s, Request& r);
Result<std::string> cmd_get_domain_path(StoreState& s, Request& r);
Result<std::string> cmd_is_domain_introduced(StoreState& s, Request& r);
Result<std::string> cmd_get_feature(StoreState& s, Request& r);
Result<std::string> cmd_set_feature(StoreState& s, Request& r);

Result<std::string> cmd_control(StoreState& s, Request& r);

// The store's own commands, of no message type (Engine::act_as_store), for what the
// frontend reports of domains (DomainStates): strings {domid, why}, the domain is gone
// (the cleanup of RELEASE); strings {domid}, it shut down (@releaseDomain, once until
// RESUME).
Result<std::string> cmd_domain_gone(StoreState& s, Request& r);
Result<std::string> cmd_domain_shut_down(StoreState& s, Request& r);

}  // namespace dxs::store
