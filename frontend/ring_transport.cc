#include "frontend/ring_transport.h"

#include <fmt/format.h>

#include <deque>
#include <string>

#include "common/wire.h"
#include "frontend/ring_page.h"

namespace dxs::frontend {

namespace {

constexpr int kLogBurst = 20;
constexpr int kPendingPerWakeUp = 256;  // ports taken per wake-up before others run

}  // namespace

class RingTransport::Ring final : public ClientConnection,
                                  public std::enable_shared_from_this<Ring> {
 public:
  enum class State { kServing, kFailed, kResetting, kClosed };

  Ring(RingTransport& t, uint64_t id, uint32_t domid, void* page, uint32_t port)
      : t_(t), id_(id), domid_(domid), mapping_(page), page_(page), port_(port) {}

  void send(Outgoing&& out) override {
    if (state_ != State::kServing) return;
    t_.queue_response(*this, std::move(out));
  }

  void resume_reading() override {
    dispatch_paused_ = false;
    t_.mark_ready(shared_from_this());
  }

  void close(std::string_view) override {
    if (state_ != State::kClosed) t_.tear_down(*this);
  }

  std::string describe() const override {
    return fmt::format("dom{} ring (connection {})", domid_, id_);
  }

  RingTransport& t_;
  const uint64_t id_;
  const uint32_t domid_;
  void* const mapping_;
  RingPage page_;
  const uint32_t port_;
  State state_ = State::kServing;
  uint32_t features_ = 0;     // advertised, and so honoured
  bool ready_ = false;        // in the transport's ready list
  bool rescan_only_ = false;  // there only because of a rescan (run_pending())
  bool flushing_ = false;     // in the transport's flush list
  bool notify_ = false;       // an index moved since the last notification
  bool dispatch_paused_ = false;
  // Requests: bytes read from the ring and not yet framed (from input_off_ on).
  wire::MessageAssembler assembler_;
  std::string input_;
  size_t input_off_ = 0;
  // Responses waiting for room in the ring, the first one partly written.
  std::deque<Outgoing> out_;
  // Responses that came before one the store placed ahead of them (queue_response()).
  std::vector<Outgoing> held_;
  size_t front_written_ = 0;
  // Where the store's response offsets start in the ring's (the ring's rsp_prod when
  // this connection began).
  uint32_t rsp_base_ = 0;
  // The response stream offset that what is in the ring or in out_ ends at: a response
  // the store places at or before it was sent again (queue_response()).
  uint32_t accepted_end_ = 0;
  bool offsets_disagree_logged_ = false;
};

RingTransport::RingTransport(Poller& poller, Dispatch& dispatch, XenHost& xen, Logger& log,
                             RingTransportOptions options)
    : poller_(poller), dispatch_(dispatch), xen_(xen), log_(log), options_(options) {}

RingTransport::~RingTransport() {
  // The store keeps these connections: a frontend that stops is not a guest that left,
  // and the next frontend serves the rings again.
  std::vector<std::shared_ptr<Ring>> rings;
  for (auto& [domid, ring] : by_domid_) rings.push_back(ring);
  for (auto& ring : rings) release(*ring);
  if (started_) poller_.remove(xen_.event_fd(), *this);
}

Status RingTransport::start() {
  if (Status s = poller_.add(xen_.event_fd(), EPOLLIN, *this); !s) return s;
  started_ = true;
  next_rescan_ = std::chrono::steady_clock::now() + options_.rescan;
  log_.info("serving guests' rings (VIRQ_DOM_EXC on port {})", xen_.dom_exc_port());
  return Status::ok();
}

bool RingTransport::may_log() {
  const auto now = std::chrono::steady_clock::now();
  if (now - log_window_ >= std::chrono::seconds(1)) {
    log_window_ = now;
    logged_in_window_ = 0;
  }
  return logged_in_window_++ < kLogBurst;
}

void RingTransport::open_ring(uint64_t conn, const pb::RingAddress& address, bool reset,
                              uint32_t features, const pb::RingMark* resumed) {
  const uint32_t domid = address.domid();
  if (auto it = by_domid_.find(domid); it != by_domid_.end()) {
    // The store has dropped the connection this replaces.
    tear_down(*it->second);
  }
  Result<void*> page = xen_.map_ring(domid, address.gfn());
  if (!page) {
    log_.warn("cannot serve domain {}: {}", domid, page.status().to_string());
    dispatch_.on_open_failed(conn, "cannot map the ring: " + page.status().to_string());
    return;
  }
  Result<uint32_t> port = xen_.bind(domid, address.remote_port());
  if (!port) {
    xen_.unmap_ring(*page);
    log_.warn("cannot serve domain {}: {}", domid, port.status().to_string());
    dispatch_.on_open_failed(conn, "cannot bind the event channel: " + port.status().to_string());
    return;
  }
  auto ring = std::make_shared<Ring>(*this, conn, domid, *page, *port);
  if (reset) {
    ring->page_.reset();
    ring->notify_ = true;
  } else {
    ring->page_.adopt_indices();
  }
  ring->rsp_base_ = ring->page_.produced();
  if (resumed != nullptr && resumed->rsp_end() != 0) {
    // The store's offsets count from where the stream began; what is in the ring
    // already of what it sends again is not written twice (queue_response()).
    ring->rsp_base_ = resumed->rsp_base();
  }
  ring->accepted_end_ = ring->page_.produced() - ring->rsp_base_;
  ring->features_ = features & (RingPage::kFeatureReconnection | RingPage::kFeatureError);
  ring->page_.advertise(ring->features_);
  by_domid_[domid] = ring;
  by_port_[*port] = ring;
  dispatch_.adopt(conn, ring, ClientIdentity::ring(domid));
  // A ring adopted from the Welcome is one of many at a restart (the Dispatch logs their
  // count); a ring the store opens now (INTRODUCE) is news.
  if (resumed != nullptr) {
    log_.debug("serving {} again", ring->describe());
  } else {
    log_.info("serving {}{}", ring->describe(), reset ? ", reset" : "");
  }
  // The guest may have written requests before its port was bound.
  mark_ready(ring);
  if (ring->notify_) mark_flush(ring);
}

std::optional<pb::DomainStates> RingTransport::domain_states() {
  Result<pb::DomainStates> states = xen_.domain_states();
  if (!states) {
    log_.warn("cannot read domain states: {}", states.status().to_string());
    return std::nullopt;
  }
  release_failed_rings_of_dead(*states);
  return std::move(*states);
}

void RingTransport::release_failed_rings_of_dead(const pb::DomainStates& states) {
  // A broken ring's connection is gone at the store, which will send no CLOSE for it:
  // its mapping goes when its domain does (a dying domain cannot finish while its page
  // is mapped).
  std::unordered_map<uint32_t, pb::DomainState::State> alive;
  for (const pb::DomainState& d : states.domains()) alive[d.domid()] = d.state();
  std::vector<std::shared_ptr<Ring>> dead;
  for (auto& [domid, ring] : by_domid_) {
    if (ring->state_ != Ring::State::kFailed) continue;
    auto it = alive.find(domid);
    if (it == alive.end() || it->second == pb::DomainState::DYING) dead.push_back(ring);
  }
  for (auto& ring : dead) {
    log_.info("{}: its domain is gone; unmapping its broken ring", ring->describe());
    release(*ring);
  }
}

void RingTransport::tear_down(Ring& ring) {
  auto keep = ring.shared_from_this();
  release(ring);
  // Gone from the Dispatch too, if it still holds it (a close the store did not ask).
  dispatch_.on_closed(ring.id_, "ring closed");
}

void RingTransport::release(Ring& ring) {
  auto keep = ring.shared_from_this();
  ring.state_ = Ring::State::kClosed;
  ring.out_.clear();
  xen_.unbind(ring.port_);
  xen_.unmap_ring(ring.mapping_);
  by_port_.erase(ring.port_);
  if (auto it = by_domid_.find(ring.domid_); it != by_domid_.end() && it->second.get() == &ring) {
    by_domid_.erase(it);
  }
}

void RingTransport::mark_ready(const std::shared_ptr<Ring>& ring) {
  if (ring->ready_ || ring->state_ == Ring::State::kClosed) return;
  ring->ready_ = true;
  ready_.push_back(ring);
}

void RingTransport::mark_flush(const std::shared_ptr<Ring>& ring) {
  if (ring->flushing_) return;
  ring->flushing_ = true;
  to_flush_.push_back(ring);
}

void RingTransport::on_fd_ready(uint32_t) {
  for (int i = 0; i < kPendingPerWakeUp; ++i) {
    const uint32_t port = xen_.next_pending();
    if (port == 0) return;
    if (port == xen_.dom_exc_port()) {
      if (std::optional<pb::DomainStates> states = domain_states()) {
        dispatch_.on_domain_states(std::move(*states));
      }
    } else if (auto it = by_port_.find(port); it != by_port_.end()) {
      mark_ready(it->second);
    }
    xen_.unmask(port);
  }
}

int RingTransport::run_pending() {
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_rescan_ && started_) {
    next_rescan_ = now + options_.rescan;
    for (auto& [domid, ring] : by_domid_) {
      if (ring->ready_) continue;
      ring->rescan_only_ = true;
      mark_ready(ring);
    }
  }
  if (ready_.empty()) return 0;
  std::vector<std::shared_ptr<Ring>> round;
  round.swap(ready_);
  int worked = 0;
  for (auto& ring : round) {
    ring->ready_ = false;
    if (!ring->rescan_only_) {
      serve(*ring);
      ++worked;
      continue;
    }
    // A rescan that finds a ring as it was is no work: an idle loop with guests goes
    // back to sleep at once (event_loop.h) rather than stay awake as after a request.
    ring->rescan_only_ = false;
    const uint32_t read = ring->page_.read_cursor(), written = ring->page_.produced();
    const Ring::State state = ring->state_;
    serve(*ring);
    if (ring->page_.read_cursor() != read || ring->page_.produced() != written ||
        ring->state_ != state) {
      ++worked;
    }
  }
  return worked;
}

