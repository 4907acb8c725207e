// store/delivery: a connection sees its events in id order and each reply after the
// events that arose before it, with at most kEventWindow events unacknowledged.
#include "store/delivery.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proto/records.pb.h"
#include "store/event_log.h"
#include "temp_db.h"

using dxs::store::Connection;
using dxs::store::Delivery;
using dxs::store::kEventWindow;
namespace pb = dxs::pb;
namespace store = dxs::store;

namespace {

struct Fixture {
  dxs::testing::TempDb tmp;
  store::WriteSet ws{tmp.db()};
  store::EventLog log{ws};
  Delivery delivery{log};
  Connection c;
  std::vector<pb::Outbound> out;

  Fixture() {
    c.record.set_id(42);
    delivery.begin(&out);
  }

  // Queues the connection's next event, logged, as watch_events does.
  void queue_event() {
    const uint64_t id = c.record.next_event_id() + 1;
    c.record.set_next_event_id(id);
    pb::Outbound o;
    o.mutable_event()->set_conn(42);
    o.mutable_event()->set_event_id(id);
    o.mutable_event()->set_path("/p" + std::to_string(id));
    o.mutable_event()->set_token("t");
    log.append(c, o.event());
    delivery.event(c, std::move(o));
  }
  void reply(uint32_t req_id) {
    pb::Outbound o;
    o.mutable_reply()->set_conn(42);
    o.mutable_reply()->set_req_id(req_id);
    delivery.follow(c, std::move(o), c.record.next_event_id());
  }
  void ack(uint64_t upto) {
    log.acknowledge(ws, c, upto);
    delivery.pump(c);
  }
  // What went out since the last call: "e<id>" and "r<req_id>".
  std::vector<std::string> sent() {
    std::vector<std::string> s;
    for (const auto& o : out) {
      s.push_back(o.has_event() ? "e" + std::to_string(o.event().event_id())
                                : "r" + std::to_string(o.reply().req_id()));
    }
    out.clear();
    return s;
  }
};

}  // namespace

TEST_CASE("events and replies go out at once, in the order they arose, within the window") {
  Fixture f;
  f.reply(1);
  f.queue_event();
  f.queue_event();
  f.reply(2);
  CHECK(f.sent() == std::vector<std::string>{"r1", "e1", "e2", "r2"});
}

TEST_CASE("beyond the window events wait in the log and a later reply waits behind them") {
  Fixture f;
  for (uint64_t i = 0; i < kEventWindow + 6; ++i) f.queue_event();
  f.reply(9);
  std::vector<std::string> first = f.sent();
  CHECK(first.size() == kEventWindow);
  CHECK(first.back() == "e" + std::to_string(kEventWindow));
  // Acknowledging makes room: the rest of the events come from the log, then the reply.
  f.ack(kEventWindow);
  std::vector<std::string> expected;
  for (uint64_t id = kEventWindow + 1; id <= kEventWindow + 6; ++id) {
    expected.push_back("e" + std::to_string(id));
  }
  expected.push_back("r9");
  CHECK(f.sent() == expected);
  // A reply to a connection with nothing waiting is not held.
  f.reply(10);
  CHECK(f.sent() == std::vector<std::string>{"r10"});
}

TEST_CASE("a frontend that attaches again gets every unacknowledged event, nothing held") {
  Fixture f;
  for (uint64_t i = 0; i < kEventWindow + 6; ++i) f.queue_event();
  f.reply(5);
  f.sent();
  REQUIRE_FALSE(f.c.held.empty());
  f.c.record.set_acked_event_id(3);
  f.delivery.restart(f.c);
  std::vector<std::string> again = f.sent();
  REQUIRE(again.size() == kEventWindow);
  CHECK(again.front() == "e4");
  CHECK(f.c.held.empty());  // the new frontend re-sends the request; its reply is recorded
}
