// Guest rings at the engine: the ring connection's lifecycle, which the store decides
// (INTRODUCE, RELEASE, DomainStates, ResetRing, a broken ring closed by the frontend;
// reference sections 1.8, 2 and 3.3, C xenstored 4.17 xenstored_domain.c), and the
// ring's progress recorded in the request's batch: every reply's and event's place in
// the response stream, fixed when the store produces it (ARCHITECTURE.md section 4).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "engine_fixture.h"
#include "store/connection.h"
#include "store/ring_connection.h"
#include "store/ring_stream.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;
namespace pb = dxs::pb;
namespace store = dxs::store;

namespace {

using Command = pb::ConnectionCommand;
constexpr auto kRunning = pb::DomainState::RUNNING;
constexpr auto kShutdown = pb::DomainState::SHUTDOWN;
constexpr auto kDying = pb::DomainState::DYING;

// The guest's home, owned by the guest.
void make_home(EngineFixture& f, uint32_t domid) {
  const std::string home = "/local/domain/" + std::to_string(domid);
  f.ok(f.admin(), MsgType::kMkdir, args({home}));
  f.set_perms(f.admin(), home, {"n" + std::to_string(domid)});
}

pb::ConnectionRecord record_of(EngineFixture& f, uint64_t conn) {
  pb::ConnectionRecord r;
  REQUIRE(f.db().get_record(store::Cf::kConnections, store::keys::connection(conn), &r));
  return r;
}

// Where event `id` of conn ends in its response stream, as queued in cf events (in the
// event log or a record of its own); nullopt if it is in neither.
std::optional<uint32_t> queued_rsp_end(EngineFixture& f, uint64_t conn, uint64_t id) {
  pb::EventRecord own;
  if (f.db().get_record(store::Cf::kEvents, store::keys::event(conn, id), &own)) {
    return own.rsp_end();
  }
  auto log = f.db().iterate(store::Cf::kEvents);
  for (log->Seek(store::keys::events_of(0));
       log->Valid() && store::keys::starts_with(log->key(), store::keys::events_of(0));
       log->Next()) {
    pb::EventLogRecord r;
    REQUIRE(r.ParseFromArray(log->value().data(), static_cast<int>(log->value().size())));
    for (const auto& e : r.events()) {
      if (e.conn() == conn && e.event_id() == id) return e.rsp_end();
    }
  }
  return std::nullopt;
}

bool known(EngineFixture& f, uint64_t conn) {
  std::string value;
  return f.db().get(store::Cf::kConnections, store::keys::connection(conn), &value);
}

uint32_t rsp_end_of(const pb::Outbound& o) {
  return o.has_reply() ? o.reply().rsp_end() : o.event().rsp_end();
}

size_t payload_size(const pb::Outbound& o) {
  return o.has_reply() ? o.reply().payload().size()
                       : o.event().path().size() + o.event().token().size() + 2;
}

// Checks that each message ends 16 bytes and its payload after the one before, from
// `start`; returns where the last ends.
uint32_t check_contiguous(const std::vector<pb::Outbound>& sent, uint32_t start) {
  uint32_t at = start;
  for (const pb::Outbound& o : sent) {
    at += static_cast<uint32_t>(16 + payload_size(o));
    CHECK(rsp_end_of(o) == at);
  }
  return at;
}

// "reply" or "event <path>" for each message, in delivery order.
Strings kinds(const std::vector<pb::Outbound>& sent) {
  Strings out;
  for (const pb::Outbound& o : sent) {
    out.push_back(o.has_reply() ? "reply" : "event " + o.event().path());
  }
  return out;
}

}  // namespace