std::chrono::steady_clock::time_point RingTransport::next_timer() const {
  if (!started_ || by_domid_.empty()) return std::chrono::steady_clock::time_point::max();
  return next_rescan_;
}

void RingTransport::serve(Ring& ring) {
  if (ring.state_ == Ring::State::kClosed) return;
  if ((ring.features_ & RingPage::kFeatureReconnection) != 0 &&
      ring.page_.connection() == RingPage::kReconnect) {
    if (ring.state_ != Ring::State::kResetting) {
      // Everything of this connection is void; the store says when the ring is reset.
      ring.state_ = Ring::State::kResetting;
      ring.out_.clear();
      log_.info("{} asks for a reconnection", ring.describe());
      dispatch_.on_ring_reset(ring.id_, ring.domid_);
    }
    return;
  }
  if (ring.state_ != Ring::State::kServing) return;
  write_responses(ring);
  if (ring.state_ == Ring::State::kServing) read_requests(ring);
  if (ring.notify_) mark_flush(ring.shared_from_this());
}

void RingTransport::read_requests(Ring& ring) {
  auto self = ring.shared_from_this();
  int taken = 0;
  while (taken < options_.quantum && !ring.dispatch_paused_) {
    if (ring.input_off_ == ring.input_.size()) {
      char buf[RingPage::kRingSize];
      RingPage::Fault fault;
      const size_t n = ring.page_.read(buf, sizeof buf, fault);
      if (fault != RingPage::Fault::kNone) {
        fail(ring, RingPage::kErrorRingIndex, "request index out of range");
        return;
      }
      if (n == 0) break;
      ring.input_.assign(buf, n);
      ring.input_off_ = 0;
    }
    const auto* data = reinterpret_cast<const uint8_t*>(ring.input_.data()) + ring.input_off_;
    const size_t fed = ring.assembler_.feed(data, ring.input_.size() - ring.input_off_);
    ring.input_off_ += fed;
    if (ring.assembler_.failed()) {
      fail(ring, RingPage::kErrorProto,
           fmt::format("a {}-byte payload (limit {})", ring.assembler_.bad_length(),
                       wire::kPayloadMax));
      return;
    }
    if (ring.assembler_.has_message()) {
      ++taken;
      // It ends where the ring was read up to, less what of it is not framed yet.
      pb::RingMark mark;
      mark.set_req_end(ring.page_.read_cursor() -
                       static_cast<uint32_t>(ring.input_.size() - ring.input_off_));
      mark.set_consumed(ring.page_.consumed());
      mark.set_rsp_base(ring.rsp_base_);
      if (!dispatch_.on_message(ring.id_, ring.assembler_.take(), &mark)) {
        ring.dispatch_paused_ = true;  // resume_reading() when answered
      }
    }
  }
  if (taken == options_.quantum) mark_ready(self);  // more may wait: next round
  // A message longer than the ring cannot wait in it whole: once the guest has filled
  // the ring, what has been read is consumed so that it can write the rest.
  if (ring.assembler_.partial_bytes() > 0 && ring.input_off_ == ring.input_.size() &&
      ring.page_.request_ring_full()) {
    ring.page_.consume(ring.page_.read_cursor());
    ring.notify_ = true;
    mark_flush(self);
  }
}

