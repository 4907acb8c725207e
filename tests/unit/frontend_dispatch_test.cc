// frontend/dispatch: sequence numbers, in-flight limits, replay on re-attach, routing and
// framing of what the store answers, event acknowledgements. Driven through a recording
// SessionLink and recording connections: no store, no sockets.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/wire.h"
#include "frontend/dispatch.h"
#include "frontend/request_identity.h"
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

// A RingHost that records what the store asked of it and adopts each ring as a
// recording connection, as the ring transport does.
// Where a ring request ended (RingMark), as the ring transport passes it.
const pb::RingMark& ring_at(uint32_t req_end) {
  static pb::RingMark mark;
  mark.Clear();
  mark.set_req_end(req_end);
  return mark;
}

class RecordingRingHost final : public dxs::frontend::RingHost {
 public:
  explicit RecordingRingHost(Dispatch& dispatch) : dispatch_(dispatch) {}
  void open_ring(uint64_t conn, const pb::RingAddress& ring, bool reset, uint32_t features,
                 const pb::RingMark* resumed) override {
    opened.push_back({conn, ring.domid(), ring.remote_port(), reset, features});
    resumed_marks.push_back(resumed != nullptr ? std::optional<pb::RingMark>(*resumed)
                                               : std::nullopt);
    auto c = std::make_shared<RecordingConnection>();
    rings[conn] = c;
    dispatch_.adopt(conn, c, ClientIdentity::ring(ring.domid()));
  }
  std::optional<pb::DomainStates> domain_states() override {
    pb::DomainStates states;
    pb::DomainState* d = states.add_domains();
    d->set_domid(7);
    d->set_state(pb::DomainState::SHUTDOWN);
    return states;
  }
  struct Opened {
    uint64_t conn;
    uint32_t domid, port;
    bool reset;
    uint32_t features;
  };
  std::vector<Opened> opened;
  std::vector<std::optional<pb::RingMark>> resumed_marks;
  std::map<uint64_t, std::shared_ptr<RecordingConnection>> rings;

 private:
  Dispatch& dispatch_;
};

pb::Outbound open_ring_command(uint64_t conn, uint32_t domid, uint32_t port, bool reset) {
  pb::Outbound o;
  pb::ConnectionCommand* cmd = o.mutable_command();
  cmd->set_conn(conn);
  cmd->set_action(pb::ConnectionCommand::OPEN_RING);
  cmd->mutable_ring()->set_domid(domid);
  cmd->mutable_ring()->set_remote_port(port);
  cmd->set_reset(reset);
  cmd->set_features(3);
  return o;
}

