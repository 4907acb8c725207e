// The seam between the Dispatch and the store session, one interface each way.
//
// SessionLink is what the Dispatch sends through (SessionClient implements it over the
// gRPC stream; tests implement it to see what would reach the store). SessionHandler is
// what the session calls back with what the store says.
#pragma once

#include <vector>

#include "proto/session.pb.h"

namespace dxs::frontend {

class SessionLink {
 public:
  virtual ~SessionLink() = default;
  // Queues an item for the store; it leaves with the next batch, in submission order.
  virtual void submit(pb::Inbound&& item) = 0;
};

class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  // A (new) stream is attached; the returned items are sent before any other.
  virtual std::vector<pb::Inbound> on_attached(const pb::Welcome& welcome) = 0;
  virtual void on_response(pb::SessionResponse& response) = 0;
};

}  // namespace dxs::frontend