// The store numbers each response by the offset it ends at in the connection's response
// stream, and sends some again, out of that order: after it restarted, every event not
// acknowledged (the frontend may hold it still, or have written it without the
// acknowledgement reaching the store); after this frontend adopted a ring, the events
// at once and a recorded reply only once its request is read again. So responses go
// into the ring in the store's order, not the order they come in: one that would leave
// a gap waits for what fills it; what is queued or in the ring is not queued twice; and
// what a killed frontend wrote, wholly or in part, is not written twice.
void RingTransport::queue_response(Ring& ring, Outgoing&& o) {
  if (o.rsp_end != 0) {
    const uint32_t size = static_cast<uint32_t>(o.bytes.size());
    const uint32_t start = o.rsp_end - size;
    if (static_cast<int32_t>(start - ring.accepted_end_) > 0) {
      ring.held_.push_back(std::move(o));
      return;
    }
    if (static_cast<int32_t>(o.rsp_end - ring.accepted_end_) <= 0) {
      const uint32_t in_ring = ring.page_.produced() - ring.rsp_base_;
      // Only queued: the first copy does everything. In the ring: what follows the write
      // is left to do, in its turn.
      if (static_cast<int32_t>(o.rsp_end - in_ring) > 0) return;
      o.in_ring = size;
    } else {
      if (static_cast<int32_t>(start - ring.accepted_end_) < 0)
        o.in_ring = ring.accepted_end_ - start;
      ring.accepted_end_ = o.rsp_end;
    }
  }
  ring.out_.push_back(std::move(o));
  mark_flush(ring.shared_from_this());
  // The one that waited for this one follows it now, and in turn what waited for that.
  for (size_t i = 0; i < ring.held_.size(); ++i) {
    Outgoing& h = ring.held_[i];
    const uint32_t start = h.rsp_end - static_cast<uint32_t>(h.bytes.size());
    if (static_cast<int32_t>(start - ring.accepted_end_) > 0) continue;
    Outgoing next = std::move(h);
    ring.held_.erase(ring.held_.begin() + static_cast<std::ptrdiff_t>(i));
    queue_response(ring, std::move(next));
    return;
  }
}