TEST_CASE("INTRODUCE opens the guest's ring connection with an id of the store's") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.ok(dom0, MsgType::kIntroduce, args({"7", "4660", "12"}));
  // After the reply, the frontend is told to serve the ring; no reset the first time.
  CHECK(f.last_outbound().front() == "reply " + std::to_string(dom0) + " OK");
  const uint64_t g7 = f.open_domain(7);
  CHECK(f.last_outbound().back() == "command " + std::to_string(g7) + " OPEN_RING");
  CHECK(g7 >= store::kFirstRingConnection);
  auto cmds = f.commands(g7);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].action() == Command::OPEN_RING);
  CHECK_FALSE(cmds[0].reset());
  CHECK(cmds[0].ring().domid() == 7);
  CHECK(cmds[0].ring().remote_port() == 12);
  CHECK(cmds[0].ring().gfn() == 4660);
  const pb::ConnectionRecord rec = record_of(f, g7);
  CHECK(rec.kind() == pb::RING);
  CHECK(rec.domid() == 7);
  CHECK(rec.ring().remote_port() == 12);
  // Its requests are the guest's.
  CHECK(f.err(g7, MsgType::kRead, args({"/"})) == "EACCES");
  CHECK(f.ok(g7, MsgType::kGetDomainPath, args({"7"})) == args({"/local/domain/7"}));

  // Ids are never used twice, across restarts too.
  const uint64_t g8 = f.open_domain(8);
  CHECK(g8 > g7);
  f.restart();
  const uint64_t g9 = f.open_domain(9);
  CHECK(g9 > g8);
  CHECK(record_of(f, g7).domid() == 7);
}

TEST_CASE("the frontend cannot open a ring connection, nor take the store's ids") {
  EngineFixture f;
  pb::Inbound item;
  pb::OpenConnection* open = item.mutable_open();
  open->set_conn((uint64_t{1} << 40) + 100);
  open->set_kind(pb::RING);
  open->set_domid(0);
  f.inbound(item);
  CHECK(f.log().contains({"only sockets are its to open"}));
  CHECK_FALSE(known(f, open->conn()));
  CHECK(f.call(open->conn(), MsgType::kRead, args({"/"})).error() == "EIO");

  open->set_kind(pb::SOCKET);
  open->set_conn(store::kFirstRingConnection);
  f.inbound(item);
  CHECK_FALSE(known(f, open->conn()));
  // A ring connection the store opened cannot be opened over as a socket either.
  const uint64_t g7 = f.open_domain(7);
  open->set_conn(g7);
  f.inbound(item);
  CHECK(record_of(f, g7).kind() == pb::RING);
}

TEST_CASE("INTRODUCE twice: the old connection and all it held go, a new ring is reset") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  REQUIRE(f.introduce(7) == "");
  make_home(f, 7);
  const uint64_t old = f.open_domain(7);
  f.ok(old, MsgType::kWatch, args({"/local/domain/7", "w"}));
  const uint32_t t = f.start(old);
  f.write(old, "/local/domain/7/in-txn", "", t);
  f.set_report_delivered(false);
  f.write(old, "/local/domain/7/recorded", "");
  REQUIRE(record_of(f, old).replies_size() > 0);
  f.set_auto_ack(old, false);
  for (int i = 0; i < 80; ++i) f.write(dom0, "/local/domain/7/e" + std::to_string(i), "");
  const uint64_t head = f.engine().head();

  f.ok(dom0, MsgType::kIntroduce, args({"7", "99", "5"}));
  CHECK(f.engine().head() == head + 1);
  CHECK(f.commits()[head + 1].summary() == "dom0: reintroduce domain 7");
  // The reply, then CLOSE of the old connection, then OPEN_RING of the new one.
  const uint64_t now = f.open_domain(7);
  REQUIRE(now != old);
  CHECK(f.last_outbound() == Strings{"reply " + std::to_string(dom0) + " OK",
                                     "command " + std::to_string(old) + " CLOSE",
                                     "command " + std::to_string(now) + " OPEN_RING"});
  auto cmds = f.commands(now);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].reset());
  CHECK(cmds[0].ring().remote_port() == 5);
  CHECK(cmds[0].ring().gfn() == 99);
  // The new connection's streams start at 0.
  const pb::ConnectionRecord fresh = record_of(f, now);
  CHECK(fresh.ring_req_end() == 0);
  CHECK(fresh.ring_rsp_end() == 0);
  CHECK(fresh.replies_size() == 0);
  // Nothing of the old connection is left: record, watches, transaction, queued events.
  CHECK_FALSE(known(f, old));
  auto events = f.db().iterate(store::Cf::kEvents);
  events->Seek(store::keys::events_of(old));
  CHECK(
      (!events->Valid() || !store::keys::starts_with(events->key(), store::keys::events_of(old))));
  CHECK(f.call(old, MsgType::kRead, args({"/local/domain/7"})).error() == "EIO");
  CHECK(f.commit(now, t) == "ENOENT");
  f.events(now);
  f.write(dom0, "/local/domain/7/after", "");
  CHECK(f.events(now).empty());
  CHECK(f.usage(7, "transactions") == 0);
  CHECK(f.usage(7, "watches") == 0);
  // Its first reply was the first message of its stream.
  auto sent = f.take_sent(now);
  REQUIRE(!sent.empty());
  CHECK(check_contiguous(sent, 0) == record_of(f, now).ring_rsp_end());
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("RELEASE while the guest has a transaction and watches; RELEASE twice") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  make_home(f, 7);
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.ok(g7, MsgType::kWatch, args({"@releaseDomain", "own"}));
  const uint32_t t = f.start(g7);
  f.write(g7, "/local/domain/7/t", "x", t);
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(dom0);
  f.events(g7);

  f.ok(dom0, MsgType::kRelease, args({"7"}));
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  // The guest's own watches went with its connection before anything fired.
  CHECK(f.events(g7).empty());
  CHECK(f.commands(g7).back().action() == Command::CLOSE);
  CHECK_FALSE(known(f, g7));
  CHECK(f.err(dom0, MsgType::kRead, args({"/local/domain/7/t"})) == "ENOENT");
  CHECK(f.err(dom0, MsgType::kRelease, args({"7"})) == "ENOENT");
  CHECK(f.events(dom0).empty());
  CHECK(f.commits()[f.engine().head()].summary() == "dom0: release domain 7");
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("a privileged guest releasing itself gets its reply before its CLOSE") {
  store::EngineOptions options;
  options.privileged_domid = 3;
  EngineFixture f(options);
  const uint64_t g3 = f.open_domain(3);
  f.ok(g3, MsgType::kRelease, args({"3"}));
  CHECK(f.last_outbound() ==
        Strings{"reply " + std::to_string(g3) + " OK", "command " + std::to_string(g3) + " CLOSE"});
  CHECK_FALSE(known(f, g3));
  // Its commit names it, though its connection went in the request.
  const pb::CommitRecord c = f.commits()[f.engine().head()];
  CHECK(c.summary() == "dom3: release domain 3");
  CHECK(c.author().kind() == pb::CommitAuthor::RING);
  CHECK(c.author().domid() == 3);
  CHECK(c.conn() == g3);
}

