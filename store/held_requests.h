// HeldRequests: the requests the engine holds back until what they wait for lifts (a
// guarded transaction: conflict_guard.h), per connection in arrival order. Once one of
// a connection's requests waits, every later one waits behind it, so that a connection's
// requests still take effect, and are answered, in the order it sent them.
//
// Nothing here is durable: a held request has not been applied, and the frontend,
// which holds it unanswered, sends it again to a restarted store or after it attaches
// anew (the engine then forgets what it held).
//
// Memory: bounded by the frontend's in-flight limit of each connection.
// Thread-safety: none (the engine's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "proto/session.pb.h"

namespace dxs::store {

class HeldRequests {
 public:
  bool holds(uint64_t conn) const { return queues_.count(conn) != 0; }
  bool empty() const { return queues_.empty(); }
  void hold(const pb::Request& req);
  // The connections with requests held, the one held longest first.
  std::vector<uint64_t> connections() const;
  // conn's first held request; REQUIRES: holds(conn).
  const pb::Request& front(uint64_t conn) const { return queues_.at(conn).requests.front(); }
  pb::Request pop(uint64_t conn);
  void drop(uint64_t conn) { queues_.erase(conn); }
  void clear() { queues_.clear(); }

 private:
  struct Queue {
    uint64_t since = 0;
    std::deque<pb::Request> requests;
  };
  std::map<uint64_t, Queue> queues_;
  uint64_t next_ = 0;
};

}  // namespace dxs::store
