// Retention (store/retention.h): pruning keeps what every reader still reads (the tree at
// each retained commit, an open transaction's base, a recorded reply's base), shrinks
// the commits and versions column families, and its horizon outlives a restart.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "common/perms.h"
#include "engine_fixture.h"
#include "store/node_view.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;
namespace store = dxs::store;

namespace {

using Strings = std::vector<std::string>;

store::EngineOptions limited(uint64_t max_commits) {
  store::EngineOptions options;
  options.retention.max_commits = max_commits;
  options.retention.max_age_s = 0;
  return options;
}

void drain(EngineFixture& f) {
  for (int i = 0; i < 10000 && f.engine().maintain(4); ++i) {
  }
  CHECK_FALSE(f.engine().maintain());
}

void dump_at(store::SnapshotNodes& nodes, const std::string& path, std::string& out) {
  std::optional<store::Node> n = nodes.get(path);
  if (!n) {
    out += path + " (absent)\n";
    return;
  }
  out += fmt::format("{} [{}] {}\n", path, dxs::format_perms(n->perms), n->value);
  for (const std::string& child : nodes.children(path)) {
    dump_at(nodes, path == "/" ? "/" + child : path + "/" + child, out);
  }
}

// The whole tree as of commit seq, as a transaction based there reads it.
std::string tree_at(store::Db& db, uint64_t seq) {
  store::SnapshotNodes nodes(db, seq);
  std::string out;
  dump_at(nodes, "/", out);
  return out;
}

size_t count_keys(store::Db& db, store::Cf cf) {
  size_t n = 0;
  auto it = db.iterate(cf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  return n;
}

// Each node's versions older than the horizon: there must be at most one, the state
// reads at the horizon need, and never a tombstone.
std::map<std::string, int> versions_below(store::Db& db, uint64_t horizon, int& tombstones) {
  std::map<std::string, int> out;
  tombstones = 0;
  auto it = db.iterate(store::Cf::kVersions);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    if (store::keys::version_seq(key) >= horizon) continue;
    ++out[key.substr(0, key.size() - 8)];
    dxs::pb::NodeRecord r;
    REQUIRE(r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    if (r.deleted()) ++tombstones;
  }
  return out;
}

// Writes, rewrites, subtrees created and removed again, permissions and a transaction:
// every kind of change a commit holds.
void workload(EngineFixture& f, uint64_t c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    f.write(c, "/w/hot", fmt::format("hot {}", i));
    f.write(c, fmt::format("/w/dom/{}/name", i % 3), fmt::format("vm{}", i));
    f.write(c, fmt::format("/w/dom/{}/device/vif/0", i % 3), "x");
    if (i % 4 == 3) f.ok(c, MsgType::kRm, args({fmt::format("/w/dom/{}", i % 3)}));
    if (i % 5 == 0) f.set_perms(c, "/w/hot", {"n0", fmt::format("r{}", i)});
    if (i % 6 == 0) {
      const uint32_t t = f.start(c);
      f.write(c, fmt::format("/w/txn/{}", i % 2), fmt::format("t{}", i), t);
      f.write(c, "/w/hot", fmt::format("hot {} in txn", i), t);
      CHECK(f.commit(c, t) == "");
    }
  }
}

}  // namespace

TEST_CASE("after pruning, the tree at every retained commit reads as before") {
  EngineFixture f(limited(25));
  const uint64_t c = f.open_socket();
  workload(f, c, 40);
  const uint64_t last = f.engine().head();
  std::map<uint64_t, std::string> before;
  for (uint64_t seq = 1; seq <= last; ++seq) before[seq] = tree_at(f.db(), seq);
  const size_t commits_before = count_keys(f.db(), store::Cf::kCommits);
  const size_t versions_before = count_keys(f.db(), store::Cf::kVersions);

  drain(f);
  const uint64_t horizon = f.engine().history_horizon();
  CHECK(horizon == last - 25 + 1);
  for (uint64_t seq = horizon; seq <= last; ++seq) {
    INFO("commit ", seq);
    CHECK(tree_at(f.db(), seq) == before[seq]);
  }
  CHECK(count_keys(f.db(), store::Cf::kCommits) == last - horizon + 1);
  CHECK(f.commits().begin()->first == horizon);
  CHECK(commits_before > 100);
  const size_t versions_after = count_keys(f.db(), store::Cf::kVersions);
  CHECK(versions_after < versions_before / 2);
  int tombstones = 0;
  for (const auto& [node, n] : versions_below(f.db(), horizon, tombstones)) {
    INFO("versions of ", node);
    CHECK(n == 1);
  }
  CHECK(tombstones == 0);

  // The horizon outlives a restart, and a new commit moves it on by one.
  f.restart();
  CHECK(f.engine().history_horizon() == horizon);
  CHECK(tree_at(f.db(), horizon) == before[horizon]);
  f.write(f.open_socket(), "/w/after", "restart");
  drain(f);
  CHECK(f.engine().history_horizon() == horizon + 1);
  CHECK(count_keys(f.db(), store::Cf::kCommits) == 25);
}

