// RingTransport: guests' Xenstore rings (ring_page.h) and their event channels, through
// XenHost (xen_host.h).
//
// The store opens every ring (RingHost::open_ring, from its OPEN_RING command): the
// transport maps the page, binds the guest's event channel, advertises RECONNECTION and
// ERROR and serves the ring as a Dispatch connection with the store's id. A notification
// marks a ring ready, as does a rescan every `rescan` (notifications can be lost);
// run_pending() serves the ready rings round-robin, at most `quantum` requests of each
// per round, so a busy guest gets its share and no more.
//
// A request stays in the ring (req_cons is not moved past it) until its reply is in the
// ring: with the Dispatch's in-flight limit that bounds what a guest can have queued,
// and it is what lets a restarted frontend find the request again. (A request longer
// than the ring cannot wait there whole: once it fills the ring it is consumed as read.)
// Replies and watch events go into the ring in the order the store placed them, as far
// as the guest has read; the rest waits for its next notification. The store's offsets
// are checked against the ring's.
//
// A guest that breaks the protocol (an index out of range, a payload over 4096 bytes)
// gets the ring's error field set and is served no more; the store is told the
// connection closed. A guest that sets the connection field to RECONNECT (after an
// error or not) is reset: the store drops the connection's state and opens the ring
// again with reset. VIRQ_DOM_EXC sends the store every domain's state; the store decides.
//
// Single-threaded: every call comes from the event loop's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "frontend/dispatch.h"
#include "frontend/poller.h"
#include "frontend/transport.h"
#include "frontend/xen_host.h"

namespace dxs::frontend {

struct RingTransportOptions {
  // Requests taken from one ring before the others get their turn.
  int quantum = 8;
  // Every ring is looked at this often even if its guest did not notify.
  std::chrono::milliseconds rescan{1000};
};

// REQUIRES: the Poller, the Dispatch and the XenHost outlive the transport.
class RingTransport final : public Transport, public RingHost, private FdHandler {
 public:
  RingTransport(Poller& poller, Dispatch& dispatch, XenHost& xen, Logger& log,
                RingTransportOptions options);
  ~RingTransport() override;

  // Registers the event-channel fd with the Poller.
  Status start();

  // Transport: serves the ready rings, round-robin.
  int run_pending() override;
  // Transport: the next rescan, while there are rings to rescan.
  std::chrono::steady_clock::time_point next_timer() const override;
  // Transport: writes what was queued for guests, then notifies those whose ring moved.
  void flush_pending() override;

  // RingHost.
  void open_ring(uint64_t conn, const pb::RingAddress& ring, bool reset, uint32_t features,
                 const pb::RingMark* resumed) override;
  std::optional<pb::DomainStates> domain_states() override;

  size_t ring_count() const { return by_domid_.size(); }

 private:
  class Ring;
  friend class Ring;
  void on_fd_ready(uint32_t events) override;  // the event channel
  void serve(Ring& ring);
  void read_requests(Ring& ring);
  void queue_response(Ring& ring, Outgoing&& o);
  void write_responses(Ring& ring);
  void fail(Ring& ring, uint32_t error, std::string_view reason);
  // Unbinds and unmaps the ring, and drops it from the Dispatch.
  void tear_down(Ring& ring);
  // Unbinds and unmaps the ring, nothing more.
  void release(Ring& ring);
  void mark_ready(const std::shared_ptr<Ring>& ring);
  void mark_flush(const std::shared_ptr<Ring>& ring);
  bool may_log();
  void release_failed_rings_of_dead(const pb::DomainStates& states);

  Poller& poller_;
  Dispatch& dispatch_;
  XenHost& xen_;
  Logger& log_;
  RingTransportOptions options_;
  bool started_ = false;
  std::unordered_map<uint32_t, std::shared_ptr<Ring>> by_domid_;
  std::unordered_map<uint32_t, std::shared_ptr<Ring>> by_port_;
  std::vector<std::shared_ptr<Ring>> ready_;
  std::vector<std::shared_ptr<Ring>> to_flush_;
  std::chrono::steady_clock::time_point next_rescan_;
  // Warnings about guests: at most kLogBurst a second, so a hostile guest cannot flood
  // the log.
  std::chrono::steady_clock::time_point log_window_;
  int logged_in_window_ = 0;
};

}  // namespace dxs::frontend
