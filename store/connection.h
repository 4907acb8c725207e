// ConnectionTable: every client connection the store knows (cf connections), with an
// in-memory index rebuilt from RocksDB at start. A connection's identity decides the
// rights of its requests; its markers (applied and replied sequence numbers, event ids)
// let either process restart without applying a request twice or losing a reply.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "proto/records.pb.h"
#include "store/db.h"
#include "store/policy.h"

namespace dxs::store {

struct Connection {
  pb::ConnectionRecord record;
  // Derived, not stored: rebuilt from the watch and transaction tables.
  uint32_t open_transactions = 0;
  // Watch events up to this id have been sent to the frontend. Not stored: after a
  // restart everything unacknowledged is sent again (at-least-once delivery).
  uint64_t sent_event_id = 0;
};

class ConnectionTable {
 public:
  // Loads every record; returns how many.
  size_t load(Db& db);

  Connection* find(uint64_t id);
  Connection& add(WriteSet& ws, const pb::ConnectionRecord& record);
  void save(WriteSet& ws, const Connection& c);
  // Forgets the record and its recorded replies and queued events.
  void remove(WriteSet& ws, uint64_t id);
  void for_each(const std::function<void(Connection&)>& fn);
  size_t size() const { return by_id_.size(); }

 private:
  std::map<uint64_t, Connection> by_id_;
};

}  // namespace dxs::store
