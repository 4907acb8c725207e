// ConnectionTable: connection records in cf connections, written once per batch, and
// their queued events.
#include "store/connection.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::TempDb;

namespace {

pb::ConnectionRecord record(uint64_t id, uint32_t domid) {
  pb::ConnectionRecord r;
  r.set_id(id);
  r.set_kind(domid == 0 ? pb::SOCKET : pb::RING);
  r.set_domid(domid);
  r.set_next_tx_id(1);
  return r;
}

size_t keys_with_prefix(Db& db, Cf c, const std::string& prefix) {
  size_t n = 0;
  auto it = db.iterate(c, prefix);
  for (it->Seek(prefix); it->Valid() && keys::starts_with(it->key(), prefix); it->Next()) ++n;
  return n;
}

}  // namespace

TEST_CASE("add, find, for_each and size") {
  ConnectionTable table;
  CHECK(table.find(1) == nullptr);
  table.add(record(5, 7));
  table.add(record(2, 0));
  Connection* c = table.find(5);
  REQUIRE(c != nullptr);
  CHECK(c->record.domid() == 7);
  CHECK(table.size() == 2);
  std::vector<uint64_t> ids;
  table.for_each([&](Connection& x) { ids.push_back(x.record.id()); });
  CHECK(ids == std::vector<uint64_t>{2, 5});

  // Adding an id again replaces the connection and what was derived for it.
  c->open_transactions = 3;
  c->sent_event_id = 9;
  Connection& again = table.add(record(5, 8));
  CHECK(again.record.domid() == 8);
  CHECK(again.open_transactions == 0);
  CHECK(again.sent_event_id == 0);
  CHECK(table.size() == 2);
}

TEST_CASE("flush writes each changed record once per batch, with its last state") {
  TempDb t;
  WriteSet ws(t.db());
  ConnectionTable table;
  Connection& c = table.add(record(1, 7));
  table.add(record(2, 8));
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    c.record.set_applied_seq(seq);
    table.save(c);
  }
  uint64_t before = t.last_sequence();
  table.flush(ws, 0);
  ws.commit();
  CHECK(t.last_sequence() - before == 2);

  std::string v;
  pb::ConnectionRecord r;
  REQUIRE(t.db().get(Cf::kConnections, keys::connection(1), &v));
  REQUIRE(r.ParseFromString(v));
  CHECK(r.applied_seq() == 3);

  // Nothing changed since: nothing written.
  before = t.last_sequence();
  table.flush(ws, 0);
  CHECK(ws.empty());
  ws.commit();
  CHECK(t.last_sequence() == before);
}

TEST_CASE("load after reopen restores the records; sent events restart at the acknowledged") {
  TempDb t;
  {
    WriteSet ws(t.db());
    ConnectionTable table;
    pb::ConnectionRecord r = record(3, 7);
    r.set_next_event_id(10);
    r.set_acked_event_id(6);
    r.set_applied_seq(4);
    pb::ReplyRecord* reply = r.add_replies();
    reply->set_seq(4);
    reply->set_payload("OK");
    Connection& c = table.add(r);
    c.sent_event_id = 9;
    c.open_transactions = 2;
    table.add(record(4, 0));
    table.flush(ws, 0);
    ws.commit();
    table.add(record(5, 0));  // never flushed
  }
  t.reopen();
  ConnectionTable table;
  CHECK(table.load(t.db()) == 2);
  CHECK(table.find(5) == nullptr);
  Connection* c = table.find(3);
  REQUIRE(c != nullptr);
  CHECK(c->record.domid() == 7);
  CHECK(c->record.kind() == pb::RING);
  CHECK(c->record.applied_seq() == 4);
  CHECK(c->record.next_event_id() == 10);
  REQUIRE(c->record.replies_size() == 1);
  CHECK(c->record.replies(0).payload() == "OK");
  // Everything not acknowledged is sent again; derived counts start from zero.
  CHECK(c->sent_event_id == 6);
  CHECK(c->open_transactions == 0);
  CHECK(c->held.empty());
}

TEST_CASE("remove forgets the record and its queued events, not another connection's") {
  TempDb t;
  WriteSet ws(t.db());
  ConnectionTable table;
  for (uint64_t id : {1ull, 2ull, 256ull}) {
    table.add(record(id, 7));
    for (uint64_t e = 1; e <= 3; ++e) ws.put(Cf::kEvents, keys::event(id, e), "event");
  }
  table.flush(ws, 0);
  ws.commit();

  Connection* c = table.find(1);
  REQUIRE(c != nullptr);
  table.save(*c);  // a pending write must not bring the record back
  table.remove(ws, 1);
  CHECK(table.find(1) == nullptr);
  CHECK(table.size() == 2);
  table.flush(ws, 0);
  ws.commit();
  std::string v;
  CHECK_FALSE(t.db().get(Cf::kConnections, keys::connection(1), &v));
  CHECK(keys_with_prefix(t.db(), Cf::kEvents, keys::connection(1)) == 0);
  for (uint64_t id : {2ull, 256ull}) {
    CHECK(t.db().get(Cf::kConnections, keys::connection(id), &v));
    CHECK(keys_with_prefix(t.db(), Cf::kEvents, keys::connection(id)) == 3);
  }
  ConnectionTable loaded;
  CHECK(loaded.load(t.db()) == 2);
}
