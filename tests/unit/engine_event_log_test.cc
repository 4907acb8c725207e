// store/event_log: watch events are durable at the cost of one record per group commit,
// an acknowledgement costs no write of its own, and a restarted store still sends every
// unacknowledged event once, in order, in its place, however far the log was trimmed;
// a watcher that never reads costs a batch a bounded number of operations (its events
// leave the log in one chunk per drop), and a database with per-event records loads.
// (Counting RocksDB's sequence numbers, one per key written, is how the cost is seen.)
#include <doctest/doctest.h>

#include <algorithm>
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

// The log's own bounds, with writers that a watcher far behind does not hold up
// (backpressure.h): what a stuck watcher costs the log however fast it is fed.
store::EngineOptions unheld_writers() {
  store::EngineOptions options;
  options.backpressure.behind = 0;
  return options;
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

namespace {

// A watcher with `watches` watches on /w that never reads: each write below /w queues
// `watches` events for it, and its first 64 are with the frontend, never acknowledged.
uint64_t stuck_watcher(EngineFixture& f, int watches) {
  const uint64_t stuck = f.open_socket();
  f.set_auto_ack(stuck, false);
  for (int w = 0; w < watches; ++w)
    f.ok(stuck, MsgType::kWatch, args({"/w", "t" + std::to_string(w)}));
  return stuck;
}

// What take_sent() or attach() gave, without the replies (the WATCHes' own).
std::vector<pb::Outbound> events_only(std::vector<pb::Outbound> sent) {
  std::erase_if(sent, [](const pb::Outbound& o) { return !o.has_event(); });
  return sent;
}

// The path event `id` of stuck_watcher() has: its WATCHes' first events, then
// `watches` for each write i of "/w/k<i>".
std::string path_of_event(uint64_t id, int watches) {
  const uint64_t w = static_cast<uint64_t>(watches);
  return id <= w ? "/w" : "/w/k" + std::to_string((id - w - 1) / w);
}

// Delivers conn's events from `got` on, acknowledging each window, until none is left,
// checking that they come in order from `from`, with their paths; calls between(last)
// after each acknowledgement. Returns the last id.
template <typename Between>
uint64_t deliver_all(EngineFixture& f, uint64_t conn, std::vector<pb::Outbound> got, uint64_t from,
                     int watches, Between between) {
  uint64_t last = from - 1;
  while (!got.empty()) {
    for (const pb::Outbound& o : got) {
      REQUIRE(o.has_event());
      REQUIRE(o.event().event_id() == last + 1);
      CHECK(o.event().path() == path_of_event(o.event().event_id(), watches));
      last = o.event().event_id();
    }
    ack(f, conn, last);
    between(last);
    got = events_only(f.take_sent(conn));
  }
  return last;
}

}  // namespace

TEST_CASE("a watcher that never reads costs each batch a bounded number of operations") {
  EngineFixture f(unheld_writers());
  const uint64_t dom0 = f.admin();
  constexpr int kWatches = 8;
  const uint64_t stuck = stuck_watcher(f, kWatches);
  const uint64_t writes = 4 * store::EventLog::kLogBatches;
  uint64_t most_writes = 0;
  uint64_t most_ops = 0;
  for (uint64_t i = 0; i < writes; ++i) {
    const store::DbOpCounts before = f.engine().db_ops();
    f.write(dom0, "/w/k" + std::to_string(i), "");
    const store::DbOpCounts& after = f.engine().db_ops();
    most_writes = std::max(most_writes, after.writes - before.writes);
    most_ops = std::max(most_ops, after.total() - before.total());
  }
  // A batch that lets the oldest half of the log go deletes its records (and reads
  // them): 32 of each, and one chunk for the 256 events the watcher still has in them.
  // Anything per event would be 256 more.
  MESSAGE("at most ", most_writes, " writes and ", most_ops, " operations in a batch");
  CHECK(most_writes <= store::EventLog::kLogBatches);
  CHECK(most_ops <= 2 * store::EventLog::kLogBatches);
  CHECK(log_records(f) <= store::EventLog::kLogBatches);
  // One chunk per drop: at most one every kLogBatches / 2 batches.
  const size_t chunks = keys_with_prefix(f, store::keys::events_of(stuck));
  MESSAGE(chunks, " chunks");
  CHECK(chunks >= 2);
  CHECK(chunks <= writes / (store::EventLog::kLogBatches / 2));

  // Read at last: every event, in order, and a chunk goes with its last acknowledgement,
  // not all of them at the end. (The acknowledgements fill the log too, and its drops
  // chunk what the watcher has left in it.) A window costs a chunk's read, not one per
  // event.
  const uint64_t total = kWatches + writes * kWatches;
  size_t before_ack = chunks;
  bool deleted_early = false;
  const uint64_t reads_before = f.engine().db_ops().reads;
  const uint64_t last =
      deliver_all(f, stuck, events_only(f.take_sent(stuck)), 1, kWatches, [&](uint64_t acked) {
        const size_t now = keys_with_prefix(f, store::keys::events_of(stuck));
        if (now < before_ack && acked < total) deleted_early = true;
        before_ack = now;
      });
  const uint64_t reads = f.engine().db_ops().reads - reads_before;
  CHECK(last == total);
  CHECK(deleted_early);
  CHECK(keys_with_prefix(f, store::keys::events_of(stuck)) == 0);
  MESSAGE("reads ", reads, " for ", total, " events");
  CHECK(reads < total / 8);
  f.restart();
  CHECK(attach(f, stuck).empty());
}

TEST_CASE("a store restarted while a watcher's events are in chunks loses none of them") {
  EngineFixture f(unheld_writers());
  const uint64_t dom0 = f.admin();
  constexpr int kWatches = 4;
  const uint64_t stuck = stuck_watcher(f, kWatches);
  uint64_t written = 0;
  auto write = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i, ++written) f.write(dom0, "/w/k" + std::to_string(written), "");
  };
  write(3 * store::EventLog::kLogBatches);
  REQUIRE(keys_with_prefix(f, store::keys::events_of(stuck)) > 0);
  std::vector<pb::Outbound> window = events_only(f.take_sent(stuck));
  REQUIRE(window.size() == store::kEventWindow);
  ack(f, stuck, window.back().event().event_id());
  window = events_only(f.take_sent(stuck));
  REQUIRE(window.size() == store::kEventWindow);
  // Acknowledged into the middle of the first chunk (ids 1 to 116, the first 32 batches):
  // it stays, for the rest of it.
  ack(f, stuck, 100);
  f.take_sent(stuck);

  f.restart();
  std::vector<pb::Outbound> got = attach(f, stuck);
  REQUIRE(got.size() == store::kEventWindow);
  CHECK(got.front().event().event_id() == 101);
  // More events after the restart, into the log and its drops, then some read.
  write(2 * store::EventLog::kLogBatches);
  ack(f, stuck, got.back().event().event_id());
  const uint64_t acked = got.back().event().event_id();
  f.take_sent(stuck);

  f.restart();
  got = attach(f, stuck);
  REQUIRE(!got.empty());
  CHECK(got.front().event().event_id() == acked + 1);
  const uint64_t last = deliver_all(f, stuck, std::move(got), acked + 1, kWatches, [](uint64_t) {});
  CHECK(last == kWatches + written * kWatches);
  CHECK(keys_with_prefix(f, store::keys::events_of(stuck)) == 0);
  f.restart();
  CHECK(attach(f, stuck).empty());
}

