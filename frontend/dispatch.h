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
//
// Guests' ring connections are the store's: it allocates their ids and tells the
// frontend, with OPEN_RING, which ring to serve; the Dispatch hands that to its RingHost
// (the ring transport), which adopt()s the connection. Connections a restarted frontend
// finds in the store's Welcome are adopted the same way: rings by the RingHost, sockets
// by the SocketHost if it got the client's socket back (systemd's fd store). Only those
// whose client is gone are closed. An adopted connection goes on from the store's
// markers: its sequence numbers (a socket's from where resume_at() finds the requests
// unconsumed in its socket begin), its acknowledged events.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/wire.h"
#include "frontend/client_connection.h"
#include "frontend/client_identity.h"
#include "frontend/session_link.h"

namespace dxs::frontend {

// What serves guests' rings (the ring transport), as the Dispatch sees it.
class RingHost {
 public:
  virtual ~RingHost() = default;
  // Serve the guest's ring at `ring` as connection `conn`, in place of whatever this
  // host serves for that domain. `reset`: zero the ring's indices first. `features`:
  // the server_features bits to advertise and honour. `resumed`: a ring served before
  // this frontend, the store's markers of it (KnownConnection.ring_end); nullptr for a
  // ring the store opens now.
  virtual void open_ring(uint64_t conn, const pb::RingAddress& ring, bool reset, uint32_t features,
                         const pb::RingMark* resumed) = 0;
  // What the hypervisor says of every domain now; nullopt if it cannot say.
  virtual std::optional<pb::DomainStates> domain_states() = 0;
};

// What holds dom0's client sockets (the socket transport), as the Dispatch sees it.
class SocketHost {
 public:
  virtual ~SocketHost() = default;
  // Serve again connection `conn`, from before this frontend, if this host got its
  // socket back; it adopt()s it. False: the client is gone.
  virtual bool resume_socket(uint64_t conn) = 0;
  // The store has listed every connection it knows. A socket got back for another is
  // one the store closed if its id is at most `last_opened` (Welcome.last_socket_conn),
  // and is closed; one of a higher id the store never opened: the host adopt()s it and
  // returns its id, and the Dispatch opens it at the store.
  virtual std::vector<uint64_t> release_unclaimed(uint64_t last_opened) = 0;
};

struct DispatchOptions {
  // Requests of one connection in flight before the transport stops reading it.
  uint32_t max_in_flight = 64;
};

class Dispatch final : public SessionHandler {
 public:
  Dispatch(SessionLink& session, Logger& log, DispatchOptions options)
      : session_(session), log_(log), options_(options) {}

  // REQUIRES: before the session attaches. Without one, ring commands are refused.
  void set_ring_host(RingHost* host) { ring_host_ = host; }
  // REQUIRES: before the session attaches. Without one, the Welcome's sockets are closed.
  void set_socket_host(SocketHost* host) { socket_host_ = host; }

  // Transport side. A new connection gets an id first, under which the transport keeps
  // it (the fd store), then is opened at the store.
  uint64_t new_connection_id();
  void open(uint64_t id, std::shared_ptr<ClientConnection> conn, const ClientIdentity& who);
  // A connection whose id the store gave (a guest's ring, from RingHost::open_ring) or
  // that the Welcome listed (from RingHost::open_ring, SocketHost::resume_socket).
  void adopt(uint64_t id, std::shared_ptr<ClientConnection> conn, const ClientIdentity& who);
  // A socket adopted from the Welcome: `head` are the digests (request_identity.h) of
  // the whole requests that were unconsumed in its socket, in order, of which the first
  // `answered` have since been consumed, their replies found in the client's outbox
  // (answered_at_head()). Numbers the rest on from the store's markers, so that those it
  // has recorded are answered from their records.
  // REQUIRES: before on_message() of any of them.
  void resume_at(uint64_t conn, std::span<const uint64_t> head, size_t answered);
  // A whole message from the client; for a ring, `ring` is where it ended in the
  // request stream, how far the ring is consumed and where its response stream began
  // (RingMark). Returns false when the connection has reached its in-flight limit: the
  // transport stops reading it until ClientConnection::resume_reading().
  bool on_message(uint64_t conn, wire::Message&& msg, const pb::RingMark* ring = nullptr);
  void on_closed(uint64_t conn, std::string_view reason);
  // The store's OPEN_RING could not be carried out (the ring cannot be mapped, the port
  // cannot be bound): the store drops the connection.
  void on_open_failed(uint64_t conn, std::string_view reason);
  // Every watch event up to event_id has left for the client.
  void on_event_written(uint64_t conn, uint64_t event_id);
  // The guest asked to reset its ring (or to reconnect after an error); the store
  // answers with OPEN_RING reset.
  void on_ring_reset(uint64_t conn, uint32_t domid);
  // The hypervisor reported a change of domain states (VIRQ_DOM_EXC).
  void on_domain_states(pb::DomainStates&& states);

  // Session side.
  std::vector<pb::Inbound> on_attached(const pb::Welcome& welcome) override;
  void on_response(pb::SessionResponse& response) override;

  size_t connection_count();

 private:
  struct Unanswered {
    pb::Request request;
    uint32_t wire_size = 0;  // header and payload, as read
  };
  struct Entry {
    std::shared_ptr<ClientConnection> conn;
    ClientIdentity who;
    uint64_t next_seq = 1;
    uint64_t replied_seq = 0;
    uint64_t acked_event = 0;
    std::deque<Unanswered> unanswered;
    bool reading_paused = false;
    // An adopted socket, until resume_at(): the store's markers.
    std::optional<pb::KnownConnection> resume;
    // An adopted ring: the recorded requests still in it (their req_end, seq), oldest
    // first. Read again, each gets its sequence number back and so its recorded reply.
    std::deque<std::pair<uint32_t, uint64_t>> ring_recorded;
  };
  pb::Inbound open_item(uint64_t id, const Entry& e) const;
  void run_command(const pb::ConnectionCommand& command);

  SessionLink& session_;
  Logger& log_;
  DispatchOptions options_;
  RingHost* ring_host_ = nullptr;
  SocketHost* socket_host_ = nullptr;
  std::mutex mu_;
  std::map<uint64_t, Entry> conns_;
  // Connections the store listed in its Welcome, until a host adopts them.
  std::map<uint64_t, pb::KnownConnection> adoptable_;
  uint64_t conn_id_base_ = 0;
  uint64_t next_conn_ = 1;
};

}  // namespace dxs::frontend
