#include "store/delivery.h"

#include <algorithm>

#include "proto/records.pb.h"

namespace dxs::store {

void Delivery::event(Connection& c, pb::Outbound&& event) {
  const uint64_t id = event.event().event_id();
  if (c.held.empty() && c.sent_event_id + 1 == id &&
      c.sent_event_id - c.record.acked_event_id() < kEventWindow) {
    c.sent_event_id = id;
    out_->push_back(std::move(event));
  }
  // Otherwise pump() reads it back from the event log in its turn.
}

void Delivery::follow(Connection& c, pb::Outbound&& item, uint64_t after) {
  if (c.held.empty() && c.sent_event_id >= after) {
    out_->push_back(std::move(item));
  } else {
    c.held.emplace_back(after, std::move(item));
  }
}

void Delivery::pump(Connection& c) {
  const uint64_t conn = c.record.id();
  c.sent_event_id = std::max(c.sent_event_id, c.record.acked_event_id());
  for (;;) {
    while (!c.held.empty() && c.held.front().first <= c.sent_event_id) {
      out_->push_back(std::move(c.held.front().second));
      c.held.pop_front();
    }
    if (c.sent_event_id >= c.record.next_event_id() ||
        c.sent_event_id - c.record.acked_event_id() >= kEventWindow) {
      break;
    }
    // The next event after those sent; ids without one (a request that failed after
    // taking an id) are passed one by one, so that what they hold back goes first.
    auto next = std::find_if(c.unacked.begin(), c.unacked.end(),
                             [&](const EventRef& ref) { return ref.id > c.sent_event_id; });
    const uint64_t id = c.sent_event_id + 1;
    if (next == c.unacked.end() || next->id != id) {
      c.sent_event_id = id;
      continue;
    }
    pb::EventRecord record;
    log_.read(conn, *next, &record);
    pb::Outbound o;
    pb::WatchEvent* e = o.mutable_event();
    e->set_conn(conn);
    e->set_event_id(id);
    e->set_path(record.path());
    e->set_token(record.token());
    e->set_rsp_end(record.rsp_end());
    out_->push_back(std::move(o));
    c.sent_event_id = id;
  }
}

void Delivery::restart(Connection& c) {
  c.sent_event_id = c.record.acked_event_id();
  c.held.clear();
  pump(c);
}

}  // namespace dxs::store
