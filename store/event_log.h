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
// The log keeps at most kLogBatches records. Beyond that the oldest go: the connections
// they name have their records written (so that nothing needs replaying from them), and
// an event still unacknowledged in one (a client that does not read) is moved into an
// EventRecord of its own (cf events, conn, event id), which its acknowledgement deletes.
// The watch-events quota bounds those per connection, as it bounds the log's share.
//
// In memory: each connection's unacknowledged events as EventRefs (16 bytes each), the
// batch being built, and the number of unacknowledged events in each record kept.
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
  void release(const EventRef& ref);

  StateReader& state_;
  uint64_t batch_ = 1;
  pb::EventLogRecord pending_;
  uint64_t pending_unacked_ = 0;
  // Every record kept, by batch: how many of its events are unacknowledged.
  std::map<uint64_t, uint64_t> kept_;
  uint64_t cached_batch_ = 0;
  pb::EventLogRecord cached_;
};

}  // namespace dxs::store