TEST_CASE("events a store before the chunks moved into records of their own are delivered") {
  EngineFixture f;
  const uint64_t dom0 = f.admin();
  constexpr int kWatches = 4;
  const uint64_t stuck = stuck_watcher(f, kWatches);
  const uint64_t writes = 3 * store::EventLog::kLogBatches;
  for (uint64_t i = 0; i < writes; ++i) f.write(dom0, "/w/k" + std::to_string(i), "");
  f.take_sent(stuck);
  // The first chunk as the store before wrote it: an EventRecord for each event. The
  // others stay chunks, as a newer store goes on from such a database.
  {
    std::vector<std::pair<std::string, pb::EventChunk>> chunks;
    auto it = f.db().iterate(store::Cf::kEvents);
    const std::string prefix = store::keys::events_of(stuck);
    for (it->Seek(prefix); it->Valid() && store::keys::starts_with(it->key(), prefix); it->Next()) {
      pb::EventChunk chunk;
      REQUIRE(chunk.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
      REQUIRE(chunk.events_size() > 0);
      chunks.emplace_back(it->key().ToString(), std::move(chunk));
    }
    REQUIRE(chunks.size() >= 2);
    store::WriteSet ws(f.db());
    ws.del(store::Cf::kEvents, chunks.front().first);
    for (const pb::EventChunk::Event& e : chunks.front().second.events()) {
      pb::EventRecord own;
      own.set_path(e.path());
      own.set_token(e.token());
      own.set_rsp_end(e.rsp_end());
      ws.put_record(store::Cf::kEvents, store::keys::event(stuck, e.event_id()), own);
    }
    ws.commit();
  }
  f.restart();
  const uint64_t last = deliver_all(f, stuck, attach(f, stuck), 1, kWatches, [](uint64_t) {});
  CHECK(last == kWatches + writes * kWatches);
  CHECK(keys_with_prefix(f, store::keys::events_of(stuck)) == 0);
}
