// Delivery: what a connection is sent, in the order it must see it. That is the order
// things arose in, as with xenstored: watch events in the order of their ids, and a
// reply (or a command for the frontend) after every event queued for its connection
// before it. At most kEventWindow events of a connection are with the frontend
// unacknowledged; the others wait in the event log (event_log.h: each is durable from
// its batch on) and whatever arose after them waits here, in the connection's `held`
// list.
//
// The engine opens the delivery of a batch with begin(out) and everything sent goes to
// `out`, in order, until end().
//
// Thread-safety: none (the engine's thread).
#pragma once

#include <cstdint>
#include <vector>

#include "proto/session.pb.h"
#include "store/connection.h"
#include "store/event_log.h"

namespace dxs::store {

// Watch events sent to the frontend and not yet acknowledged, per connection. The rest
// wait in RocksDB, so a client that does not read costs the frontend a bounded buffer.
// (The store keeps 16 bytes of each in memory, up to the watch-events quota.)
constexpr uint64_t kEventWindow = 64;

class Delivery {
 public:
  explicit Delivery(EventLog& log) : log_(log) {}

  void begin(std::vector<pb::Outbound>* out) { out_ = out; }
  void end() { out_ = nullptr; }
  // Where the batch's output stands, and a return to it (a failed request's sends).
  size_t mark() const { return out_->size(); }
  void rollback(size_t mark) { out_->resize(mark); }

  // An event just queued for c (and logged): sent now if it is its turn.
  void event(Connection& c, pb::Outbound&& event);
  // A reply or command for c, to follow c's events up to id `after`.
  void follow(Connection& c, pb::Outbound&& item, uint64_t after);
  // For no known connection (a reply to an unknown one, the CLOSE of one just removed).
  void send(pb::Outbound&& item) { out_->push_back(std::move(item)); }
  // Sends c's queued events while its window allows, and what was held behind them.
  void pump(Connection& c);
  // A new frontend attached: every unacknowledged event of c goes again, and nothing
  // is held (the frontend re-sends the requests, whose replies are recorded; a recorded
  // reply sent again follow()s the events that preceded it the first time, so it never
  // overtakes them).
  void restart(Connection& c);

 private:
  EventLog& log_;
  std::vector<pb::Outbound>* out_ = nullptr;
};

}  // namespace dxs::store