TEST_CASE("max-age prunes the commits older than it; no limit keeps everything") {
  SUBCASE("no limit") {
    EngineFixture f(limited(0));
    workload(f, f.open_socket(), 10);
    drain(f);
    CHECK(f.engine().history_horizon() == 1);
    CHECK(f.commits().begin()->first == 1);
  }
  SUBCASE("an hour") {
    store::EngineOptions options = limited(0);
    options.retention.max_age_s = 3600;
    EngineFixture f(options);
    workload(f, f.open_socket(), 10);
    drain(f);
    CHECK(f.engine().history_horizon() == 1);
    // Commit times are the wall clock's: rather than wait, the first ten are made two
    // hours old.
    for (auto& [seq, rec] : f.commits()) {
      if (seq > 10) break;
      rec.set_time_ns(rec.time_ns() - int64_t{7200} * 1'000'000'000);
      REQUIRE(f.db()
                  .raw()
                  ->Put({}, f.db().cf(store::Cf::kCommits), store::keys::commit(seq),
                        rec.SerializeAsString())
                  .ok());
    }
    drain(f);
    CHECK(f.engine().history_horizon() == 11);
    CHECK(f.commits().begin()->first == 11);
  }
}

TEST_CASE("pruning keeps an open transaction's base; it reads and commits as before") {
  EngineFixture f(limited(5));
  const uint64_t a = f.open_socket();
  const uint64_t b = f.open_socket();
  workload(f, b, 10);
  f.write(a, "/t/stable", "s");
  f.write(a, "/t/changed", "old");
  f.write(a, "/t/gone/leaf", "g");
  const uint32_t reader = f.start(a);     // reads a node changed later: EAGAIN
  const uint32_t untouched = f.start(a);  // reads only what stays: commits
  const uint64_t base = f.engine().head();
  const std::string at_base = tree_at(f.db(), base);

  f.write(b, "/t/changed", "new");
  f.ok(b, MsgType::kRm, args({"/t/gone"}));
  workload(f, b, 20);
  drain(f);
  CHECK(f.engine().history_horizon() == base);
  CHECK(tree_at(f.db(), base) == at_base);

  CHECK(f.read(a, "/t/changed", reader) == "old");
  CHECK(f.read(a, "/t/gone/leaf", reader) == "g");
  CHECK(f.directory(a, "/t", reader) == Strings{"changed", "gone", "stable"});
  f.write(a, "/t/by-reader", "r", reader);
  CHECK(f.commit(a, reader) == "EAGAIN");

  CHECK(f.read(a, "/t/stable", untouched) == "s");
  f.write(a, "/t/stable", "s2", untouched);
  CHECK(f.commit(a, untouched) == "");
  CHECK(f.read(a, "/t/stable") == "s2");

  // No reader holds the horizon back any more.
  drain(f);
  CHECK(f.engine().history_horizon() == f.engine().head() - 5 + 1);
}

TEST_CASE("pruning keeps a recorded reply's base; a read sent again answers as before") {
  EngineFixture f(limited(3));
  const uint64_t busy = f.open_socket();
  workload(f, busy, 5);
  f.close(busy);  // its records go with it
  const uint64_t c = f.open_socket();
  f.write(c, "/r/k", "before");
  const uint64_t base = f.engine().head();
  f.write(c, "/r/d/one", "");  // recorded, with base `base`, and never reported delivered
  f.set_report_delivered(false);
  CHECK(f.read(c, "/r/k") == "before");
  const uint64_t read_seq = f.last_seq(c);
  CHECK(f.directory(c, "/r/d") == Strings{"one"});
  const uint64_t dir_seq = f.last_seq(c);
  f.write(c, "/r/k", "after");
  const uint64_t other = f.open_socket();
  f.ok(other, MsgType::kRm, args({"/r/d/one"}));
  f.write(other, "/r/d/two", "");
  workload(f, other, 10);
  drain(f);
  CHECK(f.engine().history_horizon() == base);
  f.restart();
  drain(f);
  CHECK(f.engine().history_horizon() == base);

  auto read = f.resend(c, read_seq, MsgType::kRead, args({"/r/k"}));
  REQUIRE(read.has_value());
  CHECK(read->payload == "before");
  auto dir = f.resend(c, dir_seq, MsgType::kDirectory, args({"/r/d"}));
  REQUIRE(dir.has_value());
  CHECK(dir->payload == args({"one"}));

  // Delivered (and so forgotten), the replies hold nothing back.
  f.close(c);
  drain(f);
  CHECK(f.engine().history_horizon() > base);
}

// A node a merge created and removed again is not listed, but its parent gets a version
// that no listed change names: removing the parent later must still take every older
// version with it, or a read after the removal would find one and see the parent again.
TEST_CASE("a node removed is absent at every retained commit, whatever versions merges left") {
  EngineFixture f(limited(4));
  const uint64_t c = f.open_socket();
  f.write(c, "/m/p", "parent");
  const uint32_t t = f.start(c);
  f.write(c, "/m/p/x", "x", t);
  f.ok(c, MsgType::kRm, args({"/m/p/x"}), t);
  CHECK(f.commit(c, t) == "");
  f.ok(c, MsgType::kRm, args({"/m/p"}));
  const uint64_t removed = f.engine().head();
  for (int i = 0; i < 10; ++i) f.write(c, "/m/other", std::to_string(i));
  const uint64_t last = f.engine().head();
  std::map<uint64_t, std::string> before;
  for (uint64_t seq = removed; seq <= last; ++seq) before[seq] = tree_at(f.db(), seq);
  drain(f);
  const uint64_t horizon = f.engine().history_horizon();
  REQUIRE(horizon > removed);
  for (uint64_t seq = horizon; seq <= last; ++seq) {
    INFO("commit ", seq);
    CHECK(tree_at(f.db(), seq) == before[seq]);
    store::SnapshotNodes at(f.db(), seq);
    CHECK_FALSE(at.get("/m/p").has_value());  // as a transaction based there reads it
  }
  int tombstones = 0;
  CHECK(versions_below(f.db(), horizon, tombstones).count(store::keys::versions_prefix("/m/p")) ==
        0);
  CHECK(tombstones == 0);
}
