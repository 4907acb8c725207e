// ClientConnection: one Xenstore client as the dispatch sees it, whatever carries its
// bytes (a Unix socket, a guest's shared ring).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dxs::frontend {

// What the dispatch sends a client: framed wire bytes, and where a ring takes them.
struct Outgoing {
  std::string bytes;
  // A watch event's id, reported back through Dispatch::on_event_written once the bytes
  // have left for the client; 0 for a reply.
  uint64_t event_id = 0;
  // Ring connections: the response stream offset the store placed these bytes to end
  // at and, for a reply, the request stream offset its request ended at (the request
  // is consumed from the ring once its reply is in it).
  uint32_t rsp_end = 0;
  uint32_t req_end = 0;
  // Ring connections: how many of its bytes are in the ring already, written by the
  // frontend before this one (the transport writes the rest, then does what follows a
  // write: consume the request, report the event written).
  uint32_t in_ring = 0;
  // Socket connections, a reply: the wire size of its request, which the transport
  // consumes from the socket (it only peeked at it) before it writes the reply.
  uint32_t consume = 0;
  bool is_reply = false;
};

class ClientConnection {
 public:
  virtual ~ClientConnection() = default;

  // Queues bytes for the client. Called from the loop's thread.
  virtual void send(Outgoing&& out) = 0;
  // The dispatch has room for more of this client's requests again.
  virtual void resume_reading() = 0;
  // Drops the connection (the store asked, or the client broke the protocol).
  virtual void close(std::string_view reason) = 0;
  // For logs: "socket client 12 (pid 1234, uid 0)" or "dom7 ring".
  virtual std::string describe() const = 0;
};

}  // namespace dxs::frontend
