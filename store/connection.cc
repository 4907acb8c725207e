#include "store/connection.h"

#include <cstdio>

namespace dxs::store {

size_t ConnectionTable::load(Db& db) {
  by_id_.clear();
  auto it = db.iterate(Cf::kConnections);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Connection c;
    if (!c.record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      std::fprintf(stderr, "dxs-store: fatal: corrupt connection record\n");
      std::abort();
    }
    c.sent_event_id = c.record.acked_event_id();
    by_id_[c.record.id()] = std::move(c);
  }
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

void ConnectionTable::flush(WriteSet& ws) {
  for (uint64_t id : changed_) {
    if (const Connection* c = find(id)) {
      ws.put_record(Cf::kConnections, keys::connection(id), c->record);
    }
  }
  changed_.clear();
}

void ConnectionTable::remove(WriteSet& ws, uint64_t id) {
  changed_.erase(id);
  ws.del(Cf::kConnections, keys::connection(id));
  ws.del_prefix(Cf::kEvents, keys::connection(id));
  by_id_.erase(id);
}

void ConnectionTable::for_each(const std::function<void(Connection&)>& fn) {
  for (auto& [id, c] : by_id_) fn(c);
}

}  // namespace dxs::store
