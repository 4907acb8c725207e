#include "store/state.h"

#include <chrono>

namespace dxs::store {

StoreState::StoreState(Db& db, const EngineOptions& options, Logger& log)
    : db(db),
      options(options),
      log(log),
      ws(db),
      refusals(log),
      quotas(domains, this->options.quota, refusals),
      events(ws),
      delivery(events),
      privacy(options.private_paths),
      guard(options.guard),
      backpressure(options.backpressure) {
  history.set_privacy(&privacy);
}

Caller StoreState::caller_of(const Connection& c) const {
  Caller caller;
  if (c.record.kind() != pb::RING) return caller;  // socket clients are dom0
  caller.domid = c.record.domid();
  caller.privileged = is_privileged_domid(caller.domid);
  if (const pb::DomainRecord* d = domains.find(caller.domid); d && d->has_target()) {
    caller.target = d->target();
  }
  return caller;
}

bool StoreState::is_privileged_domid(uint32_t domid) const {
  return domid == 0 || (options.privileged_domid && *options.privileged_domid == domid);
}

uint32_t StoreState::home_domid(const Connection& c) {
  return c.record.kind() == pb::RING ? c.record.domid() : 0;
}

void StoreState::drop_connection_state(uint64_t conn) {
  watches.remove_all(ws, conn);
  guard.forget(conn);
  txns.discard_all(ws, conn);
  if (Connection* c = connections.find(conn)) c->open_transactions = 0;
}

void StoreState::forget_connection(uint64_t conn) {
  drop_connection_state(conn);
  if (const Connection* c = connections.find(conn)) events.forget(*c);
  backpressure.forget(conn);
  connections.remove(ws, conn);
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace dxs::store
