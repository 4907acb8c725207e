// store/event_log: watch events are durable at the cost of one record per group commit,
// an acknowledgement costs no write of its own, and a restarted store still sends every
// unacknowledged event once, in order, in its place, however far the log was trimmed.
// (Counting RocksDB's sequence numbers, one per key written, is how the cost is seen.)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine_fixture.h"
#include "store/delivery.h"
#include "store/event_log.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;
namespace pb = dxs::pb;
namespace store = dxs::store;

namespace {

size_t keys_with_prefix(EngineFixture& f, const std::string& prefix) {
  size_t n = 0;
  auto it = f.db().iterate(store::Cf::kEvents);
  for (it->Seek(prefix); it->Valid() && store::keys::starts_with(it->key(), prefix); it->Next())
    ++n;
  return n;
}

size_t log_records(EngineFixture& f) {
  return keys_with_prefix(f, store::keys::events_of(0));
}

void ack(EngineFixture& f, uint64_t conn, uint64_t upto) {
  pb::Inbound item;
  item.mutable_event_ack()->set_conn(conn);
  item.mutable_event_ack()->set_event_id(upto);
  f.inbound(item);
}

// A new frontend attaches: what it is sent for conn.
std::vector<pb::Outbound> attach(EngineFixture& f, uint64_t conn) {
  std::vector<pb::Outbound> out;
  REQUIRE(f.engine().hello(pb::Hello{}, out).is_ok());
  std::vector<pb::Outbound> mine;
  for (pb::Outbound& o : out) {
    if ((o.has_event() && o.event().conn() == conn) || (o.has_reply() && o.reply().conn() == conn))
      mine.push_back(std::move(o));
  }
  return mine;
}

// Operations in RocksDB's sequence since `before`: one per key put or deleted.
uint64_t writes_since(EngineFixture& f, uint64_t before) {
  return f.db().raw()->GetLatestSequenceNumber() - before;
}

}  // namespace

TEST_CASE("a store restart sends every unacknowledged event once, in order, log trimmed or not") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  const uint64_t stuck = f.open_socket();
  const uint64_t reader = f.open_socket();
  f.set_auto_ack(stuck, false);
  f.ok(stuck, MsgType::kWatch, args({"/w", "s"}));  // event 1
  f.ok(reader, MsgType::kWatch, args({"/w", "r"}));
  const uint64_t writes = 3 * store::EventLog::kLogBatches;
  for (uint64_t i = 0; i < writes; ++i) f.write(dom0, "/w/k" + std::to_string(i), "");
  // The log keeps a bounded number of batches; the stuck watcher's older events moved
  // into records of their own, the reader's (all acknowledged) went with their batches.
  CHECK(log_records(f) <= store::EventLog::kLogBatches);
  CHECK(keys_with_prefix(f, store::keys::events_of(stuck)) > 0);
  CHECK(keys_with_prefix(f, store::keys::events_of(reader)) == 0);
  ack(f, stuck, 10);
  f.take_sent(stuck);
  const std::vector<std::string> reader_before = f.events(reader);

  f.restart();
  std::vector<pb::Outbound> got = attach(f, stuck);
  CHECK(got.size() == store::kEventWindow);
  CHECK(attach(f, reader).empty());  // acknowledged, so never again
  got = attach(f, stuck);            // a frontend attaching again: the same window again
  REQUIRE(got.size() == store::kEventWindow);
  uint64_t last = 10;
  while (!got.empty()) {
    for (const pb::Outbound& o : got) {
      REQUIRE(o.has_event());
      CHECK(o.event().event_id() == last + 1);
      CHECK(o.event().path() == "/w/k" + std::to_string(o.event().event_id() - 2));
      CHECK(o.event().token() == "s");
      last = o.event().event_id();
    }
    ack(f, stuck, last);
    got = f.take_sent(stuck);
  }
  CHECK(last == writes + 1);
  // Nothing of it is kept once acknowledged, and ids go on from where they were.
  CHECK(keys_with_prefix(f, store::keys::events_of(stuck)) == 0);
  f.write(dom0, "/w/after", "");
  const std::vector<pb::Outbound> next = f.take_sent(stuck);
  REQUIRE(next.size() == 1);
  CHECK(next[0].event().event_id() == writes + 2);
  CHECK(f.events(reader) == std::vector<std::string>{"/w/after|r"});
  ack(f, stuck, writes + 2);
  f.restart();
  CHECK(attach(f, stuck).empty());
  CHECK(attach(f, reader).empty());
}

