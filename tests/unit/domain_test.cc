// DomainTable: domain records in cf domains.
#include "store/domain.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "temp_db.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::TempDb;

TEST_CASE("get_or_create, find, is_introduced; dom0 is always introduced") {
  DomainTable table;
  CHECK(table.find(7) == nullptr);
  CHECK(table.is_introduced(0));
  CHECK_FALSE(table.is_introduced(7));
  pb::DomainRecord& d = table.get_or_create(7);
  CHECK(d.domid() == 7);
  CHECK_FALSE(table.is_introduced(7));
  d.set_node_count(4);
  CHECK(&table.get_or_create(7) == &d);  // an existing record is returned, not reset
  CHECK(table.get_or_create(7).node_count() == 4);
  d.set_introduced(true);
  CHECK(table.is_introduced(7));
  CHECK(table.find(7) == &d);
  CHECK(table.find(0) == nullptr);
  CHECK(table.is_introduced(0));

  table.get_or_create(300);
  table.get_or_create(2);
  std::vector<uint32_t> ids;
  table.for_each([&](pb::DomainRecord& r) { ids.push_back(r.domid()); });
  CHECK(ids == std::vector<uint32_t>{2, 7, 300});
}

TEST_CASE("load after reopen restores what was saved, and only that") {
  TempDb t;
  {
    WriteSet ws(t.db());
    DomainTable table;
    pb::DomainRecord& d = table.get_or_create(7);
    d.set_introduced(true);
    d.set_node_count(12);
    d.set_has_target(true);
    d.set_target(3);
    (*d.mutable_quota())["nodes"] = 50;
    (*d.mutable_quota_hits())["watches"] = 2;
    table.save(ws, 7);
    table.get_or_create(8);  // never saved
    const uint64_t before = t.last_sequence();
    table.save(ws, 9);  // unknown: nothing to write
    ws.commit();
    CHECK(t.last_sequence() == before + 1);
  }
  t.reopen();
  DomainTable table;
  CHECK(table.load(t.db()) == 1);
  CHECK(table.find(8) == nullptr);
  CHECK(table.find(9) == nullptr);
  pb::DomainRecord* d = table.find(7);
  REQUIRE(d != nullptr);
  CHECK(d->domid() == 7);
  CHECK(d->introduced());
  CHECK(d->node_count() == 12);
  CHECK(d->has_target());
  CHECK(d->target() == 3);
  CHECK(d->quota().at("nodes") == 50);
  CHECK(d->quota_hits().at("watches") == 2);
  CHECK(table.is_introduced(7));

  // A change is durable only once saved again.
  d->set_node_count(13);
  WriteSet ws(t.db());
  table.save(ws, 7);
  ws.commit();
  DomainTable again;
  again.load(t.db());
  CHECK(again.find(7)->node_count() == 13);
}

TEST_CASE("erase forgets the domain in memory and, once committed, in RocksDB") {
  TempDb t;
  WriteSet ws(t.db());
  DomainTable table;
  table.get_or_create(7).set_introduced(true);
  table.get_or_create(8);
  table.save(ws, 7);
  table.save(ws, 8);
  ws.commit();

  table.erase(ws, 7);
  CHECK(table.find(7) == nullptr);
  CHECK_FALSE(table.is_introduced(7));
  DomainTable before_commit;
  CHECK(before_commit.load(t.db()) == 2);
  ws.commit();
  DomainTable loaded;
  CHECK(loaded.load(t.db()) == 1);
  CHECK(loaded.find(7) == nullptr);
  CHECK(loaded.find(8) != nullptr);
}