TEST_CASE("DomainStates: a dying or vanished domain is gone, once, as after RELEASE") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  make_home(f, 7);
  make_home(f, 8);
  const uint64_t g7 = f.open_domain(7);
  const uint64_t g8 = f.open_domain(8);
  f.write(g7, "/local/domain/7/data", "x");
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.start(g7);
  f.ok(dom0, MsgType::kControl, args({"quota", "set", "nodes", "50", "7"}));
  f.ok(dom0, MsgType::kSetTarget, args({"8", "7"}));
  f.write(dom0, "/shared", "");
  f.set_perms(dom0, "/shared", {"n0", "r7"});
  f.set_perms(dom0, "@releaseDomain", {"n0", "r7"});
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(dom0);
  f.commands(g7);
  f.commands(g8);
  const uint64_t head = f.engine().head();

  f.domain_states({{0, kRunning}, {7, kDying}, {8, kRunning}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  CHECK(f.commits()[head + 1].summary() == "dxs: domain 7 is gone (dying)");
  CHECK(f.engine().head() == head + 1);
  auto cmds = f.commands(g7);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].action() == Command::CLOSE);
  CHECK(f.commands(g8).empty());
  CHECK(f.ok(dom0, MsgType::kIsDomainIntroduced, args({"7"})) == args({"F"}));
  CHECK(f.directory(dom0, "/local/domain") == Strings{"8"});
  CHECK(f.get_perms(dom0, "/shared") == Strings{"n0"});
  CHECK(f.usage(7, "nodes") == -1);

  // Reported again (every VIRQ_DOM_EXC lists every domain): nothing more.
  f.domain_states({{0, kRunning}, {7, kDying}, {8, kRunning}});
  f.domain_states({{0, kRunning}, {8, kRunning}});
  CHECK(f.events(dom0).empty());
  CHECK(f.engine().head() == head + 1);

  // Missing from the list: gone too.
  f.domain_states({{0, kRunning}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  CHECK(f.commits()[f.engine().head()].summary() == "dxs: domain 8 is gone (no longer exists)");
  CHECK(f.commands(g8).back().action() == Command::CLOSE);
  // dom0 is never gone, whatever the list says.
  f.domain_states({});
  CHECK(f.ok(dom0, MsgType::kIsDomainIntroduced, args({"0"})) == args({"T"}));
  CHECK(f.events(dom0).empty());
  CHECK(f.control({"check"}) == "OK");

  // A new domain 7 inherits nothing: nodes, quota override, target, rights.
  make_home(f, 7);
  const uint64_t new7 = f.open_domain(7);
  CHECK(f.usage(7, "nodes") == 1);
  CHECK(f.err(new7, MsgType::kRead, args({"/shared"})) == "EACCES");
  for (int i = 0; i < 60; ++i) f.write(new7, "/local/domain/7/n" + std::to_string(i), "");
  CHECK(f.usage(7, "nodes") == 61);
  CHECK(f.usage(7, "watches") == 0);
  CHECK(f.usage(7, "transactions") == 0);
}

TEST_CASE(
    "DomainStates: a shut-down domain fires @releaseDomain once until RESUME, and "
    "again when it dies, as C xenstored 4.17") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.open_domain(7);
  f.open_domain(9);
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(dom0);
  const uint64_t head = f.engine().head();

  f.domain_states({{0, kRunning}, {7, kShutdown}, {9, kRunning}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  CHECK(f.commits()[head + 1].summary() == "dxs: domain 7 shut down");
  CHECK(f.ok(dom0, MsgType::kIsDomainIntroduced, args({"7"})) == args({"T"}));
  f.domain_states({{0, kRunning}, {7, kShutdown}, {9, kRunning}});
  CHECK(f.events(dom0).empty());
  CHECK(f.engine().head() == head + 1);

  // RESUME (a suspended domain resumed): its next shutdown is reported again.
  f.ok(dom0, MsgType::kResume, args({"7"}));
  f.domain_states({{0, kRunning}, {7, kRunning}, {9, kRunning}});
  CHECK(f.events(dom0).empty());
  f.domain_states({{0, kRunning}, {7, kShutdown}, {9, kRunning}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});

  // Its destruction is announced once more (C: destroy_domain fires too).
  f.domain_states({{0, kRunning}, {7, kDying}, {9, kRunning}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  f.domain_states({{0, kRunning}, {9, kRunning}});
  CHECK(f.events(dom0).empty());

  // Dying with no shutdown reported before: one event.
  f.domain_states({{0, kRunning}, {9, kDying}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});

  // A domid reused after death: the shutdown flag was not inherited.
  f.open_domain(7);
  f.domain_states({{0, kRunning}, {7, kShutdown}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
}

TEST_CASE("DomainStates listing a domain never introduced changes nothing") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.ok(dom0, MsgType::kWatch, args({"@introduceDomain", "i"}));
  f.events(dom0);
  // dom0 gives domain 12 a node before it is introduced: it has a record, not introduced.
  f.write(dom0, "/pre", "");
  f.set_perms(dom0, "/pre", {"n12"});
  const uint64_t head = f.engine().head();
  const std::string tree = f.tree_dump();
  f.domain_states({{0, kRunning}, {12, kDying}, {13, kShutdown}, {70000, kRunning}});
  f.domain_states({{0, kRunning}});
  CHECK(f.events(dom0).empty());
  CHECK(f.engine().head() == head);
  CHECK(f.tree_dump() == tree);
  CHECK(f.ok(dom0, MsgType::kIsDomainIntroduced, args({"12"})) == args({"F"}));
}

TEST_CASE("ResetRing: a new connection on the same ring, reset, and nothing of the old") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.ok(dom0, MsgType::kIntroduce, args({"7", "77", "9"}));
  make_home(f, 7);
  const uint64_t old = f.open_domain(7);
  f.ok(old, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.start(old);
  f.write(old, "/local/domain/7/kept", "v");
  const uint64_t head = f.engine().head();

  f.reset_ring(old, 7);
  const uint64_t now = f.open_domain(7);
  REQUIRE(now != old);
  CHECK(f.last_outbound() == Strings{"command " + std::to_string(old) + " CLOSE",
                                     "command " + std::to_string(now) + " OPEN_RING"});
  auto cmds = f.commands(now);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].reset());
  CHECK(cmds[0].ring().remote_port() == 9);
  CHECK(cmds[0].ring().gfn() == 77);
  CHECK_FALSE(known(f, old));
  CHECK(f.usage(7, "watches") == 0);
  CHECK(f.usage(7, "transactions") == 0);
  // The domain and its nodes stay; a reset is no commit.
  CHECK(f.engine().head() == head);
  CHECK(f.read(now, "/local/domain/7/kept") == "v");
  CHECK(record_of(f, now).ring_rsp_end() == 16 + 1);

  // A reset naming a connection from before the present one is stale: ignored.
  f.reset_ring(old, 7);
  CHECK(f.last_outbound().empty());
  CHECK(f.log().contains({"whose ring is connection"}));
  CHECK(known(f, now));
  // A reset for a domain not introduced, or a socket's id: ignored with a log line.
  f.reset_ring(now, 8);
  CHECK(f.last_outbound().empty());
  CHECK(f.log().contains({"reset of the ring of domain 8", "ignored"}));
  f.reset_ring(dom0, 0);
  CHECK(f.last_outbound().empty());
  CHECK(known(f, now));
}

TEST_CASE("a ring the frontend closes goes with its state; the domain stays introduced") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  make_home(f, 7);
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(dom0);
  f.close(g7);
  CHECK(f.log().contains({"closed by the frontend"}));
  CHECK_FALSE(known(f, g7));
  CHECK(f.usage(7, "watches") == 0);
  CHECK(f.ok(dom0, MsgType::kIsDomainIntroduced, args({"7"})) == args({"T"}));
  CHECK(f.events(dom0).empty());

  // The guest resets its ring: a new connection, though the store forgot the old one.
  f.reset_ring(g7, 7);
  CHECK(f.last_outbound() == Strings{"command " + std::to_string(f.open_domain(7)) + " OPEN_RING"});
  const uint64_t again = f.open_domain(7);
  f.close(again);
  // Its death still fires @releaseDomain, once.
  f.domain_states({{0, kRunning}});
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  CHECK(f.directory(dom0, "/local/domain") == Strings{});
}

TEST_CASE("ring offsets: contiguous, in delivery order, events before and after a reply") {
  EngineFixture f;
  make_home(f, 7);
  const uint64_t g7 = f.open_domain(7);
  const uint64_t dom0 = f.admin();
  f.take_sent(g7);
  // A WATCH: its reply, then its first event.
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  // A write of its own: the event it fires, then the reply.
  f.write(g7, "/local/domain/7/a", "1");
  // A read: recorded too, with its place.
  f.read(g7, "/local/domain/7/a");
  // Someone else's change: an event alone.
  f.write(dom0, "/local/domain/7/b", "2");
  // A failing request is answered in its place too.
  CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/none"})) == "ENOENT");
  // A WATCH whose first event is too large to frame: dropped, so no place.
  const std::string token(4090, 't');
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", token}));
  f.read(g7, "/local/domain/7/a");

  const auto sent = f.take_sent(g7);
  CHECK(kinds(sent) == Strings{"reply", "event /local/domain/7", "event /local/domain/7/a", "reply",
                               "reply", "event /local/domain/7/b", "reply", "reply", "reply"});
  const uint32_t end = check_contiguous(sent, 0);

  // The store's record agrees, and it knows how far the ring was read.
  const pb::ConnectionRecord rec = record_of(f, g7);
  CHECK(rec.ring_rsp_end() == end);
  // The last request, a read, is recorded with both offsets.
  REQUIRE(rec.replies_size() >= 1);
  const pb::ReplyRecord& last = rec.replies(rec.replies_size() - 1);
  CHECK(last.seq() == f.last_seq(g7));
  CHECK(last.ring().rsp_end() == end);
  CHECK(last.ring().req_end() == rec.ring_req_end());
  CHECK(rec.ring_req_end() > 0);
  // Socket connections have no places.
  f.read(dom0, "/local/domain/7/a");
  for (const pb::Outbound& o : f.take_sent(dom0)) CHECK(rsp_end_of(o) == 0);
}

TEST_CASE("ring offsets: a read is recorded with how far the ring was read") {
  EngineFixture f;
  f.set_report_delivered(false);
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kGetDomainPath, args({"7"}));
  const std::string read = args({"/local/domain/7"});
  f.call(g7, MsgType::kRead, read);
  const pb::ConnectionRecord rec = record_of(f, g7);
  REQUIRE(rec.replies_size() == 2);
  const uint32_t first = static_cast<uint32_t>(16 + args({"7"}).size());
  CHECK(rec.replies(0).ring().req_end() == first);
  CHECK(rec.replies(1).ring().req_end() == first + 16 + read.size());
  CHECK(rec.ring_req_end() == first + 16 + read.size());
  CHECK(rec.applied_seq() == 2);
}

TEST_CASE("a ring's recorded replies are forgotten once their requests are consumed") {
  EngineFixture f;
  f.set_report_delivered(false);
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kGetDomainPath, args({"7"}));
  f.ok(g7, MsgType::kGetDomainPath, args({"7"}));
  // Received by the frontend is not delivered: nothing consumed, both kept.
  CHECK(record_of(f, g7).replies_size() == 2);
  f.set_report_delivered(true);
  f.ok(g7, MsgType::kGetDomainPath, args({"7"}));
  // The third was read with the second consumed: only the third's record is kept.
  const pb::ConnectionRecord rec = record_of(f, g7);
  REQUIRE(rec.replies_size() == 1);
  CHECK(rec.replies(0).seq() == 3);
  CHECK(rec.replied_seq() == 2);
}

