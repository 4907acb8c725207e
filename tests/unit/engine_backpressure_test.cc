// A watcher far behind holds up the connections whose changes feed it, until it catches
// up or the hold is over (ARCHITECTURE.md section 5; store/backpressure.h); a guest
// watcher never holds up dom0.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine_fixture.h"
#include "store/state.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
namespace pb = dxs::pb;
using dxs::wire::MsgType;

namespace {

constexpr uint64_t kBehind = 4;

dxs::store::EngineOptions four_behind() {
  dxs::store::EngineOptions options;
  options.backpressure.behind = kBehind;
  return options;
}

// The payloads of the replies conn was sent since the last look.
std::vector<std::string> replies(EngineFixture& f, uint64_t conn) {
  std::vector<std::string> out;
  for (const pb::Outbound& o : f.take_sent(conn)) {
    if (o.has_reply()) out.push_back(o.reply().payload());
  }
  return out;
}

const std::string kOk("OK\0", 3);

std::string memreport_line(EngineFixture& f, std::string_view name) {
  const std::string report = f.ok(f.admin(), MsgType::kControl, args({"memreport"}));
  const size_t at = report.find(std::string(name) + ": ");
  if (at == std::string::npos) return "";
  const size_t from = at + name.size() + 2;
  return report.substr(from, report.find('\n', from) - from);
}

// A dom0 watcher of /vm that reads nothing, and a writer that has fed it kBehind events:
// the writer is held from its next request on.
struct Behind {
  Behind() {
    f.set_auto_ack(slow, false);
    f.ok(slow, MsgType::kWatch, args({"/vm", "slow"}));
    for (uint64_t i = 0; i + 1 < kBehind; ++i) f.write(writer, "/vm/k", std::to_string(i));
    // Its first event, the WATCH's own, counts too: kBehind unacknowledged now.
    replies(f, writer);
  }
  EngineFixture f{four_behind()};
  const uint64_t slow = f.open_socket();
  const uint64_t writer = f.open_socket();
};

}  // namespace

TEST_CASE("a writer feeding a watcher far behind waits until it catches up") {
  Behind b;
  EngineFixture& f = b.f;
  // The request that finds the watcher behind is answered; the writer's next ones wait,
  // whatever they are, in order.
  f.set_report_delivered(false);
  CHECK_FALSE(f.submit(b.writer, MsgType::kWrite, write_payload("/vm/k", "held")));
  CHECK_FALSE(f.submit(b.writer, MsgType::kRead, args({"/vm/k"})));
  CHECK(replies(f, b.writer).empty());
  // Anyone else goes on: one writing elsewhere, or reading what the writer wrote.
  const uint64_t bystander = f.open_socket();
  f.write(bystander, "/elsewhere", "free");
  CHECK(f.read(bystander, "/vm/k") == std::to_string(kBehind - 2));
  CHECK(f.engine().hold_deadline().has_value());
  CHECK(memreport_line(f, "writers held for a watcher behind") == "1");

  // The watcher reads: the writer's requests are applied and answered in that batch.
  f.ack_all(b.slow);
  CHECK(replies(f, b.writer) == std::vector<std::string>{kOk, "held"});
  CHECK(f.read(bystander, "/vm/k") == "held");
  CHECK_FALSE(f.engine().hold_deadline().has_value());
  // Every event reached the watcher, none dropped.
  f.set_auto_ack(b.slow, true);
  f.ack_all(b.slow);
  CHECK(f.events(b.slow) == std::vector<std::string>{"/vm|slow", "/vm/k|slow", "/vm/k|slow",
                                                     "/vm/k|slow", "/vm/k|slow"});
}

TEST_CASE("a watcher that never reads holds its writer to one request per hold") {
  Behind b;
  EngineFixture& f = b.f;
  CHECK_FALSE(f.submit(b.writer, MsgType::kWrite, write_payload("/vm/k", "late")));
  const auto deadline = f.engine().hold_deadline();
  REQUIRE(deadline.has_value());
  // Before its time nothing moves; after it, the write is applied and answered.
  f.lift_holds(*deadline - 1);
  CHECK(replies(f, b.writer).empty());
  f.lift_holds(*deadline);
  CHECK(replies(f, b.writer) == std::vector<std::string>{kOk});
  // That write fed the watcher again: held again.
  CHECK(f.engine().hold_deadline().has_value());
  CHECK_FALSE(f.submit(b.writer, MsgType::kWrite, write_payload("/vm/k", "later")));
  // The watcher goes away: so does the hold.
  f.close(b.slow);
  CHECK(replies(f, b.writer) == std::vector<std::string>{kOk});
  CHECK_FALSE(f.engine().hold_deadline().has_value());
  f.write(b.writer, "/vm/k", "free again");
}

TEST_CASE("a guest watcher far behind holds up other guests, never dom0") {
  EngineFixture f(four_behind());
  const uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  REQUIRE(f.introduce(8) == "");
  f.ok(dom0, MsgType::kMkdir, args({"/local/domain/7/shared"}));
  f.set_perms(dom0, "/local/domain/7/shared", {"n7", "b8"});
  const uint64_t watcher = f.open_domain(7);
  const uint64_t guest = f.open_domain(8);
  f.ok(watcher, MsgType::kWatch, args({"/local/domain/7/shared", "w"}));
  f.set_auto_ack(watcher, false);

  // dom0 feeds it far past kBehind and is never held.
  for (int i = 0; i < 10; ++i) f.write(dom0, "/local/domain/7/shared/x", std::to_string(i));
  CHECK_FALSE(f.engine().hold_deadline().has_value());
  // Another guest's change that it hears of is held up.
  replies(f, guest);
  CHECK(f.submit(guest, MsgType::kWrite, write_payload("/local/domain/7/shared/y", "1")));
  CHECK_FALSE(f.submit(guest, MsgType::kWrite, write_payload("/local/domain/7/shared/y", "2")));
  CHECK(f.engine().hold_deadline().has_value());
  // dom0 still goes on meanwhile.
  f.write(dom0, "/local/domain/7/shared/x", "dom0");
  f.ack_all(watcher);
  CHECK(replies(f, guest).size() == 2);
  CHECK(f.read(dom0, "/local/domain/7/shared/y") == "2");
}

TEST_CASE("a restarted store holds nobody; the frontend's re-sent request is applied once") {
  Behind b;
  EngineFixture& f = b.f;
  f.set_report_delivered(false);
  CHECK_FALSE(f.submit(b.writer, MsgType::kWrite, write_payload("/vm/k", "held")));
  const uint64_t seq = f.last_seq(b.writer);
  f.restart();
  std::vector<pb::Outbound> out;
  REQUIRE(f.engine().hello(pb::Hello{}, out).is_ok());
  CHECK_FALSE(f.engine().hold_deadline().has_value());
  // Sent again, it is applied; but it fed the watcher still behind, so the writer's
  // next waits again.
  const auto again = f.resend(b.writer, seq, MsgType::kWrite, write_payload("/vm/k", "held"));
  REQUIRE(again.has_value());
  CHECK(again->ok());
  CHECK(f.read(f.open_socket(), "/vm/k") == "held");
  CHECK(f.engine().hold_deadline().has_value());
}