void RingTransport::write_responses(Ring& ring) {
  uint64_t written_event = 0;
  while (!ring.out_.empty()) {
    Outgoing& o = ring.out_.front();
    if (ring.front_written_ < o.in_ring) {
      ring.front_written_ = o.in_ring;
      ring.notify_ = true;
    }
    RingPage::Fault fault;
    const size_t n = ring.page_.write(o.bytes.data() + ring.front_written_,
                                      o.bytes.size() - ring.front_written_, fault);
    if (fault != RingPage::Fault::kNone) {
      fail(ring, RingPage::kErrorRingIndex, "response index out of range");
      return;
    }
    if (n > 0) ring.notify_ = true;
    ring.front_written_ += n;
    if (ring.front_written_ < o.bytes.size()) break;  // the guest has to read first
    const uint32_t at = ring.page_.produced() - ring.rsp_base_;
    if (o.rsp_end != 0 && o.in_ring < o.bytes.size() && at != o.rsp_end &&
        !ring.offsets_disagree_logged_) {
      ring.offsets_disagree_logged_ = true;
      log_.error("{}: the store placed a response to end at {}, the ring has it at {}",
                 ring.describe(), o.rsp_end, at);
    }
    if (o.event_id != 0) written_event = o.event_id;
    // The request is done with once its reply is in the ring.
    if (o.is_reply) ring.page_.consume(o.req_end);
    ring.out_.pop_front();
    ring.front_written_ = 0;
  }
  if (written_event != 0) dispatch_.on_event_written(ring.id_, written_event);
}

void RingTransport::fail(Ring& ring, uint32_t error, std::string_view reason) {
  // Without the ERROR feature the guest does not look at the field: it is only stopped.
  if ((ring.features_ & RingPage::kFeatureError) != 0) ring.page_.set_error(error);
  ring.state_ = Ring::State::kFailed;
  ring.out_.clear();
  ring.notify_ = true;
  mark_flush(ring.shared_from_this());
  if (may_log()) log_.warn("{}: {}; serving it no more until it resets", ring.describe(), reason);
  dispatch_.on_closed(ring.id_, std::string(reason));
}

void RingTransport::flush_pending() {
  if (to_flush_.empty()) return;
  std::vector<std::shared_ptr<Ring>> batch;
  batch.swap(to_flush_);
  for (auto& ring : batch) {
    ring->flushing_ = false;
    if (ring->state_ == Ring::State::kClosed) continue;
    if (ring->state_ == Ring::State::kServing) {
      const bool was_full = ring->page_.request_ring_full();
      write_responses(*ring);
      // Consuming made room in a full ring: the guest may have more to send.
      if (was_full && !ring->page_.request_ring_full()) mark_ready(ring);
    }
    if (ring->notify_) {
      ring->notify_ = false;
      xen_.notify(ring->port_);
    }
  }
}

}  // namespace dxs::frontend
