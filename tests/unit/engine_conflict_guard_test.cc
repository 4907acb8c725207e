// A connection that keeps losing conflicts wins within a bounded number of retries
// (ARCHITECTURE.md section 5; store/conflict_guard.h): after two lost commits in a row
// its next transaction is guarded, and others' changes to what it reads are held back
// until it ends or its hold is over; a guest's guard never holds up dom0.
#include <doctest/doctest.h>

#include "engine_fixture.h"
#include "store/state.h"

using dxs::testing::Answer;
using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
namespace pb = dxs::pb;
using dxs::wire::MsgType;

namespace {

// The replies conn was sent since the last look, as "OK" or the error name.
std::vector<std::string> replies(EngineFixture& f, uint64_t conn) {
  std::vector<std::string> out;
  for (const pb::Outbound& o : f.take_sent(conn)) {
    if (!o.has_reply()) continue;
    Answer a{o.reply().type(), o.reply().payload()};
    out.push_back(a.ok() ? "OK" : a.error());
  }
  return out;
}

// One attempt of `loser`: reads /vm/state, `rival` changes it meanwhile, the commit
// loses.
void lose_once(EngineFixture& f, uint64_t loser, uint64_t rival, int round) {
  uint32_t t = f.start(loser);
  f.read(loser, "/vm/state", t);
  f.write(rival, "/vm/state", "rival " + std::to_string(round));
  f.write(loser, "/vm/mine", "x", t);
  REQUIRE(f.commit(loser, t) == "EAGAIN");
}

// Two dom0 connections; `loser` has lost two commits in a row to `rival`'s writes of
// /vm/state, so its next transaction is guarded.
struct Losing {
  Losing() {
    f.write(rival, "/vm/state", "initial");
    lose_once(f, loser, rival, 1);
    lose_once(f, loser, rival, 2);
  }
  EngineFixture f;
  const uint64_t loser = f.open_socket();
  const uint64_t rival = f.open_socket();
};

std::string memreport_line(EngineFixture& f, std::string_view name) {
  const std::string report = f.ok(f.admin(), MsgType::kControl, args({"memreport"}));
  const size_t at = report.find(std::string(name) + ": ");
  if (at == std::string::npos) return "";
  const size_t from = at + name.size() + 2;
  return report.substr(from, report.find('\n', from) - from);
}

}  // namespace

TEST_CASE("after two lost commits, a transaction commits though others keep writing") {
  Losing losing;
  EngineFixture& f = losing.f;
  const uint64_t loser = losing.loser, rival = losing.rival;

  // The third attempt is guarded: the rival's write of what it read waits.
  uint32_t t = f.start(loser);
  CHECK(f.read(loser, "/vm/state", t) == "rival 2");
  replies(f, rival);
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/vm/state", "rival 3")));
  CHECK(replies(f, rival).empty());
  // What it does not touch goes ahead, for any other connection.
  const uint64_t bystander = f.open_socket();
  f.write(bystander, "/other", "free");
  f.write(loser, "/vm/mine", "won", t);
  // The commit goes first, then the rival's write, in the same batch.
  CHECK(f.commit(loser, t) == "");
  CHECK(f.last_outbound() == std::vector<std::string>{"reply " + std::to_string(loser) + " OK",
                                                      "reply " + std::to_string(rival) + " OK"});
  CHECK(replies(f, rival) == std::vector<std::string>{"OK"});
  CHECK(f.read(bystander, "/vm/mine") == "won");
  CHECK(f.read(bystander, "/vm/state") == "rival 3");
  CHECK(memreport_line(f, "guarded transactions") == "1");
  CHECK(memreport_line(f, "requests held for them") == "1");

  // Won: it counts afresh, and its next transaction is not guarded.
  uint32_t next = f.start(loser);
  f.read(loser, "/vm/state", next);
  f.write(rival, "/vm/state", "rival 4");
  f.write(loser, "/vm/mine", "y", next);
  CHECK(f.commit(loser, next) == "EAGAIN");
}

TEST_CASE("a connection's requests behind a held one wait too, and are answered in order") {
  Losing losing;
  EngineFixture& f = losing.f;
  const uint64_t loser = losing.loser, rival = losing.rival;
  uint32_t t = f.start(loser);
  f.read(loser, "/vm/state", t);
  f.set_report_delivered(false);  // the rival's replies are not delivered meanwhile
  replies(f, rival);
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/vm/state", "held")));
  CHECK_FALSE(f.submit(rival, MsgType::kRead, args({"/vm/state"})));
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/elsewhere", "after")));
  CHECK(replies(f, rival).empty());
  CHECK(f.err(loser, MsgType::kRead, args({"/elsewhere"})) == "ENOENT");
  CHECK(f.commit(loser, t) == "");
  std::vector<std::string> got;
  for (const pb::Outbound& o : f.take_sent(rival)) {
    if (o.has_reply()) got.push_back(o.reply().payload());
  }
  CHECK(got == std::vector<std::string>{std::string("OK\0", 3), std::string("held"),
                                        std::string("OK\0", 3)});
}