TEST_CASE("a ring's replies count as delivered up to the request req_cons has passed, wrapping") {
  dxs::store::Connection c;
  c.record.set_kind(pb::RING);
  c.record.set_replied_seq(4);
  const uint32_t ends[] = {0xfffffff0u, 0x10u, 0x30u};
  for (uint64_t i = 0; i < 3; ++i) {
    pb::ReplyRecord* r = c.record.add_replies();
    r->set_seq(5 + i);
    r->mutable_ring()->set_req_end(ends[i]);
  }
  pb::Request req;
  // The frontend has received every reply (replied_seq) but consumed only up to 0x10.
  req.set_replied_seq(7);
  req.mutable_ring()->set_consumed(0x10);
  CHECK(dxs::store::ring_delivered(c, req) == 6);
  req.mutable_ring()->set_consumed(0xfffffff0u);
  CHECK(dxs::store::ring_delivered(c, req) == 5);
  req.mutable_ring()->set_consumed(0xffffff00u);
  CHECK(dxs::store::ring_delivered(c, req) == 4);
  req.mutable_ring()->set_consumed(0x40);
  CHECK(dxs::store::ring_delivered(c, req) == 7);
}

TEST_CASE("ring offsets: events held by the event window keep the places given at once") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  make_home(f, 7);
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  const uint32_t start = record_of(f, g7).ring_rsp_end();
  f.take_sent(g7);
  f.set_auto_ack(g7, false);
  for (int i = 0; i < 100; ++i) f.write(dom0, "/local/domain/7/n" + std::to_string(i), "");
  // The guest's request now: its reply waits behind 36 held events, its place is fixed.
  CHECK_FALSE(
      f.resend(g7, f.last_seq(g7) + 1, MsgType::kWrite, write_payload("/local/domain/7/mine", ""))
          .has_value());
  std::vector<pb::Outbound> all = f.take_sent(g7);
  CHECK(all.size() == store::kEventWindow);
  const pb::ConnectionRecord rec = record_of(f, g7);
  const uint32_t reply_end = rec.replies(rec.replies_size() - 1).ring().rsp_end();
  CHECK(rec.ring_rsp_end() == reply_end);
  // An event still in cf events, never sent, already has its place.
  const std::optional<uint32_t> held = queued_rsp_end(f, g7, rec.next_event_id() - 1);
  REQUIRE(held.has_value());
  CHECK(*held > 0);
  CHECK(*held < reply_end);

  // Acknowledged a window at a time, everything comes, in its place.
  for (int round = 0; round < 10; ++round) {
    f.ack_all(g7);
    for (pb::Outbound& o : f.take_sent(g7)) all.push_back(std::move(o));
  }
  REQUIRE(all.size() == 100 + 1 + 1);
  CHECK(all[100].event().path() == "/local/domain/7/mine");
  REQUIRE(all[101].has_reply());
  CHECK(all[101].reply().rsp_end() == reply_end);
  CHECK(check_contiguous(all, start) == reply_end);
}

