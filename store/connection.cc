#include "store/connection.h"

namespace dxs::store {

size_t ConnectionTable::load(Db& db) {
  by_id_.clear();
  for_each_record<pb::ConnectionRecord>(db, Cf::kConnections, {},
                                        [&](std::string_view, pb::ConnectionRecord& r) {
                                          Connection& c = by_id_[r.id()];
                                          c.sent_event_id = r.acked_event_id();
                                          c.record = std::move(r);
                                        });
  return by_id_.size();
}

Connection* ConnectionTable::find(uint64_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

Connection& ConnectionTable::add(const pb::ConnectionRecord& record) {
  Connection& c = by_id_[record.id()];
  c = Connection{};
  c.record = record;
  save(c);
  return c;
}

uint64_t ConnectionTable::allocate_ring_id(WriteSet& ws) {
  std::string value;
  uint64_t id = kFirstRingConnection;
  if (ws.get(Cf::kMeta, meta::kNextRingConn, &value) && value.size() == 8)
    id = keys::load_be64(value);
  ws.put(Cf::kMeta, meta::kNextRingConn, keys::be64(id + 1));
  return id;
}

void ConnectionTable::flush(WriteSet& ws, uint64_t batch) {
  for (uint64_t id : changed_) {
    if (Connection* c = find(id)) {
      c->record.set_event_log_batch(batch);
      c->unsaved_batch = 0;
      ws.put_record(Cf::kConnections, keys::connection(id), c->record);
    }
  }
  changed_.clear();
}

void ConnectionTable::remove(WriteSet& ws, uint64_t id) {
  changed_.erase(id);
  ws.del(Cf::kConnections, keys::connection(id));
  ws.del_prefix(Cf::kEvents, keys::events_of(id));
  by_id_.erase(id);
}

void ConnectionTable::for_each(const std::function<void(Connection&)>& fn) {
  for (auto& [id, c] : by_id_) fn(c);
}

}  // namespace dxs::store