TEST_CASE("a guard's hold ends by itself, and a guard is paid for by a lost commit") {
  Losing losing;
  EngineFixture& f = losing.f;
  const uint64_t loser = losing.loser, rival = losing.rival;
  uint32_t t = f.start(loser);
  f.read(loser, "/vm/state", t);
  replies(f, rival);
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/vm/state", "late")));
  CHECK(f.engine().hold_deadline().has_value());
  // Before its time nothing moves; after it, the write is applied and answered.
  f.lift_holds(dxs::store::steady_ns());
  CHECK(replies(f, rival).empty());
  f.lift_holds(*f.engine().hold_deadline());
  CHECK(replies(f, rival) == std::vector<std::string>{"OK"});
  CHECK_FALSE(f.engine().hold_deadline().has_value());
  f.write(loser, "/vm/mine", "x", t);
  CHECK(f.commit(loser, t) == "EAGAIN");

  // That loss arms a guard for the next attempt; abandoning it spends it: the attempt
  // after that is not guarded until it loses again.
  uint32_t abandoned = f.start(loser);
  f.read(loser, "/vm/state", abandoned);
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/vm/state", "held again")));
  CHECK(f.ok(loser, MsgType::kTransactionEnd, args({"F"}), abandoned) == std::string("OK\0", 3));
  CHECK(replies(f, rival) == std::vector<std::string>{"OK"});
  uint32_t unguarded = f.start(loser);
  f.read(loser, "/vm/state", unguarded);
  f.write(rival, "/vm/state", "not held");
  f.ok(loser, MsgType::kTransactionEnd, args({"F"}), unguarded);
}

TEST_CASE("a guest's guard holds up other guests, never dom0") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  const uint64_t guest = f.open_domain(7);
  const uint64_t other = f.open_domain(8);
  f.write(dom0, "/local/domain/7/shared", "0");
  f.set_perms(dom0, "/local/domain/7", {"n7"});
  f.set_perms(dom0, "/local/domain/7/shared", {"n7", "b8"});
  for (int round = 1; round <= 2; ++round) {
    uint32_t t = f.start(guest);
    f.read(guest, "shared", t);
    f.write(other, "/local/domain/7/shared", std::to_string(round));
    f.write(guest, "mine", "x", t);
    REQUIRE(f.commit(guest, t) == "EAGAIN");
  }
  uint32_t t = f.start(guest);
  f.read(guest, "shared", t);
  // dom0 is never held for a guest; the other guest is.
  f.write(dom0, "/local/domain/7/shared", "dom0");
  replies(f, other);
  CHECK_FALSE(f.submit(other, MsgType::kWrite, write_payload("/local/domain/7/shared", "8")));
  f.write(guest, "mine", "x", t);
  CHECK(f.commit(guest, t) == "EAGAIN");  // dom0's write went through
  CHECK(replies(f, other) == std::vector<std::string>{"OK"});
  CHECK(f.read(dom0, "/local/domain/7/shared") == "8");
}

TEST_CASE("a connection that goes away takes what it had held with it") {
  Losing losing;
  EngineFixture& f = losing.f;
  const uint64_t loser = losing.loser, rival = losing.rival;
  uint32_t t = f.start(loser);
  f.read(loser, "/vm/state", t);
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/vm/state", "dropped")));
  f.close(rival);
  // The guarded connection goes too: nothing is held any more.
  f.close(loser);
  CHECK_FALSE(f.engine().hold_deadline().has_value());
  const uint64_t later = f.open_socket();
  CHECK(f.read(later, "/vm/state") == "rival 2");
}

TEST_CASE("a store restarted with requests held applies them when the frontend sends them again") {
  Losing losing;
  EngineFixture& f = losing.f;
  const uint64_t loser = losing.loser, rival = losing.rival;
  uint32_t t = f.start(loser);
  f.read(loser, "/vm/state", t);
  CHECK_FALSE(f.submit(rival, MsgType::kWrite, write_payload("/vm/state", "re-sent")));
  const uint64_t seq = f.last_seq(rival);
  f.restart();
  // Nothing was applied; the restarted store counts losses afresh and holds nothing.
  std::optional<Answer> again =
      f.resend(rival, seq, MsgType::kWrite, write_payload("/vm/state", "re-sent"));
  REQUIRE(again.has_value());
  CHECK(again->ok());
  CHECK(f.read(rival, "/vm/state") == "re-sent");
  f.write(loser, "/vm/mine", "x", t);
  CHECK(f.commit(loser, t) == "EAGAIN");
}
