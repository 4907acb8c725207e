// The guest's end of its event channel (docs/simxen.md, "Event channels"): it binds
// evtchn/guest-<domid>.sock, notifies the server by sending {domid, port} to
// evtchn/server.sock, and waits for the server's notifications with a deadline.
// Notifications carry no data and may be dropped, so callers recheck the ring after every
// wait, including one that timed out.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace simguest {

using Clock = std::chrono::steady_clock;

class GuestChannel {
 public:
  // Binds the guest socket (replacing a stale one). Throws std::system_error.
  GuestChannel(const std::string& simxen_dir, uint32_t domid, uint32_t port);
  ~GuestChannel();
  GuestChannel(const GuestChannel&) = delete;
  GuestChannel& operator=(const GuestChannel&) = delete;

  // Never blocks; a server that is not there (yet) or a full queue loses the notification.
  void notify();
  // Waits until a notification arrives or `until` passes (at most `slice` at a time, so the
  // caller rescans the ring periodically); consumes every queued notification.
  // Returns true if one arrived.
  bool wait(Clock::time_point until, std::chrono::milliseconds slice);

 private:
  std::string server_path_;
  std::string own_path_;
  uint32_t domid_;
  uint32_t port_;
  int fd_;
};

// Sends the 8-byte datagram {domid, port} to evtchn/server.sock, dropping it if nobody
// listens. {0xFFFFFFFF, 3} is VIRQ_DOM_EXC.
void send_to_server(const std::string& simxen_dir, uint32_t domid, uint32_t port);

}  // namespace simguest