TEST_CASE("an event costs no write of its own, and a batch of acknowledgements one write") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.write(dom0, "/w/k", "0");
  std::vector<uint64_t> watchers;
  for (int i = 0; i < 20; ++i) {
    watchers.push_back(f.open_socket());
    f.set_auto_ack(watchers.back(), false);
    f.ok(watchers.back(), MsgType::kWatch, args({"/w", "t"}));
  }
  for (uint64_t w : watchers) {
    f.ack_all(w);
    f.events(w);  // the WATCH's first
  }
  // A write that fires 20 events: the node, its version, the commit, the dom0
  // connection's record and the batch's log record, whatever the number of watchers.
  uint64_t before = f.db().raw()->GetLatestSequenceNumber();
  f.write(dom0, "/w/k", "1");
  const uint64_t write_ops = writes_since(f, before);
  CHECK(write_ops < 20);
  for (uint64_t w : watchers) CHECK(f.events(w) == std::vector<std::string>{"/w/k|t"});
  // Their 20 acknowledgements in one batch: one log record.
  google::protobuf::RepeatedPtrField<pb::Inbound> acks;
  for (uint64_t w : watchers) {
    pb::EventAck* a = acks.Add()->mutable_event_ack();
    a->set_conn(w);
    a->set_event_id(2);
  }
  std::vector<pb::Outbound> out;
  before = f.db().raw()->GetLatestSequenceNumber();
  f.engine().apply(acks, out);
  CHECK(writes_since(f, before) == 1);
  // And they hold across a restart: nothing is sent again.
  f.restart();
  for (uint64_t w : watchers) CHECK(attach(f, w).empty());
}

TEST_CASE("a ring's place in its stream is recovered from the log its record lags behind") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.write(dom0, "/local/domain/7", "v");
  f.set_perms(dom0, "/local/domain/7", {"n7"});
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.take_sent(g7);
  f.set_auto_ack(g7, false);
  // Events only: the guest's record is not written for them.
  for (int i = 0; i < 3; ++i) f.write(dom0, "/local/domain/7/n" + std::to_string(i), "");
  const std::vector<pb::Outbound> before = f.take_sent(g7);
  REQUIRE(before.size() == 3);
  f.restart();
  const std::vector<pb::Outbound> again = attach(f, g7);
  REQUIRE(again.size() == 3);
  for (size_t i = 0; i < again.size(); ++i) {
    CHECK(again[i].event().event_id() == before[i].event().event_id());
    CHECK(again[i].event().rsp_end() == before[i].event().rsp_end());
  }
  ack(f, g7, before.back().event().event_id());
  f.take_sent(g7);
  f.read(g7, "/local/domain/7");
  const std::vector<pb::Outbound> reply = f.take_sent(g7);
  REQUIRE(reply.size() == 1);
  REQUIRE(reply[0].has_reply());
  CHECK(reply[0].reply().rsp_end() == before.back().event().rsp_end() + 16 + 1);
}

TEST_CASE("a connection that goes no longer holds the log, nor leaves events behind") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  const uint64_t stuck = f.open_socket();
  f.set_auto_ack(stuck, false);
  f.ok(stuck, MsgType::kWatch, args({"/w", "s"}));
  for (uint64_t i = 0; i < store::EventLog::kLogBatches; ++i) f.write(dom0, "/w/k", "");
  f.close(stuck);
  for (uint64_t i = 0; i < 2 * store::EventLog::kLogBatches; ++i) f.write(dom0, "/w/k", "");
  CHECK(log_records(f) <= store::EventLog::kLogBatches);
  CHECK(keys_with_prefix(f, store::keys::events_of(stuck)) == 0);
}

TEST_CASE("a guest that reads nothing keeps its backlog and its quota across a restart") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  f.write(dom0, "/local/domain/7", "");
  f.set_perms(dom0, "/local/domain/7", {"n7"});
  const uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7", "w"}));
  f.events(g7);
  f.set_auto_ack(g7, false);
  // 1030 changes: the guest keeps 1024 undelivered (the watch-events quota).
  auto path = [](int i) { return "/local/domain/7/n" + std::to_string(i % 10); };
  for (int i = 0; i < 1030; ++i) f.write(dom0, path(i), std::to_string(i));
  CHECK(f.refusals(7, "watch-events") == 6);
  f.take_sent(g7);
  f.restart();
  // Still 1024 undelivered: the next is dropped too.
  f.write(dom0, path(0), "after");
  CHECK(f.refusals(7, "watch-events") == 7);
  std::vector<pb::Outbound> got = attach(f, g7);
  std::vector<std::string> paths;
  while (!got.empty()) {
    for (const pb::Outbound& o : got) {
      REQUIRE(o.has_event());
      paths.push_back(o.event().path());
    }
    ack(f, g7, got.back().event().event_id());
    got = f.take_sent(g7);
  }
  REQUIRE(paths.size() == 1024);
  for (int i = 0; i < 1024; ++i) CHECK(paths[i] == path(i));
  // Read, the guest hears of changes again.
  f.write(dom0, path(3), "later");
  const std::vector<pb::Outbound> next = f.take_sent(g7);
  REQUIRE(next.size() == 1);
  CHECK(next[0].event().path() == path(3));
  CHECK(keys_with_prefix(f, store::keys::events_of(g7)) == 0);
}