TEST_CASE("ring offsets survive a store restart: events re-sent and replies re-sent in place") {
  EngineFixture f;
  f.set_report_delivered(false);
  const uint64_t dom0 = f.admin();
  make_home(f, 7);
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.set_auto_ack(g7, false);
  f.take_sent(g7);
  for (int i = 0; i < 3; ++i) f.write(dom0, "/local/domain/7/n" + std::to_string(i), "");
  f.write(g7, "/local/domain/7/mine", "x");
  const uint64_t seq = f.last_seq(g7);
  std::vector<pb::Outbound> before = f.take_sent(g7);
  REQUIRE(before.size() == 5);
  const pb::ConnectionRecord rec = record_of(f, g7);

  f.restart();
  // A new frontend attaches: it learns how far the ring was read and written, and gets
  // every unacknowledged event again, in its place.
  std::vector<pb::Outbound> out;
  const pb::Welcome welcome = f.engine().hello(pb::Hello{}, out).value();
  bool listed = false;
  for (const pb::KnownConnection& k : welcome.connections()) {
    if (k.conn() != g7) continue;
    listed = true;
    CHECK(k.kind() == pb::RING);
    CHECK(k.ring().remote_port() == 1);
    CHECK(k.ring_end().req_end() == rec.ring_req_end());
    CHECK(k.ring_end().rsp_end() == rec.ring_rsp_end());
  }
  CHECK(listed);
  std::vector<pb::Outbound> resent;
  for (const pb::Outbound& o : out) {
    if (o.has_event() && o.event().conn() == g7) resent.push_back(o);
  }
  // The four events since the WATCH's own, which was acknowledged.
  REQUIRE(resent.size() == 4);
  for (size_t i = 0; i < resent.size(); ++i) {
    CHECK(resent[i].event().event_id() == before[i].event().event_id());
    CHECK(resent[i].event().rsp_end() == before[i].event().rsp_end());
  }
  // The guest's request re-sent: its recorded reply, in its place.
  auto again = f.resend(g7, seq, MsgType::kWrite, write_payload("/local/domain/7/mine", "x"));
  REQUIRE(again.has_value());
  const auto replayed = f.take_sent(g7);
  REQUIRE(replayed.size() == 1);
  CHECK(replayed[0].reply().rsp_end() == before.back().reply().rsp_end());
  CHECK(record_of(f, g7).ring_rsp_end() == rec.ring_rsp_end());
  // What comes next follows on.
  f.set_auto_ack(g7, true);
  f.ack_all(g7);
  f.take_sent(g7);
  f.read(g7, "/local/domain/7/mine");
  const auto next = f.take_sent(g7);
  REQUIRE(next.size() == 1);
  CHECK(next[0].reply().rsp_end() == rec.ring_rsp_end() + 16 + 1);
}

