// Requests a frontend sends again after the store restarted (ARCHITECTURE.md section 4):
// a change is applied once and answered as the first time; a read, which is not
// recorded, is answered as it would have been when first sent.
#include <doctest/doctest.h>

#include <algorithm>

#include "engine_fixture.h"
#include "store/delivery.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;

TEST_CASE("a write sent again after a restart is answered from its record, not applied again") {
  EngineFixture f;
  f.set_report_delivered(false);
  uint64_t c = f.open_socket();
  uint64_t other = f.open_socket();
  f.write(c, "/r/k", "first");
  const uint64_t seq = f.last_seq(c);
  f.write(other, "/r/k", "second");
  f.restart();
  auto again = f.resend(c, seq, MsgType::kWrite, write_payload("/r/k", "first"));
  REQUIRE(again.has_value());
  CHECK(again->ok());
  CHECK(f.read(c, "/r/k") == "second");
}

TEST_CASE("a read sent again is answered as of before the connection's next change") {
  EngineFixture f;
  f.set_report_delivered(false);
  uint64_t c = f.open_socket();
  f.write(c, "/r/k", "before");
  f.write(c, "/r/d/one", "");
  CHECK(f.read(c, "/r/k") == "before");
  const uint64_t read_seq = f.last_seq(c);
  CHECK(f.directory(c, "/r/d") == std::vector<std::string>{"one"});
  const uint64_t dir_seq = f.last_seq(c);
  f.write(c, "/r/k", "after");
  f.write(c, "/r/d/two", "");
  f.ok(c, MsgType::kSetPerms, args({"/r/k", "r0"}));
  f.restart();

  auto read = f.resend(c, read_seq, MsgType::kRead, args({"/r/k"}));
  REQUIRE(read.has_value());
  CHECK(read->payload == "before");
  auto dir = f.resend(c, dir_seq, MsgType::kDirectory, args({"/r/d"}));
  REQUIRE(dir.has_value());
  CHECK(dir->payload == args({"one"}));
  auto perms = f.resend(c, dir_seq, MsgType::kGetPerms, args({"/r/k"}));
  REQUIRE(perms.has_value());
  CHECK(perms->payload == args({"n0"}));
  // The live tree is as it was.
  CHECK(f.read(c, "/r/k") == "after");
  CHECK(f.directory(c, "/r/d") == std::vector<std::string>{"one", "two"});
}

TEST_CASE("a read sent again with no later change of its connection sees the tree now") {
  EngineFixture f;
  f.set_report_delivered(false);
  uint64_t c = f.open_socket();
  uint64_t other = f.open_socket();
  f.write(c, "/r/k", "mine");
  CHECK(f.read(c, "/r/k") == "mine");
  const uint64_t seq = f.last_seq(c);
  f.write(other, "/r/k", "theirs");
  f.restart();
  // The client never saw the first answer: the current value is as good an answer.
  auto again = f.resend(c, seq, MsgType::kRead, args({"/r/k"}));
  REQUIRE(again.has_value());
  CHECK(again->payload == "theirs");
}

TEST_CASE("a read of a node absent at the time is answered ENOENT again") {
  EngineFixture f;
  f.set_report_delivered(false);
  uint64_t c = f.open_socket();
  f.write(c, "/r/x", "");
  CHECK(f.err(c, MsgType::kRead, args({"/r/k"})) == "ENOENT");
  const uint64_t seq = f.last_seq(c);
  f.write(c, "/r/k", "now");
  f.restart();
  auto again = f.resend(c, seq, MsgType::kRead, args({"/r/k"}));
  REQUIRE(again.has_value());
  CHECK(again->error() == "ENOENT");
}

TEST_CASE("reads of a socket connection write nothing; a guest's are recorded") {
  EngineFixture f;
  f.set_report_delivered(false);
  uint64_t c = f.open_socket();
  f.write(c, "/r/k", "v");
  const auto before = f.db().raw()->GetLatestSequenceNumber();
  CHECK(f.read(c, "/r/k") == "v");
  CHECK(f.directory(c, "/r") == std::vector<std::string>{"k"});
  CHECK(f.ok(c, MsgType::kGetPerms, args({"/r/k"})) == args({"n0"}));
  CHECK(f.db().raw()->GetLatestSequenceNumber() == before);

  // A ring's record also tells a restarted frontend how far its ring was read.
  f.introduce(5);
  f.write(c, "/local/domain/5/k", "v");
  f.set_perms(c, "/local/domain/5/k", {"n5"});
  uint64_t guest = f.open_domain(5);
  const auto guest_before = f.db().raw()->GetLatestSequenceNumber();
  CHECK(f.read(guest, "/local/domain/5/k") == "v");
  CHECK(f.db().raw()->GetLatestSequenceNumber() > guest_before);
}

