// frontend/dispatch: sequence numbers, in-flight limits, replay on re-attach, routing and
// framing of what the store answers, event acknowledgements. Driven through a recording
// SessionLink and recording connections: no store, no sockets.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "common/log.h"
#include "common/wire.h"
#include "frontend/dispatch.h"
#include "frontend_fakes.h"

using dxs::CapturingLogger;
using dxs::frontend::ClientIdentity;
using dxs::frontend::Dispatch;
using dxs::frontend::DispatchOptions;
using dxs::testing::event_for;
using dxs::testing::RecordingConnection;
using dxs::testing::RecordingLink;
using dxs::testing::reply_to;
namespace pb = dxs::pb;
namespace wire = dxs::wire;

namespace {

using namespace std::string_literals;

wire::Message read_msg(const std::string& path, uint32_t req_id = 1) {
  wire::Message m;
  m.payload = path + '\0';
  m.header = {wire::to_u32(wire::MsgType::kRead), req_id, 0,
              static_cast<uint32_t>(m.payload.size())};
  return m;
}

pb::Welcome welcome(uint64_t base, std::initializer_list<uint64_t> known = {}) {
  pb::Welcome w;
  w.set_conn_id_base(base);
  for (uint64_t c : known) w.add_connections()->set_conn(c);
  return w;
}

struct Fixture {
  explicit Fixture(uint32_t max_in_flight = 64)
      : dispatch(link, log, DispatchOptions{max_in_flight}) {
    dispatch.on_attached(welcome(100));
  }
  uint64_t open(std::shared_ptr<RecordingConnection>& conn,
                ClientIdentity who = ClientIdentity::socket_peer(42, 1000)) {
    conn = std::make_shared<RecordingConnection>();
    return dispatch.open(conn, who);
  }
  void answer(std::initializer_list<pb::Outbound> items) {
    pb::SessionResponse r;
    for (const auto& o : items) *r.add_items() = o;
    dispatch.on_response(r);
  }

  CapturingLogger log;
  RecordingLink link;
  Dispatch dispatch;
};

}  // namespace

TEST_CASE("open reports the connection's identity to the store") {
  Fixture f;
  std::shared_ptr<RecordingConnection> sock, ring;
  const uint64_t a = f.open(sock);
  const uint64_t b = f.open(ring, ClientIdentity::ring(7));
  CHECK(a == 101);
  CHECK(b == 102);
  REQUIRE(f.link.items.size() == 2);
  const pb::OpenConnection& s = f.link.items[0].open();
  CHECK(s.conn() == a);
  CHECK(s.kind() == pb::SOCKET);
  CHECK(s.domid() == 0);
  CHECK(s.peer_pid() == 42);
  CHECK(s.peer_uid() == 1000);
  const pb::OpenConnection& r = f.link.items[1].open();
  CHECK(r.conn() == b);
  CHECK(r.kind() == pb::RING);
  CHECK(r.domid() == 7);
  CHECK(r.peer_pid() == -1);
}

TEST_CASE("each connection's requests are numbered 1, 2, 3 and carry what was answered") {
  Fixture f;
  std::shared_ptr<RecordingConnection> a, b;
  const uint64_t ca = f.open(a);
  const uint64_t cb = f.open(b);
  f.dispatch.on_message(ca, read_msg("/a1"));
  f.dispatch.on_message(cb, read_msg("/b1"));
  f.dispatch.on_message(ca, read_msg("/a2"));
  f.answer({reply_to(ca, 1, 1, "x")});
  f.dispatch.on_message(ca, read_msg("/a3"));
  auto reqs = f.link.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[0].conn() == ca);
  CHECK(reqs[0].seq() == 1);
  CHECK(reqs[0].path().path() == "/a1");
  CHECK(reqs[1].conn() == cb);
  CHECK(reqs[1].seq() == 1);
  CHECK(reqs[2].seq() == 2);
  CHECK(reqs[2].replied_seq() == 0);
  CHECK(reqs[3].seq() == 3);
  CHECK(reqs[3].replied_seq() == 1);
}

TEST_CASE("a malformed payload still goes to the store, as a Request marked malformed") {
  Fixture f;
  std::shared_ptr<RecordingConnection> c;
  const uint64_t id = f.open(c);
  wire::Message m;
  m.payload = "no-nul";
  m.header = {wire::to_u32(wire::MsgType::kRead), 9, 0, 6};
  f.dispatch.on_message(id, std::move(m));
  auto reqs = f.link.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].has_malformed());
  CHECK(reqs[0].req_id() == 9);
  CHECK(reqs[0].seq() == 1);
}

TEST_CASE("replies and events reach their own connection, framed; duplicates are dropped") {
  Fixture f;
  std::shared_ptr<RecordingConnection> a, b;
  const uint64_t ca = f.open(a);
  const uint64_t cb = f.open(b);
  f.dispatch.on_message(ca, read_msg("/a", 5));
  f.dispatch.on_message(cb, read_msg("/b", 6));
  f.answer({reply_to(cb, 1, 6, "bee"), reply_to(ca, 1, 5, "ay"), reply_to(ca, 1, 5, "again"),
            event_for(ca, 3, "/a", "tok"), reply_to(999, 1, 1, "nobody")});
  std::string want_a, want_b, want_event;
  wire::append_message(want_a, wire::to_u32(wire::MsgType::kRead), 5, 0, "ay");
  wire::append_message(want_b, wire::to_u32(wire::MsgType::kRead), 6, 0, "bee");
  wire::append_message(want_event, wire::to_u32(wire::MsgType::kWatchEvent), 0, 0, "/a\0tok\0"s);
  REQUIRE(a->sent.size() == 2);
  CHECK(a->sent[0].first == want_a);
  CHECK(a->sent[0].second == 0);
  CHECK(a->sent[1].first == want_event);
  CHECK(a->sent[1].second == 3);
  REQUIRE(b->sent.size() == 1);
  CHECK(b->sent[0].first == want_b);
}