struct Fixture {
  explicit Fixture(uint32_t max_in_flight = 64)
      : dispatch(link, log, DispatchOptions{max_in_flight}) {
    dispatch.on_attached(welcome(100));
  }
  uint64_t open(std::shared_ptr<RecordingConnection>& conn,
                ClientIdentity who = ClientIdentity::socket_peer(42, 1000)) {
    conn = std::make_shared<RecordingConnection>();
    const uint64_t id = dispatch.new_connection_id();
    dispatch.open(id, conn, who);
    return id;
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
  std::shared_ptr<RecordingConnection> a_conn, b_conn;
  const uint64_t a = f.open(a_conn);
  const uint64_t b = f.open(b_conn, ClientIdentity::socket_peer(43, 0));
  CHECK(a == 101);
  CHECK(b == 102);
  REQUIRE(f.link.items.size() == 2);
  const pb::OpenConnection& s = f.link.items[0].open();
  CHECK(s.conn() == a);
  CHECK(s.kind() == pb::SOCKET);
  CHECK(s.domid() == 0);
  CHECK(s.peer_pid() == 42);
  CHECK(s.peer_uid() == 1000);
  CHECK(f.link.items[1].open().peer_pid() == 43);
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
  cmd.mutable_command()->set_action(pb::ConnectionCommand::CLOSE);
  cmd.mutable_command()->set_reason("domain released");
  f.answer({cmd, reply_to(id, 1, 1, "late")});
  REQUIRE(c->closed.size() == 1);
  CHECK(c->closed[0] == "domain released");
  CHECK(c->sent.empty());
  CHECK(f.dispatch.connection_count() == 0);
}

TEST_CASE("OPEN_RING goes to the ring host, which adopts the store's connection id") {
  Fixture f;
  RecordingRingHost host(f.dispatch);
  f.dispatch.set_ring_host(&host);
  const uint64_t id = (uint64_t{1} << 62) + 5;
  f.answer({open_ring_command(id, 7, 13, true)});
  REQUIRE(host.opened.size() == 1);
  CHECK(host.opened[0].conn == id);
  CHECK(host.opened[0].domid == 7);
  CHECK(host.opened[0].port == 13);
  CHECK(host.opened[0].reset);
  CHECK(host.opened[0].features == 3);
  CHECK(f.link.items.empty());  // the store knows the connection: no OpenConnection

  // The ring's requests carry where they end in the ring; the reply says where it ends
  // and which request it consumes.
  CHECK(f.dispatch.on_message(id, read_msg("/a"), &ring_at(35)));
  REQUIRE(f.link.requests().size() == 1);
  CHECK(f.link.requests()[0].ring().req_end() == 35);
  pb::Outbound reply = reply_to(id, 1, 1, "v");
  reply.mutable_reply()->set_rsp_end(17);
  pb::Outbound event = event_for(id, 1, "/a", "tok");
  event.mutable_event()->set_rsp_end(40);
  f.answer({reply, event});
  auto& ring = host.rings[id];
  REQUIRE(ring->marks.size() == 2);
  CHECK(ring->marks[0].is_reply);
  CHECK(ring->marks[0].req_end == 35);
  CHECK(ring->marks[0].rsp_end == 17);
  CHECK_FALSE(ring->marks[1].is_reply);
  CHECK(ring->marks[1].rsp_end == 40);
}

TEST_CASE("a frontend that serves no rings refuses OPEN_RING, and the store hears of it") {
  Fixture f;
  f.answer({open_ring_command(999, 7, 13, false)});
  REQUIRE(f.link.items.size() == 1);
  CHECK(f.link.items[0].close().conn() == 999);
  CHECK(f.dispatch.connection_count() == 0);
}

TEST_CASE("on attach, rings the store knows are served again and domain states are reported") {
  CapturingLogger log;
  RecordingLink link;
  Dispatch dispatch(link, log, DispatchOptions{});
  RecordingRingHost host(dispatch);
  dispatch.set_ring_host(&host);
  pb::Welcome w = welcome(100, {55});
  pb::KnownConnection* ring = w.add_connections();
  ring->set_conn(77);
  ring->set_kind(pb::RING);
  ring->set_domid(9);
  ring->mutable_ring()->set_domid(9);
  ring->mutable_ring()->set_remote_port(4);
  ring->set_applied_seq(12);
  ring->mutable_ring_end()->set_req_end(20);
  ring->mutable_ring_end()->set_rsp_base(4000);
  // Its last two requests were applied; the first of them is in the ring still.
  for (auto [seq, end] : {std::pair<uint64_t, uint32_t>{11, 10}, {12, 20}}) {
    pb::RecordedRequest* rec = ring->add_recorded();
    rec->set_seq(seq);
    rec->set_req_end(end);
  }
  const std::vector<pb::Inbound> items = dispatch.on_attached(w);
  REQUIRE(host.opened.size() == 1);
  CHECK(host.opened[0].conn == 77);
  CHECK(host.opened[0].domid == 9);
  CHECK_FALSE(host.opened[0].reset);
  REQUIRE(host.resumed_marks[0].has_value());
  CHECK(host.resumed_marks[0]->rsp_base() == 4000);
  // Connection 55 (a socket this frontend does not hold) is closed; the domain states
  // follow.
  REQUIRE(items.size() == 2);
  CHECK(items[0].close().conn() == 55);
  REQUIRE(items[1].has_domain_states());
  CHECK(items[1].domain_states().domains(0).domid() == 7);
  CHECK(dispatch.connection_count() == 1);
  // A request the store applied, read again from the ring, gets its number back (the
  // store answers it from its record); the next goes on from the store's, not from 1.
  dispatch.on_message(77, read_msg("/x"), &ring_at(20));
  dispatch.on_message(77, read_msg("/y"), &ring_at(30));
  REQUIRE(link.requests().size() == 2);
  CHECK(link.requests()[0].seq() == 12);
  CHECK(link.requests()[1].seq() == 13);
  CHECK(link.requests()[1].ring().req_end() == 30);

  // The store restarts and no longer knows the ring: the host's connection is closed.
  const std::vector<pb::Inbound> again = dispatch.on_attached(welcome(200));
  CHECK(host.rings[77]->closed.size() == 1);
  CHECK(dispatch.connection_count() == 0);
  CHECK(again.size() == 1);  // the domain states
}

namespace {

// A SocketHost holding the sockets of `held` connections, as the socket transport does
// with those the fd store gave back.
class RecordingSocketHost final : public dxs::frontend::SocketHost {
 public:
  RecordingSocketHost(Dispatch& dispatch, std::set<uint64_t> held)
      : dispatch_(dispatch), held_(std::move(held)) {}
  bool resume_socket(uint64_t conn) override {
    if (held_.erase(conn) == 0) return false;
    auto c = std::make_shared<RecordingConnection>();
    sockets[conn] = c;
    dispatch_.adopt(conn, c, ClientIdentity::socket_peer(1234, 0));
    return true;
  }
  // Those above last_opened are adopted as new connections, as the transport does.
  std::vector<uint64_t> release_unclaimed(uint64_t last_opened) override {
    std::vector<uint64_t> unopened;
    for (uint64_t conn : held_) {
      if (conn <= last_opened) {
        released.insert(conn);
        continue;
      }
      auto c = std::make_shared<RecordingConnection>();
      sockets[conn] = c;
      dispatch_.adopt(conn, c, ClientIdentity::socket_peer(4321, 0));
      unopened.push_back(conn);
    }
    held_.clear();
    return unopened;
  }

