// Retention (store/retention.h): pruning keeps the tree at each retained commit, shrinks
// the commits and versions column families, and its horizon outlives a restart; readers
// based below it (an open transaction, a recorded reply) hold nothing back: they read
// the current tree, and such a transaction commits EAGAIN.
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
    // hours old. A commit's time is fixed once made, so the engine reads the oldest one's
    // once; the rewritten times are seen after a restart.
    for (auto& [seq, rec] : f.commits()) {
      if (seq > 10) break;
      rec.set_time_ns(rec.time_ns() - int64_t{7200} * 1'000'000'000);
      REQUIRE(f.db()
                  .raw()
                  ->Put({}, f.db().cf(store::Cf::kCommits), store::keys::commit(seq),
                        rec.SerializeAsString())
                  .ok());
    }
    f.restart();
    drain(f);
    CHECK(f.engine().history_horizon() == 11);
    CHECK(f.commits().begin()->first == 11);
  }
}

// How many log lines say that transaction tx was outdated.
size_t outdated_lines(EngineFixture& f, uint32_t tx) {
  const std::string needle = fmt::format("transaction {} outdated", tx);
  size_t n = 0;
  for (const std::string& line : f.log().lines()) n += line.find(needle) != std::string::npos;
  return n;
}

TEST_CASE("a transaction held open past the limits reads the current tree and commits EAGAIN") {
  EngineFixture f(limited(5));
  const uint64_t a = f.open_socket();
  const uint64_t b = f.open_socket();
  workload(f, b, 10);
  f.write(a, "/t/stable", "s");
  f.write(a, "/t/changed", "old");
  f.write(a, "/t/gone/leaf", "g");
  const uint32_t early = f.start(a);   // reads and writes before it is outdated, and after
  const uint32_t reader = f.start(a);  // read-only
  const uint32_t kept = f.start(a);    // outdated across a restart
  const uint64_t base = f.engine().head();
  CHECK(f.read(a, "/t/changed", early) == "old");
  f.write(a, "/t/mine", "m", early);
  CHECK(f.read(a, "/t/stable", reader) == "s");

  f.write(b, "/t/changed", "new");
  f.ok(b, MsgType::kRm, args({"/t/gone"}));
  workload(f, b, 20);
  drain(f);
  // The transactions held nothing back: the limits alone set the horizon.
  const uint64_t horizon = f.engine().history_horizon();
  CHECK(horizon == f.engine().head() - 5 + 1);
  REQUIRE(horizon > base);
  CHECK(f.commits().count(base) == 0);
  for (uint32_t tx : {early, reader, kept}) {
    INFO("transaction ", tx);
    CHECK(outdated_lines(f, tx) == 1);
    CHECK(f.log().contains({fmt::format("dom0 transaction {} outdated: base {}", tx, base)}));
  }

  // Its base gone, it reads the current tree under its own writes, never a pruned state.
  CHECK(f.read(a, "/t/changed", early) == "new");
  CHECK(f.err(a, MsgType::kRead, args({"/t/gone/leaf"}), early) == "ENOENT");
  CHECK(f.directory(a, "/t", early) == Strings{"changed", "mine", "stable"});
  CHECK(f.read(a, "/t/mine", early) == "m");
  CHECK(f.commit(a, early) == "EAGAIN");
  CHECK(f.err(a, MsgType::kRead, args({"/t/mine"})) == "ENOENT");
  CHECK(f.read(a, "/t/changed", reader) == "new");
  CHECK(f.commit(a, reader) == "EAGAIN");

  // Still outdated after a restart, and logged once.
  f.restart();
  CHECK(f.read(a, "/t/changed", kept) == "new");
  workload(f, b, 5);
  drain(f);
  CHECK(f.commit(a, kept) == "EAGAIN");
  CHECK(outdated_lines(f, kept) == 1);

  // The client's retry, a fresh transaction, commits.
  const uint32_t retry = f.start(a);
  CHECK(f.read(a, "/t/changed", retry) == "new");
  f.write(a, "/t/mine", "m", retry);
  CHECK(f.commit(a, retry) == "");
  CHECK(f.read(a, "/t/mine") == "m");
  CHECK(outdated_lines(f, retry) == 0);
}

TEST_CASE("a transaction within the limits, at the cut too, reads its base and commits as before") {
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
  f.write(b, "/t/other", "1");
  f.write(b, "/t/other", "2");
  drain(f);
  // Four commits since: the base is the oldest commit the limit keeps.
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
  CHECK_FALSE(f.log().contains({"outdated"}));
}

TEST_CASE(
    "a quiet connection's recorded reply does not stop pruning; a read sent again is answered "
    "now") {
  EngineFixture f(limited(3));
  const uint64_t busy = f.open_socket();
  workload(f, busy, 5);
  f.close(busy);  // its records go with it
  const uint64_t c = f.open_socket();
  f.write(c, "/r/k", "before");
  f.write(c, "/r/d/one", "");
  f.set_report_delivered(false);  // from now on c's replies stay recorded
  CHECK(f.read(c, "/r/k") == "before");
  const uint64_t read_seq = f.last_seq(c);
  CHECK(f.directory(c, "/r/d") == Strings{"one"});
  const uint64_t dir_seq = f.last_seq(c);
  f.write(c, "/r/k", "after");  // recorded, its base from before it: c then goes quiet
  const uint64_t quiet_base = f.engine().head() - 1;
  const uint64_t other = f.open_socket();
  f.ok(other, MsgType::kRm, args({"/r/d/one"}));
  f.write(other, "/r/d/two", "");
  f.write(other, "/r/k", "later");
  workload(f, other, 10);
  drain(f);
  const uint64_t horizon = f.engine().history_horizon();
  CHECK(horizon == f.engine().head() - 3 + 1);
  CHECK(horizon > quiet_base);
  CHECK(f.commits().begin()->first == horizon);
  f.restart();
  drain(f);
  CHECK(f.engine().history_horizon() == horizon);

  // Their base pruned, the reads are answered from the current tree: as if the first
  // answer had been delayed until now.
  auto read = f.resend(c, read_seq, MsgType::kRead, args({"/r/k"}));
  REQUIRE(read.has_value());
  CHECK(read->payload == "later");
  auto dir = f.resend(c, dir_seq, MsgType::kDirectory, args({"/r/d"}));
  REQUIRE(dir.has_value());
  CHECK(dir->payload == args({"two"}));
}

TEST_CASE("a recorded reply within the limits still answers a read sent again as of its base") {
  EngineFixture f(limited(5));
  const uint64_t c = f.open_socket();
  f.write(c, "/r/k", "before");
  f.set_report_delivered(false);
  CHECK(f.read(c, "/r/k") == "before");
  const uint64_t read_seq = f.last_seq(c);
  f.write(c, "/r/k", "after");
  const uint64_t other = f.open_socket();
  for (int i = 0; i < 3; ++i) f.write(other, "/r/k", fmt::format("other {}", i));
  drain(f);
  f.restart();
  auto read = f.resend(c, read_seq, MsgType::kRead, args({"/r/k"}));
  REQUIRE(read.has_value());
  CHECK(read->payload == "before");
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