TEST_CASE("the in-flight limit stops reading; replies down to half the limit resume it") {
  Fixture f(4);
  std::shared_ptr<RecordingConnection> c;
  const uint64_t id = f.open(c);
  CHECK(f.dispatch.on_message(id, read_msg("/1")));
  CHECK(f.dispatch.on_message(id, read_msg("/2")));
  CHECK(f.dispatch.on_message(id, read_msg("/3")));
  CHECK_FALSE(f.dispatch.on_message(id, read_msg("/4")));
  f.answer({reply_to(id, 1, 1, ""), reply_to(id, 2, 1, "")});
  CHECK(c->resumed == 0);  // two in flight: not below half of 4 yet
  f.answer({reply_to(id, 3, 1, "")});
  CHECK(c->resumed == 1);
  f.answer({reply_to(id, 4, 1, "")});
  CHECK(c->resumed == 1);  // reading was not paused any more
}

TEST_CASE("a re-attach re-sends unanswered requests with their sequence numbers") {
  Fixture f;
  std::shared_ptr<RecordingConnection> a, b;
  const uint64_t ca = f.open(a);
  const uint64_t cb = f.open(b);
  f.dispatch.on_message(ca, read_msg("/1"));
  f.dispatch.on_message(ca, read_msg("/2"));
  f.dispatch.on_message(ca, read_msg("/3"));
  f.answer({reply_to(ca, 1, 1, ""), event_for(ca, 8, "/w", "t")});
  f.dispatch.on_event_written(ca, 8);

  // The store knows ca, not cb (it opened after the store went away), and still has a
  // connection 55 that nobody here holds.
  auto items = f.dispatch.on_attached(welcome(200, {ca, 55}));
  int closes = 0, opens = 0, acks = 0;
  std::vector<uint64_t> seqs;
  for (const auto& i : items) {
    if (i.has_close()) {
      ++closes;
      CHECK(i.close().conn() == 55);
    } else if (i.has_open()) {
      ++opens;
      CHECK(i.open().conn() == cb);
    } else if (i.has_event_ack()) {
      ++acks;
      CHECK(i.event_ack().event_id() == 8);
    } else if (i.has_request()) {
      CHECK(i.request().conn() == ca);
      CHECK(i.request().path().path() == "/" + std::to_string(i.request().seq()));
      seqs.push_back(i.request().seq());
    }
  }
  CHECK(closes == 1);
  CHECK(opens == 1);
  CHECK(acks == 1);
  CHECK(seqs == std::vector<uint64_t>{2, 3});
  // Numbering goes on where it was; new connections take ids from the new base.
  f.dispatch.on_message(ca, read_msg("/4"));
  CHECK(f.link.requests().back().seq() == 4);
  std::shared_ptr<RecordingConnection> c;
  CHECK(f.open(c) == 201);
}

TEST_CASE("an event is acknowledged once, when a newer one has been written") {
  Fixture f;
  std::shared_ptr<RecordingConnection> c;
  const uint64_t id = f.open(c);
  f.link.items.clear();
  f.dispatch.on_event_written(id, 5);
  f.dispatch.on_event_written(id, 5);
  f.dispatch.on_event_written(id, 3);
  f.dispatch.on_event_written(id, 7);
  REQUIRE(f.link.items.size() == 2);
  CHECK(f.link.items[0].event_ack().conn() == id);
  CHECK(f.link.items[0].event_ack().event_id() == 5);
  CHECK(f.link.items[1].event_ack().event_id() == 7);
}

TEST_CASE("a closed connection is reported once and its messages are refused") {
  Fixture f;
  std::shared_ptr<RecordingConnection> c;
  const uint64_t id = f.open(c);
  f.link.items.clear();
  f.dispatch.on_closed(id, "closed by the client");
  f.dispatch.on_closed(id, "again");
  CHECK_FALSE(f.dispatch.on_message(id, read_msg("/x")));
  REQUIRE(f.link.items.size() == 1);
  CHECK(f.link.items[0].close().conn() == id);
  CHECK(f.link.items[0].close().reason() == "closed by the client");
  CHECK(f.dispatch.connection_count() == 0);
}

TEST_CASE("the store's close command closes the client and forgets it") {
  Fixture f;
  std::shared_ptr<RecordingConnection> c;
  const uint64_t id = f.open(c);
  pb::Outbound cmd;
  cmd.mutable_command()->set_conn(id);
  cmd.mutable_command()->set_reason("domain released");
  f.answer({cmd, reply_to(id, 1, 1, "late")});
  REQUIRE(c->closed.size() == 1);
  CHECK(c->closed[0] == "domain released");
  CHECK(c->sent.empty());
  CHECK(f.dispatch.connection_count() == 0);
}
