// A simulated guest (docs/simxen.md, "Simulated guest"): it creates its domain on the
// simulated machine (dom/<domid>, a zero ring/<domid>, its guest socket) and then speaks the
// Xenstore protocol over the ring as Linux's xenbus driver does:
//  - its own request ids; replies matched by id, watch events queued apart from replies;
//  - messages written and read in pieces, across the ring's wrap and across notifications;
//  - a notification after every index update, and, while waiting, a recheck of the indices
//    and a repeated notification after every 50 ms without one, because simxen may drop
//    notifications where Xen would coalesce them;
//  - reconnection (connection = 1, notify, wait for the server's 0) when the server
//    advertises XENSTORE_SERVER_FEATURE_RECONNECTION, then its watches registered again.
// Every wait has a deadline (Options::timeout); a missed one throws GuestError("ETIMEDOUT").
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "channel.h"
#include "ring.h"
#include "wire.h"

namespace simguest {

inline constexpr uint32_t kFeatureReconnection = 1;

// A failure of the transport rather than an error reply; name() is an errno name:
// ETIMEDOUT (no reply in time), EPROTO (the server's stream is corrupt), EIO (the ring's
// indices are invalid), ENOTCONN (no domain created yet), ENOTSUP (no reconnection).
class GuestError : public std::runtime_error {
 public:
  explicit GuestError(const std::string& name) : std::runtime_error(name) {}
  std::string name() const { return what(); }
};

struct WatchEvent {
  std::string path;
  std::string token;
};

// The domain's state as the simulated machine records it.
enum class DomainFile { kRunning, kShutdown, kGone };

class Guest {
 public:
  struct Options {
    std::string simxen_dir;
    uint32_t domid = 1;
    uint32_t port = 1;  // the guest's unbound port, given to the server in INTRODUCE
    std::chrono::milliseconds timeout{10000};
  };

  explicit Guest(Options o);

  // Writes dom/<domid> (running), a zero-filled ring/<domid>, binds the guest socket and maps
  // the ring. Calling it again starts from a fresh zero page.
  void create();
  bool created() const { return ring_ != nullptr; }

  // One request and its reply (which may be an ERROR reply). Throws GuestError.
  Message request(uint32_t type, const std::string& payload, uint32_t tx_id = 0);
  // WATCH/UNWATCH that also keep the list re-registered after a reconnection.
  Message watch(const std::string& path, const std::string& token);
  Message unwatch(const std::string& path, const std::string& token);

  // The next watch event, or nullopt after `timeout`.
  std::optional<WatchEvent> next_event(std::chrono::milliseconds timeout);

  // Reconnects the ring; throws GuestError("ENOTSUP") if the server does not advertise it.
  void reconnect();

  // Writes bytes into req[] as they are (for hostile tests), notifying after the index
  // update; returns how many fitted.
  size_t put_bytes(const std::string& bytes);
  void notify();

  // Changes dom/<domid> and raises VIRQ_DOM_EXC, as the hypervisor would.
  void set_domain_file(DomainFile state);

  RingPage& ring();
  const Options& options() const { return opts_; }

 private:
  // Moves bytes between the buffers and the ring; queues complete messages.
  void pump();
  // Pumps and waits on the channel until done() or the deadline; false on timeout.
  bool wait_until(const std::function<bool()>& done, Clock::time_point until);
  Clock::time_point deadline() const { return Clock::now() + opts_.timeout; }

  Options opts_;
  std::unique_ptr<GuestChannel> channel_;
  std::unique_ptr<RingPage> ring_;
  uint32_t next_req_id_ = 1;
  std::string out_;  // request bytes not yet in the ring
  std::string in_;   // reply bytes not yet a whole message
  bool bad_stream_ = false;
  bool bad_indices_ = false;
  std::map<uint32_t, Message> replies_;
  std::deque<WatchEvent> events_;
  std::set<std::pair<std::string, std::string>> watches_;
};

}  // namespace simguest
