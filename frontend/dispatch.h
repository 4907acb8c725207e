// Dispatch: the one place where client transports meet the store session.
//
// It numbers each connection's requests, turns wire messages into Session requests with
// the codec, batches them towards the store, and routes what the store answers back to
// the right connection, framed. It knows nothing of Xenstore semantics: every reply,
// error included, comes from the store.
//
// It also owns what a store restart needs: the requests each connection has sent but
// not had answered, re-sent (with the same sequence numbers) when the session attaches
// again, and the per-connection limit on requests in flight, beyond which the
// transport stops reading that client (cxenstored's outstanding-request quota, as
// back-pressure).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/log.h"
#include "common/wire.h"
#include "frontend/client_connection.h"
#include "frontend/client_identity.h"
#include "frontend/session_link.h"

namespace dxs::frontend {

struct DispatchOptions {
  // Requests of one connection in flight before the transport stops reading it.
  uint32_t max_in_flight = 64;
};

class Dispatch final : public SessionHandler {
 public:
  Dispatch(SessionLink& session, Logger& log, DispatchOptions options)
      : session_(session), log_(log), options_(options) {}

  // Transport side. open() returns the new connection's id.
  uint64_t open(std::shared_ptr<ClientConnection> conn, const ClientIdentity& who);
  // A whole message from the client. Returns false when the connection has reached its
  // in-flight limit: stop reading until resume_reading().
  bool on_message(uint64_t conn, wire::Message&& msg);
  void on_closed(uint64_t conn, std::string_view reason);
  // Every watch event up to event_id has left for the client.
  void on_event_written(uint64_t conn, uint64_t event_id);

  // Session side.
  std::vector<pb::Inbound> on_attached(const pb::Welcome& welcome) override;
  void on_response(pb::SessionResponse& response) override;

  size_t connection_count();

 private:
  struct Entry {
    std::shared_ptr<ClientConnection> conn;
    ClientIdentity who;
    uint64_t next_seq = 1;
    uint64_t replied_seq = 0;
    uint64_t acked_event = 0;
    std::deque<pb::Request> unanswered;
    bool reading_paused = false;
  };
  pb::Inbound open_item(uint64_t id, const Entry& e) const;

  SessionLink& session_;
  Logger& log_;
  DispatchOptions options_;
  std::mutex mu_;
  std::map<uint64_t, Entry> conns_;
  uint64_t conn_id_base_ = 0;
  uint64_t next_conn_ = 1;
};

}  // namespace dxs::frontend
