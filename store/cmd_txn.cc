// Commands on transactions: TRANSACTION_START and TRANSACTION_END (txn_merge.h has
// what a commit means).
#include <fmt/format.h>

#include <cerrno>

#include "store/commands.h"
#include "store/txn_merge.h"

namespace dxs::store {

Result<std::string> cmd_transaction_start(StoreState& s, Request& r) {
  if (r.txn != nullptr) return Status::error(EBUSY, "transactions do not nest");
  Connection& c = r.conn;
  DXS_RETURN_IF_ERROR(
      s.quotas.admit(r.caller, QuotaKind::kTransactions, c.open_transactions, 1, r.quota_hits, [&] {
        return fmt::format("connection {} has {} open", c.record.id(), c.open_transactions);
      }));
  uint32_t id = c.record.next_tx_id();
  while (id == 0 || s.txns.find(c.record.id(), id) != nullptr) ++id;
  c.record.set_next_tx_id(id + 1);
  s.txns.start(c.record.id(), id, s.history.head(), now_ns());
  if (s.guard.began(c.record.id(), id, steady_ns())) ++s.stats.guards;
  c.open_transactions += 1;
  s.connections.save(c);
  return std::to_string(id) + '\0';
}

Result<std::string> cmd_transaction_end(StoreState& s, Request& r) {
  const std::string& arg = r.req.strings().strings(0);
  if (arg != "T" && arg != "F") return Status::error(EINVAL, "TRANSACTION_END takes T or F");
  if (r.txn == nullptr) return Status::error(ENOENT, "no transaction to end");
  Transaction& t = *r.txn;
  const uint64_t conn = t.conn;
  const uint32_t id = t.record.id();
  auto forget = [&s, conn, id]() {
    s.txns.discard(s.ws, conn, id);
    if (Connection* c = s.connections.find(conn)) {
      c->open_transactions -= 1;
      s.connections.save(*c);
    }
  };
  if (arg == "F") {
    r.txn = nullptr;
    s.guard.ended(conn, id);
    forget();
    return kOkReply;
  }
  Result<std::string> committed = merge_transaction(s, r, t);
  r.txn = nullptr;
  if (!committed) {
    // A lost commit counts towards a guard for the next attempt, which will most
    // likely read what this one did (conflict_guard.h).
    const bool lost = committed.status().err() == EAGAIN;
    std::vector<Observed> observed;
    if (lost) observed = observations_of(s.txns.read_log(s.ws, t));
    r.on_failure.push_back([&s, conn, id, lost, observed = std::move(observed),
                            privileged = r.caller.privileged, forget]() {
      if (lost) s.guard.lost(conn, privileged, observed);
      s.guard.ended(conn, id);
      forget();
    });
    return committed;
  }
  s.guard.won(conn);
  forget();
  return committed;
}

}  // namespace dxs::store
