// domain_nodes: the index of the nodes naming each domain, kept from a commit's changes,
// built from a tree, and checked against it, on a real RocksDB.
#include "store/domain_nodes.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "store/node_view.h"
#include "temp_db.h"

using dxs::PermEntry;
using dxs::Perms;
using dxs::store::Cf;
using dxs::store::Change;
using dxs::store::ChangeList;
using dxs::store::MainNodes;
using dxs::store::Node;
using dxs::store::WriteSet;
using dxs::testing::TempDb;
namespace domain_nodes = dxs::store::domain_nodes;
using Strings = std::vector<std::string>;

namespace {

Node node(Perms perms, std::string value = {}) {
  Node n;
  n.perms = std::move(perms);
  n.value = std::move(value);
  return n;
}

Change change(std::string path, std::optional<Node> before, std::optional<Node> after) {
  return Change{std::move(path), Change::Kind::kModified, Change::Fire::kNone, std::move(before),
                std::move(after)};
}

// Every entry of the index as "domid path".
Strings entries(dxs::store::StateReader& state) {
  Strings out;
  auto it = state.iterate(Cf::kDomainNodes);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    const auto parsed = dxs::store::keys::parse_domain_node(key);
    REQUIRE(parsed);
    out.push_back(std::to_string(parsed->first) + " " + std::string(parsed->second));
  }
  return out;
}

}  // namespace

TEST_CASE("record: an entry per domain other than dom0 a node names, as its permissions change") {
  TempDb t;
  WriteSet ws(t.db());
  const Perms owned_by_7 = {{7, dxs::kAccessNone}, {8, dxs::kAccessRead}, {7, dxs::kAccessWrite}};
  domain_nodes::record(ws, {change("/a", std::nullopt, node(owned_by_7)),
                            change("/b", std::nullopt, node({{0, dxs::kAccessRead}})),
                            change("@releaseDomain", std::nullopt, node({{9, dxs::kAccessNone}}))});
  ws.commit();
  // Dom0 and the special nodes are not indexed; a domain named twice is one entry.
  CHECK(entries(t.db()) == Strings{"7 /a", "8 /a"});
  CHECK(domain_nodes::of(t.db(), 7) == Strings{"/a"});
  CHECK(domain_nodes::of(t.db(), 9).empty());

  // 8 dropped and 9 added; then a change of value only, and a removal.
  domain_nodes::record(ws, {change("/a", node(owned_by_7), node({{7, 0}, {9, dxs::kAccessRead}}))});
  CHECK(entries(ws) == Strings{"7 /a", "9 /a"});
  domain_nodes::record(ws, {change("/a", node({{7, 0}, {9, dxs::kAccessRead}}),
                                   node({{7, 0}, {9, dxs::kAccessRead}}, "new value"))});
  CHECK(entries(ws) == Strings{"7 /a", "9 /a"});
  domain_nodes::record(ws, {change("/a", node({{7, 0}, {9, dxs::kAccessRead}}), std::nullopt)});
  ws.commit();
  CHECK(entries(t.db()).empty());
}

TEST_CASE("record applies a commit's changes in order: created, then removed, is no entry") {
  TempDb t;
  WriteSet ws(t.db());
  domain_nodes::record(
      ws, {change("/x", std::nullopt, node({{5, 0}})), change("/x", node({{5, 0}}), std::nullopt),
           change("/y", std::nullopt, node({{5, 0}})),
           change("/y", node({{5, 0}}), node({{0, 0}, {6, dxs::kAccessRead}}))});
  ws.commit();
  CHECK(entries(t.db()) == Strings{"6 /y"});
}

TEST_CASE("of lists in byte order, a subtree's root before what is below it") {
  TempDb t;
  WriteSet ws(t.db());
  ChangeList changes;
  for (const char* p : {"/a/b", "/a-c", "/a", "/b", "/a/b/c"})
    changes.push_back(change(p, std::nullopt, node({{3, 0}})));
  domain_nodes::record(ws, changes);
  ws.commit();
  CHECK(domain_nodes::of(t.db(), 3) == Strings{"/a", "/a-c", "/a/b", "/a/b/c", "/b"});
}

TEST_CASE("build indexes a tree written without the index; verify finds what differs") {
  TempDb t;
  WriteSet ws(t.db());
  MainNodes view(ws, 1);
  view.put("/", node({{0, 0}}));
  view.put("/a", node({{4, 0}, {0, dxs::kAccessRead}}));
  view.put("/a/b", node({{0, 0}, {4, dxs::kAccessRead}, {5, dxs::kAccessWrite}}));
  ws.commit();
  std::string problems = domain_nodes::verify(t.db());
  CHECK(problems.find("/a names domain 4, not listed") != std::string::npos);
  CHECK(problems.find("/a/b names domain 5, not listed") != std::string::npos);

  CHECK(domain_nodes::build(ws) == 3);
  ws.commit();
  CHECK(entries(t.db()) == Strings{"4 /a", "4 /a/b", "5 /a/b"});
  CHECK(domain_nodes::verify(t.db()).empty());

  // An entry for a node that does not name the domain, and one for a node not there.
  ws.put(Cf::kDomainNodes, dxs::store::keys::domain_node(5, "/a"), {});
  ws.put(Cf::kDomainNodes, dxs::store::keys::domain_node(4, "/gone"), {});
  ws.commit();
  problems = domain_nodes::verify(t.db());
  CHECK(problems.find("/a listed for domain 5, which it does not name") != std::string::npos);
  CHECK(problems.find("/gone listed for domain 4") != std::string::npos);
  // build replaces what was there.
  CHECK(domain_nodes::build(ws) == 3);
  ws.commit();
  CHECK(domain_nodes::verify(t.db()).empty());
}
