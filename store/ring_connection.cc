#include "store/ring_connection.h"

namespace dxs::store {

std::vector<uint64_t> ring_connections_of(StoreState& s, uint32_t domid) {
  std::vector<uint64_t> conns;
  s.connections.for_each([&](Connection& c) {
    if (c.record.kind() == pb::RING && c.record.domid() == domid) conns.push_back(c.record.id());
  });
  return conns;
}

uint32_t ring_features(const StoreState& s, uint32_t domid) {
  const pb::DomainRecord* d = s.domains.find(domid);
  return d != nullptr && d->has_features() ? d->features() : kSupportedFeatures;
}

pb::Outbound open_ring(StoreState& s, const pb::RingAddress& ring, bool reset) {
  pb::ConnectionRecord r;
  r.set_id(s.connections.allocate_ring_id(s.ws));
  r.set_kind(pb::RING);
  r.set_domid(ring.domid());
  *r.mutable_ring() = ring;
  r.set_next_tx_id(1);
  r.set_opened_ns(now_ns());
  s.connections.add(r);
  s.log.debug("ring connection {} of domain {} (port {}){}", r.id(), ring.domid(),
              ring.remote_port(), reset ? ", reset" : "");

  pb::Outbound o;
  pb::ConnectionCommand* cmd = o.mutable_command();
  cmd->set_conn(r.id());
  cmd->set_action(pb::ConnectionCommand::OPEN_RING);
  *cmd->mutable_ring() = ring;
  cmd->set_reset(reset);
  cmd->set_features(ring_features(s, ring.domid()));
  return o;
}

pb::Outbound close_ring(StoreState& s, uint64_t conn, std::string reason) {
  s.forget_connection(conn);
  pb::Outbound o;
  pb::ConnectionCommand* cmd = o.mutable_command();
  cmd->set_conn(conn);
  cmd->set_action(pb::ConnectionCommand::CLOSE);
  cmd->set_reason(std::move(reason));
  return o;
}

}  // namespace dxs::store