  std::map<uint64_t, std::shared_ptr<RecordingConnection>> sockets;
  std::set<uint64_t> released;

 private:
  Dispatch& dispatch_;
  std::set<uint64_t> held_;
};

wire::Message write_msg(const std::string& path, const std::string& value, uint32_t req_id) {
  wire::Message m;
  m.payload = path + '\0' + value;
  m.header = {wire::to_u32(wire::MsgType::kWrite), req_id, 0,
              static_cast<uint32_t>(m.payload.size())};
  return m;
}

uint64_t digest(const wire::Message& m) {
  return dxs::frontend::request_digest(m.header, m.payload);
}

}  // namespace

TEST_CASE("a restarted frontend resumes the sockets it got back and closes only the others") {
  CapturingLogger log;
  RecordingLink link;
  Dispatch dispatch(link, log, DispatchOptions{});
  RecordingSocketHost host(dispatch, {55, 77});
  dispatch.set_socket_host(&host);

  const wire::Message recorded_write = write_msg("/a", "1", 7);
  pb::Welcome w = welcome(300);
  pb::KnownConnection* kept = w.add_connections();
  kept->set_conn(55);
  kept->set_kind(pb::SOCKET);
  kept->set_applied_seq(7);
  kept->set_replied_seq(5);
  kept->set_acked_event_id(9);
  pb::RecordedRequest* r = kept->add_recorded();
  r->set_seq(7);
  r->set_digest(digest(recorded_write));
  pb::KnownConnection* gone = w.add_connections();
  gone->set_conn(56);
  gone->set_kind(pb::SOCKET);
  w.set_last_socket_conn(80);

  const std::vector<pb::Inbound> first = dispatch.on_attached(w);
  // 56's client is gone: closed through the normal path. 55 is kept, not reopened.
  REQUIRE(first.size() == 1);
  REQUIRE(first[0].has_close());
  CHECK(first[0].close().conn() == 56);
  REQUIRE(host.sockets.count(55) == 1);
  CHECK(host.released == std::set<uint64_t>{77});  // the store no longer knows 77
  CHECK(dispatch.connection_count() == 1);

  // The socket still holds the recorded write (not consumed before the kill), then a
  // new request: the first is numbered as recorded, the next after it.
  const wire::Message next = read_msg("/a", 8);
  const std::vector<uint64_t> head{digest(recorded_write), digest(next)};
  dispatch.resume_at(55, head, 0);
  CHECK(dispatch.on_message(55, wire::Message(recorded_write)));
  CHECK(dispatch.on_message(55, wire::Message(next)));
  const auto reqs = link.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].seq() == 7);
  CHECK(reqs[1].seq() == 8);
  // The recorded reply must stay at the store until delivered.
  CHECK(reqs[0].replied_seq() == 5);
  CHECK(reqs[0].digest() == digest(recorded_write));

  // Events the client had are not acknowledged again; a new one is.
  dispatch.on_event_written(55, 9);
  CHECK(link.count(pb::Inbound::kEventAck) == 0);
  dispatch.on_event_written(55, 10);
  CHECK(link.count(pb::Inbound::kEventAck) == 1);

  // The reply consumes its request's bytes from the socket as it is written.
  pb::SessionResponse resp;
  *resp.add_items() = reply_to(55, 7, 7, "OK");
  dispatch.on_response(resp);
  const auto& sock = *host.sockets[55];
  REQUIRE(sock.marks.size() == 1);
  CHECK(sock.marks[0].consume == wire::kHeaderSize + recorded_write.payload.size());
  CHECK(dispatch.on_message(55, read_msg("/b", 9)));
  CHECK(link.requests().back().replied_seq() == 7);
}