// A frontend that restarts gets the events not yet acknowledged after the Welcome, at
// most the event window at a time; a recorded reply it has answered again must still
// come after the events that preceded it the first time (ARCHITECTURE.md section 4).
TEST_CASE("a recorded reply sent again after a frontend restart follows the events before it") {
  EngineFixture f;
  f.set_report_delivered(false);
  const uint64_t c = f.open_socket();
  const uint64_t other = f.open_socket();
  f.set_auto_ack(c, false);
  f.ok(c, MsgType::kWatch, args({"/w", "tok"}));  // event 1, its first
  const uint64_t events = dxs::store::kEventWindow + 6;
  for (uint64_t i = 0; i < events; ++i) f.write(other, "/w/k", std::to_string(i));
  // The reply waits behind every event so far (the window is full): no answer yet.
  CHECK_FALSE(
      f.resend(c, f.last_seq(c) + 1, MsgType::kWrite, write_payload("/y", "v")).has_value());
  const uint64_t write_seq = f.last_seq(c) + 1;
  f.take_sent(c);

  // A new frontend attaches: events 1..window go again, then the write is re-sent.
  std::vector<dxs::pb::Outbound> out;
  const dxs::pb::Welcome welcome = f.engine().hello(dxs::pb::Hello{}, out).value();
  uint64_t resent_events = 0;
  for (const auto& o : out) {
    CHECK_FALSE(o.has_reply());
    if (o.has_event() && o.event().conn() == c) ++resent_events;
  }
  CHECK(resent_events == dxs::store::kEventWindow);
  const auto known = std::find_if(welcome.connections().begin(), welcome.connections().end(),
                                  [&](const auto& k) { return k.conn() == c; });
  REQUIRE(known != welcome.connections().end());
  CHECK(known->applied_seq() == write_seq);
  REQUIRE(known->recorded_size() >= 1);
  CHECK(known->recorded(known->recorded_size() - 1).seq() == write_seq);

  CHECK_FALSE(f.resend(c, write_seq, MsgType::kWrite, write_payload("/y", "v")).has_value());
  // The client reads on: the rest of the events, then the reply.
  dxs::pb::Inbound ack;
  ack.mutable_event_ack()->set_conn(c);
  ack.mutable_event_ack()->set_event_id(dxs::store::kEventWindow);
  f.inbound(ack);
  const std::vector<dxs::pb::Outbound> sent = f.take_sent(c);
  REQUIRE(sent.size() == events + 1 - dxs::store::kEventWindow + 1);
  for (size_t i = 0; i + 1 < sent.size(); ++i) {
    REQUIRE(sent[i].has_event());
    CHECK(sent[i].event().event_id() == dxs::store::kEventWindow + 1 + i);
  }
  REQUIRE(sent.back().has_reply());
  CHECK(sent.back().reply().seq() == write_seq);
  CHECK(f.read(other, "/y") == "v");
}

TEST_CASE("frontend generations: a new frontend supersedes the last, which cannot attach again") {
  EngineFixture f;
  auto attach = [&](uint64_t generation) {
    dxs::pb::Hello hello;
    hello.set_generation(generation);
    std::vector<dxs::pb::Outbound> out;
    return f.engine().hello(hello, out);
  };
  auto first = attach(0);
  REQUIRE(first.is_ok());
  const uint64_t a = first->generation();
  CHECK(a >= 1);
  // The same frontend attaching again (its stream broke) keeps its generation...
  auto again = attach(a);
  REQUIRE(again.is_ok());
  CHECK(again->generation() == a);
  // ...and so does it across a restart of the store: the generation is durable.
  f.restart();
  auto after_restart = attach(a);
  REQUIRE(after_restart.is_ok());
  CHECK(after_restart->generation() == a);

  // A new frontend process is the next generation; the one before is refused from then
  // on, and being refused hands out no connection ids.
  auto second = attach(0);
  REQUIRE(second.is_ok());
  const uint64_t b = second->generation();
  CHECK(b == a + 1);
  auto stale = attach(a);
  CHECK(stale.err() == ESTALE);
  f.restart();
  CHECK(attach(a).err() == ESTALE);
  auto b_again = attach(b);
  REQUIRE(b_again.is_ok());
  CHECK(b_again->conn_id_base() > second->conn_id_base());
  // A generation the store never gave (its state was replaced) is refused as well.
  CHECK(attach(b + 5).err() == ESTALE);
}

TEST_CASE("the Welcome names the highest socket the store opened, across a restart") {
  EngineFixture f;
  auto welcome = [&] {
    std::vector<dxs::pb::Outbound> out;
    return f.engine().hello(dxs::pb::Hello{}, out).value();
  };
  const uint64_t first = f.open_socket();
  const uint64_t second = f.open_socket();
  REQUIRE(second > first);
  CHECK(welcome().last_socket_conn() == second);
  // Closed, it stays the highest opened: a socket of its id that comes back is closed.
  f.close(second);
  f.restart();
  CHECK(welcome().last_socket_conn() == second);
}
