// EventLog: where queued watch events are durable, at the cost of one RocksDB write per
// group commit rather than several per event.
//
// Every event a batch queues, for whatever connection, and every acknowledgement it
// applies go into one EventLogRecord, written with the batch (cf events, connection 0,
// keyed by the batch's number). A connection's record is not rewritten for them: its
// event ids, acknowledgement and ring offset are as of the batch it was last written in
// (ConnectionRecord.event_log_batch), and at start the log's later records are replayed
// over it. So an event costs a share of one put, and an acknowledgement none of its own.
//
// The log keeps at most kLogBatches records. Beyond that the oldest half goes: the
// connections they name have their records written (so that nothing needs replaying from
// them), and the events still unacknowledged in them (a client that does not read) are
// moved, each connection's together, into one EventChunk (cf events, conn, first event
// id), deleted with the acknowledgement of its last. So a watcher that never reads costs
// one put per connection per drop, not one per event (and one delete, not one per event,
// once it reads). The watch-events quota bounds a connection's chunked events, as it
// bounds its share of the log. EventRecords (one event each, cf events, conn, event id),
// which a store before the chunks wrote instead, are loaded and delivered as before.
//
// In memory: each connection's unacknowledged events as EventRefs (16 bytes each), the
// batch being built, the number of unacknowledged events in each record kept, and the
// last log record and the last chunk read, parsed (Delivery reads them in order).
//
// Thread-safety: none (the engine's thread).
#pragma once

#include <cstdint>
#include <map>

#include "proto/records.pb.h"
#include "proto/session.pb.h"
#include "store/connection.h"
#include "store/db.h"

namespace dxs::store {

class EventLog {
 public:
  static constexpr size_t kLogBatches = 64;
  // EventRef.batch with this bit: the event is in the chunk of the connection whose
  // first event id is the other bits (batch numbers and event ids never get there).
  static constexpr uint64_t kInChunk = uint64_t{1} << 63;

  explicit EventLog(StateReader& state) : state_(state) {}

  // At start, after the connections are loaded: replays the log over their records and
  // lists each one's unacknowledged events. What it tidies (events of connections
  // gone, or acknowledged) is deleted in ws.
  void load(StateReader& db, ConnectionTable& connections, WriteSet& ws);

  // The batch being built.
  uint64_t batch() const { return batch_; }
  // Event e (its id, path, token and place) queued for c in this batch.
  void append(Connection& c, const pb::WatchEvent& e);
  // c's events up to `upto` are acknowledged (upto beyond acked_event_id).
  void acknowledge(WriteSet& ws, Connection& c, uint64_t upto);
  // c is forgotten: its events no longer hold the log's records.
  void forget(const Connection& c);
  // The event of c that ref names; the store stops if it is not there (corruption).
  void read(uint64_t conn, const EventRef& ref, pb::EventRecord* out);

  // Before the group commit, ahead of ConnectionTable::flush: lets the oldest records go
  // if the log is full (saving the connections that need it) and puts this batch's.
  void write(WriteSet& ws, ConnectionTable& connections);
  // After the group commit: the next batch.
  void advance() { ++batch_; }

 private:
  void drop_oldest(WriteSet& ws, ConnectionTable& connections);
  // Record `batch`, from cf events (the last one read is kept parsed).
  const pb::EventLogRecord& record(uint64_t batch);
  // conn's chunk that starts at event `first` (the last one read is kept parsed).
  const pb::EventChunk& chunk(uint64_t conn, uint64_t first);
  void release(const EventRef& ref);
  // c's oldest unacknowledged event is acknowledged (or tidied at start): what kept it
  // in cf events goes once nothing else needs it.
  void pop_oldest(WriteSet& ws, Connection& c);
  void forget_chunk();

  StateReader& state_;
  uint64_t batch_ = 1;
  pb::EventLogRecord pending_;
  uint64_t pending_unacked_ = 0;
  // Every record kept, by batch: how many of its events are unacknowledged.
  std::map<uint64_t, uint64_t> kept_;
  uint64_t cached_batch_ = 0;
  pb::EventLogRecord cached_;
  // The chunk parsed in cached_chunk_, by connection and first event id (0, 0: none).
  uint64_t cached_chunk_conn_ = 0;
  uint64_t cached_chunk_first_ = 0;
  pb::EventChunk cached_chunk_;
};

}  // namespace dxs::store
