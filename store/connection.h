// ConnectionTable: every client connection the store knows (cf connections), with an
// in-memory index rebuilt from RocksDB at start. A connection's identity decides the
// rights of its requests; its markers (applied and replied sequence numbers, event ids)
// let either process restart without applying a request twice or losing a reply.
//
// Socket connections are numbered by the frontend (conn_id_base + n, bases 2^32 apart
// from 2^32); ring connections by the store, from kFirstRingConnection up, a range no
// frontend base reaches (it would take 2^30 frontend restarts).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "proto/records.pb.h"
#include "store/db.h"
#include "store/policy.h"

namespace dxs::store {

// Where one unacknowledged watch event of a connection is kept (event_log.h): in the
// EventLogRecord of batch `batch`; with EventLog::kInChunk set, in the connection's
// EventChunk that starts at event `batch & ~kInChunk`; batch 0, in an EventRecord of its own.
struct EventRef {
  uint64_t id = 0;
  uint64_t batch = 0;
};

struct Connection {
  pb::ConnectionRecord record;
  // Derived, not stored: rebuilt from the watch and transaction tables.
  uint32_t open_transactions = 0;
  // Watch events up to this id have been sent to the frontend. Not stored: after a
  // restart everything unacknowledged is sent again (at-least-once delivery).
  uint64_t sent_event_id = 0;
  // Replies (and commands) waiting for the events queued before them, each with the id
  // of the last event that must precede it: a client sees events and replies in the
  // order they arose, as with xenstored, even when events wait for the window. Not
  // stored: a frontend that attaches again re-sends the requests, whose replies are.
  std::deque<std::pair<uint64_t, pb::Outbound>> held;
  // Its events after acked_event_id, in id order (event_log.h). Not stored: rebuilt
  // from cf events at start.
  std::deque<EventRef> unacked;
  // The first event-log batch with an event or acknowledgement of this connection that
  // its durable record does not reflect (0: none): the log keeps that batch until the
  // record is written again.
  uint64_t unsaved_batch = 0;
  // The Ops API's connection only: who its request in progress is from ("uid 1000",
  // "cert CN=alice"), for the author of the commits it makes. Not stored.
  std::string ops_identity;
};

inline constexpr uint64_t kFirstRingConnection = uint64_t{1} << 62;

class ConnectionTable {
 public:
  // Loads every record; returns how many.
  size_t load(Db& db);

  Connection* find(uint64_t id);
  Connection& add(const pb::ConnectionRecord& record);
  // A ring connection id never used before; the durable counter advances in ws, so an
  // id handed out by a request that is rolled back is handed out again.
  uint64_t allocate_ring_id(WriteSet& ws);
  // c's record changed: it is written by the next flush(), once however often it
  // changed in between. Its event ids and acknowledgements need no save: the event log
  // holds them (event_log.h).
  void save(const Connection& c) { changed_.insert(c.record.id()); }
  // Writes the changed records into ws, as of event-log batch `batch` (which they
  // reflect); the engine calls it before each commit.
  void flush(WriteSet& ws, uint64_t batch);
  // Forgets the record and its queued events.
  void remove(WriteSet& ws, uint64_t id);
  void for_each(const std::function<void(Connection&)>& fn);
  size_t size() const { return by_id_.size(); }

 private:
  std::map<uint64_t, Connection> by_id_;
  std::set<uint64_t> changed_;
};

}  // namespace dxs::store