TEST_CASE("ring offsets are free-running u32s and wrap") {
  store::Connection c;
  c.record.set_kind(pb::RING);
  c.record.set_ring_rsp_end(0xFFFFFFF0u);
  CHECK(store::place_in_ring(c, 3) == 0xFFFFFFF0u + 19);
  CHECK(store::place_in_ring(c, 4096) == static_cast<uint32_t>(0xFFFFFFF0ull + 19 + 16 + 4096));
  CHECK(c.record.ring_rsp_end() == static_cast<uint32_t>(0xFFFFFFF0ull + 19 + 16 + 4096));
  store::Connection socket;
  socket.record.set_kind(pb::SOCKET);
  CHECK(store::place_in_ring(socket, 3) == 0);
  CHECK(socket.record.ring_rsp_end() == 0);
}

TEST_CASE("dom0's own ring: one connection, kept while the port is the same, privileged") {
  EngineFixture f;
  auto attach = [&](uint32_t port, std::vector<pb::Outbound>& out) {
    pb::Hello hello;
    hello.set_dom0_ring_port(port);
    return f.engine().hello(hello, out).value();
  };
  auto listed = [](const pb::Welcome& w, uint64_t conn) {
    return std::any_of(w.connections().begin(), w.connections().end(),
                       [&](const pb::KnownConnection& k) { return k.conn() == conn; });
  };
  std::vector<pb::Outbound> out;
  pb::Welcome w = attach(3, out);
  REQUIRE(out.size() == 1);
  const pb::ConnectionCommand open = out[0].command();
  CHECK(open.action() == Command::OPEN_RING);
  CHECK_FALSE(open.reset());
  CHECK(open.ring().domid() == 0);
  CHECK(open.ring().remote_port() == 3);
  CHECK(open.ring().gfn() == 0);
  CHECK(open.conn() >= store::kFirstRingConnection);
  CHECK_FALSE(listed(w, open.conn()));
  // Its requests are dom0's, at home in /local/domain/0.
  f.inbound([&] {
    pb::Inbound item;
    pb::Request* r = item.mutable_request();
    r->set_conn(open.conn());
    r->set_seq(1);
    r->set_type(dxs::wire::to_u32(MsgType::kWrite));
    r->mutable_write()->set_path("data/x");
    r->mutable_write()->set_value("1");
    return item;
  }());
  CHECK(f.read(f.admin(), "/local/domain/0/data/x") == "1");

  // A new frontend finding the same port re-adopts it: no command, and listed.
  out.clear();
  w = attach(3, out);
  CHECK(out.empty());
  CHECK(listed(w, open.conn()));
  f.restart();
  out.clear();
  w = attach(3, out);
  CHECK(out.empty());
  CHECK(listed(w, open.conn()));
  // Another port is another ring.
  out.clear();
  w = attach(4, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].command().action() == Command::CLOSE);
  CHECK(out[0].command().conn() == open.conn());
  CHECK(out[1].command().action() == Command::OPEN_RING);
  CHECK(out[1].command().ring().remote_port() == 4);
  CHECK_FALSE(listed(w, open.conn()));
  // Nothing of the guests' lifecycle touches it.
  f.domain_states({});
  CHECK(f.err(f.admin(), MsgType::kRelease, args({"0"})) == "EINVAL");
  std::string value;
  CHECK(f.db().get(store::Cf::kConnections, store::keys::connection(out[1].command().conn()),
                   &value));
}

