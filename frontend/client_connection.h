// ClientConnection: one Xenstore client as the dispatch sees it, whatever carries its
// bytes (a Unix socket now, a shared ring later).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dxs::frontend {

class ClientConnection {
 public:
  virtual ~ClientConnection() = default;

  // Thread-safe. Queues wire bytes for the client. `event_id` (0 for a reply) is reported
  // back through Dispatch::on_event_written once the bytes have left for the client.
  virtual void send(std::string&& bytes, uint64_t event_id) = 0;
  // Thread-safe. The dispatch has room for more of this client's requests again.
  virtual void resume_reading() = 0;
  // Thread-safe. Drops the connection (the store asked, or the client broke the protocol).
  virtual void close(std::string_view reason) = 0;
  // For logs: "socket pid 1234" or "dom7 ring".
  virtual std::string describe() const = 0;
};

}  // namespace dxs::frontend