TEST_CASE("a socket stored before the store opened it is opened by the next frontend") {
  CapturingLogger log;
  RecordingLink link;
  Dispatch dispatch(link, log, DispatchOptions{});
  // 90 was accepted and stored, its frontend killed before the store heard of it; 70 was
  // opened and closed at the store, its fd never removed from the fd store.
  RecordingSocketHost host(dispatch, {70, 90});
  dispatch.set_socket_host(&host);
  pb::Welcome w = welcome(300);
  w.set_last_socket_conn(80);
  const std::vector<pb::Inbound> first = dispatch.on_attached(w);
  REQUIRE(first.size() == 1);
  REQUIRE(first[0].has_open());
  CHECK(first[0].open().conn() == 90);
  CHECK(first[0].open().peer_pid() == 4321);
  CHECK(host.released == std::set<uint64_t>{70});
  CHECK(dispatch.connection_count() == 1);
  // It starts afresh: its first request is its first.
  CHECK(dispatch.on_message(90, read_msg("/a", 1)));
  REQUIRE(link.requests().size() == 1);
  CHECK(link.requests()[0].conn() == 90);
  CHECK(link.requests()[0].seq() == 1);
}

TEST_CASE("a socket whose head holds no recorded request numbers on after applied_seq") {
  CapturingLogger log;
  RecordingLink link;
  Dispatch dispatch(link, log, DispatchOptions{});
  RecordingSocketHost host(dispatch, {55});
  dispatch.set_socket_host(&host);
  pb::Welcome w = welcome(300);
  pb::KnownConnection* k = w.add_connections();
  k->set_conn(55);
  k->set_kind(pb::SOCKET);
  k->set_applied_seq(7);
  k->set_replied_seq(6);
  pb::RecordedRequest* r = k->add_recorded();
  r->set_seq(7);
  r->set_digest(digest(write_msg("/a", "1", 7)));
  dispatch.on_attached(w);
  const wire::Message fresh = write_msg("/a", "2", 8);
  const std::vector<uint64_t> head{digest(fresh)};
  dispatch.resume_at(55, head, 0);
  CHECK(dispatch.on_message(55, wire::Message(fresh)));
  REQUIRE(link.requests().size() == 1);
  CHECK(link.requests()[0].seq() == 8);
}

TEST_CASE("without a socket host, the Welcome's sockets are closed as before") {
  CapturingLogger log;
  RecordingLink link;
  Dispatch dispatch(link, log, DispatchOptions{});
  pb::Welcome w = welcome(300);
  w.add_connections()->set_conn(55);
  w.mutable_connections(0)->set_kind(pb::SOCKET);
  const std::vector<pb::Inbound> first = dispatch.on_attached(w);
  REQUIRE(first.size() == 1);
  CHECK(first[0].close().conn() == 55);
}