TEST_CASE(
    "GET_FEATURE and SET_FEATURE: the ring features a domain is given, set before INTRODUCE") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  const std::string all = std::to_string(store::kSupportedFeatures);
  // Any caller's own features; for a socket, everything dxs supports.
  CHECK(f.ok(dom0, MsgType::kGetFeature, "") == args({all}));
  CHECK(f.ok(dom0, MsgType::kGetFeature, args({"9"})) == args({all}));

  // Fewer features for domain 8, before it is introduced: its ring is told to advertise
  // only those.
  CHECK(f.ok(dom0, MsgType::kSetFeature, args({"8", "2"})) == args({"OK"}));
  CHECK(f.ok(dom0, MsgType::kGetFeature, args({"8"})) == args({"2"}));
  const uint64_t g8 = f.open_domain(8);
  auto cmds = f.commands(g8);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].features() == 2);
  CHECK(f.ok(g8, MsgType::kGetFeature, "") == args({"2"}));
  // Too late once introduced (C xenstored: EBUSY).
  CHECK(f.err(dom0, MsgType::kSetFeature, args({"8", "3"})) == "EBUSY");

  // A domain never configured gets everything.
  const uint64_t g7 = f.open_domain(7);
  CHECK(f.commands(g7)[0].features() == store::kSupportedFeatures);
  CHECK(f.ok(g7, MsgType::kGetFeature, "") == args({all}));

  // Refused: another domain's features for a guest, SET_FEATURE for a guest, bits dxs
  // does not support, numbers that are not.
  CHECK(f.err(g7, MsgType::kGetFeature, args({"8"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kSetFeature, args({"9", "1"})) == "EACCES");
  CHECK(f.err(dom0, MsgType::kSetFeature, args({"9", "4"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kSetFeature, args({"9", "1x"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kSetFeature, args({"x", "1"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kSetFeature, args({"9"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kGetFeature, args({"9", "1"})) == "EINVAL");

  // The choice outlives a restart of the store.
  CHECK(f.ok(dom0, MsgType::kSetFeature, args({"10", "1"})) == args({"OK"}));
  f.restart();
  CHECK(f.ok(f.admin(), MsgType::kGetFeature, args({"10"})) == args({"1"}));
}

TEST_CASE("SET_FEATURE's choice goes with a domain that dies before it is introduced") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  CHECK(f.ok(dom0, MsgType::kSetFeature, args({"8", "1"})) == args({"OK"}));
  // Still there while the domain exists.
  f.domain_states({{8, kRunning}});
  CHECK(f.ok(dom0, MsgType::kGetFeature, args({"8"})) == args({"1"}));
  // Gone with it: a new domain 8 gets the defaults.
  f.domain_states({});
  CHECK(f.ok(dom0, MsgType::kGetFeature, args({"8"})) ==
        args({std::to_string(store::kSupportedFeatures)}));
}
