// Point-in-time reads (store/point_in_time.h) against a model: a seeded random sequence
// of requests to a real Engine (writes, mkdirs, removals, permissions, transactions of
// two connections that conflict, a guest's requests, its domain introduced and
// released) is mirrored in a plain map updated only from successful replies. Every
// commit made records the model as it was right after it; every recorded commit's tree,
// read back from history, must equal it, node by node: values, permissions, lists of
// children. A transaction's branch commit must read as its base plus its own writes.
//
// The seed is printed; DXS_HISTORY_SEED=<n> runs that seed alone.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/path.h"
#include "common/perms.h"
#include "common/wire.h"
#include "engine_fixture.h"
#include "store/db.h"
#include "store/point_in_time.h"

using namespace dxs;
using namespace dxs::store;
using dxs::testing::Answer;
using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using wire::MsgType;

namespace {

constexpr uint32_t kGuest = 5;

struct ModelNode {
  std::string value;
  Perms perms;
};
using Model = std::map<std::string, ModelNode>;

struct ModelCaller {
  uint32_t domid = 0;
  bool privileged = true;
};

std::vector<std::string> model_children(const Model& m, const std::string& p) {
  std::vector<std::string> names;
  for (const auto& [q, n] : m) {
    if (q != "/" && path::parent(q) == p) names.emplace_back(path::basename(q));
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool at_or_below(const std::string& q, const std::string& p) {
  return q == p || (q.size() > p.size() && q.compare(0, p.size(), p) == 0 && q[p.size()] == '/');
}

// Xenstore's semantics of the operations that succeeded, as the engine's Tree has them.
void model_create(Model& m, const std::string& p, const std::string& value, const ModelCaller& c) {
  std::vector<std::string> missing{p};
  std::string up(path::parent(p));
  while (m.find(up) == m.end()) {
    missing.push_back(up);
    up = std::string(path::parent(up));
  }
  Perms perms = m.at(up).perms;
  if (!c.privileged) perms[0].domid = c.domid;
  for (size_t i = missing.size(); i-- > 0;) {
    m[missing[i]] = ModelNode{i == 0 ? value : std::string(), perms};
  }
}

struct Op {
  MsgType type;
  std::string path;
  std::string value;
  std::vector<std::string> perms;
  ModelCaller caller;
};

void model_apply(Model& m, const Op& op) {
  switch (op.type) {
    case MsgType::kWrite:
      if (auto it = m.find(op.path); it != m.end()) {
        it->second.value = op.value;
      } else {
        model_create(m, op.path, op.value, op.caller);
      }
      break;
    case MsgType::kMkdir:
      if (m.find(op.path) == m.end()) model_create(m, op.path, "", op.caller);
      break;
    case MsgType::kRm:
      std::erase_if(m, [&](const auto& e) { return at_or_below(e.first, op.path); });
      break;
    case MsgType::kSetPerms: {
      Perms perms;
      for (const std::string& s : op.perms) perms.push_back(parse_perm(s).value());
      m.at(op.path).perms = perms;
      break;
    }
    default:
      FAIL("not a model operation");
  }
}

// A released domain's nodes go with everything below them; every other node forgets it.
void model_release(Model& m, uint32_t domid) {
  std::vector<std::string> owned;
  for (auto& [p, n] : m) {
    if (p != "/" && n.perms[0].domid == domid) {
      owned.push_back(p);
    } else {
      Perms kept{n.perms[0]};
      for (size_t i = 1; i < n.perms.size(); ++i) {
        if (n.perms[i].domid != domid) kept.push_back(n.perms[i]);
      }
      n.perms = kept;
    }
  }
  for (const std::string& p : owned) {
    std::erase_if(m, [&](const auto& e) { return at_or_below(e.first, p); });
  }
}

std::string dump_model(const Model& m) {
  std::string out;
  for (const auto& [p, n] : m) {
    out += fmt::format("{} [{}] \"{}\" {{{}}}\n", p, format_perms(n.perms), n.value,
                       fmt::join(model_children(m, p), ","));
  }
  return out;
}

// The tree read back from history, in the model's form.
std::string dump_tree(NodeReader& tree) {
  std::map<std::string, std::string> lines;
  Result<WalkResult> walked =
      walk_subtree(tree, "/", 100000, [&](const std::string& p, const Node& n) {
        lines[p] = fmt::format("{} [{}] \"{}\" {{{}}}\n", p, format_perms(n.perms), n.value,
                               fmt::join(tree.children(p), ","));
      });
  REQUIRE(walked.is_ok());
  CHECK_FALSE(walked->truncated);
  CHECK(walked->visited == lines.size());
  std::string out;
  for (const auto& [p, line] : lines) out += line;
  return out;
}

const std::vector<std::string> kPaths = {"/d", "/d/a",   "/d/a/x", "/d/a-b", "/d/ab", "/d/b",
                                         "/e", "/e/f/g", "/g",     "/g/h",   "/g/h/i"};
const std::vector<std::vector<std::string>> kPerms = {
    {"n0"}, {"r0"}, {"b0"}, {"n0", "b5"}, {"b5"}, {"n0", "r5"}, {"n5", "r0"}};

struct Expected {
  Model model;
  bool on_main = true;
};

struct OpenTxn {
  uint32_t id = 0;
  uint64_t base = 0;
  Model view;  // the base plus the transaction's own writes
  std::vector<Op> ops;
};

class Run {
 public:
  explicit Run(uint32_t seed) : rng_(seed) {
    conns_ = {f_.open_socket(), f_.open_socket()};
    // The initial tree, as the store made it.
    DbSnapshot snap(f_.db());
    auto tree = tree_at(snap, main_head(snap));
    REQUIRE(tree.is_ok());
    REQUIRE(walk_subtree(**tree, "/", 1000, [&](const std::string& p, const Node& n) {
              main_[p] = ModelNode{n.value, n.perms};
            }).is_ok());
    last_ = last_commit(snap);
    head_ = main_head(snap);
    expected_[head_] = Expected{main_, true};
  }

  void step() {
    const int pick = static_cast<int>(rng_() % 100);
    if (pick < 4) {
      if (!guest_) {
        REQUIRE(f_.introduce(kGuest) == "");
        guest_ = f_.open_domain(kGuest);
        commits_after(main_);
        // dom0 lets the guest write under /g, or gives /g to it.
        Op grant{MsgType::kWrite, "/g", "", {}, {}};
        apply_on_main(grant);
        grant = Op{MsgType::kSetPerms, "/g", "", rng_() % 2 ? kPerms[3] : kPerms[4], {}};
        apply_on_main(grant);
      } else {
        REQUIRE(f_.call(f_.admin(), MsgType::kRelease, args({std::to_string(kGuest)})).ok());
        f_.close(guest_);
        guest_ = 0;
        const size_t before = main_.size();
        model_release(main_, kGuest);
        stats_.released_nodes += before - main_.size();
        commits_after(main_);
      }
      return;
    }
    const size_t which = rng_() % 2;
    const uint64_t conn = conns_[which];
    std::optional<OpenTxn>& txn = txns_[which];
    if (pick < 12) {
      if (!txn) {
        txn = OpenTxn{f_.start(conn), head_, main_, {}};
      } else {
        end_txn(conn, txn, rng_() % 4 != 0);
      }
      return;
    }
    // A guest's request now and then, outside any transaction.
    const bool as_guest = guest_ != 0 && rng_() % 5 == 0;
    const bool in_txn = !as_guest && txn && rng_() % 5 != 0;
    Op op = random_op(as_guest);
    const uint64_t via = as_guest ? guest_ : conn;
    const uint32_t tx = in_txn ? txn->id : 0;
    if (pick < 20) {
      // Reads, which a transaction observes (and conflicts on).
      f_.call(via, rng_() % 2 ? MsgType::kRead : MsgType::kDirectory, args({op.path}), tx);
      CHECK_MESSAGE(last_commit_now() == last_, "a read made a commit");
      return;
    }
    const Answer a = f_.call(via, op.type, payload(op), tx);
    if (as_guest) ++(a.ok() ? stats_.guest_ok : stats_.guest_refused);
    if (!a.ok()) {
      CHECK_MESSAGE(last_commit_now() == last_, "a refused request made a commit");
      return;
    }
    if (in_txn) {
      model_apply(txn->view, op);
      txn->ops.push_back(op);
      CHECK_MESSAGE(last_commit_now() == last_, "a transaction's request made a commit");
      return;
    }
    model_apply(main_, op);
    commits_after(main_);
  }

  void finish() {
    for (size_t i = 0; i < 2; ++i) {
      if (txns_[i]) end_txn(conns_[i], txns_[i], true);
    }
  }

  // Every recorded commit's tree, read from one snapshot of the history.
  void check_history() {
    DbSnapshot snap(f_.db());
    for (const auto& [seq, want] : expected_) {
      CAPTURE(seq);
      auto tree = tree_at(snap, seq);
      REQUIRE(tree.is_ok());
      CHECK(dump_tree(**tree) == dump_model(want.model));
      for (const std::string& p : kPaths) {
        if (want.model.count(p)) continue;
        CAPTURE(p);
        CHECK_FALSE((*tree)->get(p).has_value());
        CHECK((*tree)->children(p).empty());
        CHECK(read_node(**tree, p).err() == ENOENT);
      }
      pb::CommitRef ref;
      ref.set_seq(seq);
      CHECK(resolve_commit(snap, ref).value() == seq);
    }
    pb::CommitRef head;
    head.set_head(true);
    CHECK(resolve_commit(snap, head).value() == head_);
    // Times: each commit's time resolves to the last commit on main made by then.
    std::map<uint64_t, pb::CommitRecord> all = f_.commits();
    int64_t previous = 0;
    for (const auto& [seq, c] : all) {
      CAPTURE(seq);
      CHECK(c.time_ns() >= previous);
      previous = c.time_ns();
      uint64_t want = 0;
      for (const auto& [s, d] : all) {
        if (d.on_main() && d.time_ns() <= c.time_ns()) want = s;
      }
      pb::CommitRef at;
      at.set_time_ns(c.time_ns());
      CHECK(resolve_commit(snap, at).value() == want);
    }
    pb::CommitRef before;
    before.set_time_ns(all.begin()->second.time_ns() - 1);
    CHECK(resolve_commit(snap, before).err() == ENOENT);
  }

  struct Stats {
    int merged = 0, conflicted = 0, aborted = 0, guest_ok = 0, guest_refused = 0;
    size_t released_nodes = 0;
  };
  const Stats& stats() const { return stats_; }
  size_t commits_checked() const { return expected_.size(); }
  size_t branches_checked() const {
    return static_cast<size_t>(std::count_if(expected_.begin(), expected_.end(),
                                             [](const auto& e) { return !e.second.on_main; }));
  }

 private:
  Op random_op(bool as_guest) {
    Op op;
    op.path = kPaths[rng_() % kPaths.size()];
    // A guest mostly where dom0 may have let it write.
    if (as_guest && rng_() % 4 != 0) op.path = kPaths[8 + rng_() % 3];
    op.caller = as_guest ? ModelCaller{kGuest, false} : ModelCaller{};
    const int kind = static_cast<int>(rng_() % 10);
    if (kind < 5) {
      op.type = MsgType::kWrite;
      op.value = fmt::format("v{}", rng_() % 1000);
      if (rng_() % 10 == 0) op.value = std::string("a\0b\n", 4);
    } else if (kind < 6) {
      op.type = MsgType::kMkdir;
    } else if (kind < 8) {
      op.type = MsgType::kRm;
    } else {
      op.type = MsgType::kSetPerms;
      op.perms = kPerms[rng_() % kPerms.size()];
    }
    return op;
  }

  static std::string payload(const Op& op) {
    switch (op.type) {
      case MsgType::kWrite:
        return write_payload(op.path, op.value);
      case MsgType::kSetPerms: {
        std::string s = op.path + std::string(1, '\0');
        for (const std::string& p : op.perms) s += p + std::string(1, '\0');
        return s;
      }
      default:
        return args({op.path});
    }
  }

  void apply_on_main(const Op& op) {
    REQUIRE(f_.call(conns_[0], op.type, payload(op)).ok());
    model_apply(main_, op);
    commits_after(main_);
  }

  void end_txn(uint64_t conn, std::optional<OpenTxn>& txn, bool commit) {
    const Answer a = f_.call(conn, MsgType::kTransactionEnd,
                             args({std::string_view(commit ? "T" : "F")}), txn->id);
    ++(commit ? (a.ok() ? stats_.merged : stats_.conflicted) : stats_.aborted);
    if (!commit || !a.ok()) {
      CHECK_MESSAGE(last_commit_now() == last_, "an aborted transaction made a commit");
      txn.reset();
      return;
    }
    // Merged: its operations replayed on main, as they were made.
    for (const Op& op : txn->ops) model_apply(main_, op);
    DbSnapshot snap(f_.db());
    const uint64_t now = last_commit(snap);
    if (now != last_) {
      REQUIRE(now == last_ + 2);
      const pb::CommitRecord branch = read_commit(snap, last_ + 1).value();
      REQUIRE_FALSE(branch.on_main());
      REQUIRE(branch.parents_size() == 1);
      CHECK(branch.parents(0) == txn->base);
      expected_[last_ + 1] = Expected{txn->view, false};
    }
    txn.reset();
    commits_after(main_);
  }

  uint64_t last_commit_now() {
    DbSnapshot snap(f_.db());
    return last_commit(snap);
  }

  // The commits the last request made: the last on main is the model's state now.
  void commits_after(const Model& now_model) {
    DbSnapshot snap(f_.db());
    const uint64_t now = last_commit(snap);
    if (now == last_) return;
    const uint64_t head = main_head(snap);
    REQUIRE(head > last_);
    for (uint64_t seq = last_ + 1; seq < head; ++seq) {
      // Only a branch may come before a request's commit on main.
      REQUIRE(expected_.count(seq) == 1);
    }
    expected_[head] = Expected{now_model, true};
    last_ = now;
    head_ = head;
  }

  // One thread drives every connection and waits for each answer, so nothing may be
  // held back: no conflict guard (engine_conflict_guard_test.cc has it).
  static dxs::store::EngineOptions unguarded() {
    dxs::store::EngineOptions o;
    o.guard.losses = 0;
    return o;
  }
  EngineFixture f_{unguarded()};
  std::mt19937 rng_;
  std::vector<uint64_t> conns_;
  std::optional<OpenTxn> txns_[2];
  uint64_t guest_ = 0;
  Model main_;
  std::map<uint64_t, Expected> expected_;
  uint64_t last_ = 0;
  uint64_t head_ = 0;
  Stats stats_;
};

std::vector<uint32_t> seeds() {
  if (const char* s = std::getenv("DXS_HISTORY_SEED"))
    return {static_cast<uint32_t>(std::stoul(s))};
  return {1, 2, 3, 4};
}

}  // namespace

TEST_CASE("every retained commit's tree reads back as the model at that commit") {
  constexpr int kOps = 400;
  for (uint32_t seed : seeds()) {
    MESSAGE("seed ", seed, " (DXS_HISTORY_SEED=", seed, " runs it alone)");
    CAPTURE(seed);
    Run run(seed);
    for (int i = 1; i <= kOps; ++i) {
      run.step();
      if (i % 100 == 0) run.check_history();
    }
    run.finish();
    run.check_history();
    MESSAGE("seed ", seed, ": ", run.commits_checked(), " commits checked, ",
            run.branches_checked(), " of them transactions' branches; transactions ",
            run.stats().merged, " merged, ", run.stats().conflicted, " refused, ",
            run.stats().aborted, " aborted; guest requests ", run.stats().guest_ok, " done, ",
            run.stats().guest_refused, " refused; ", run.stats().released_nodes,
            " nodes removed by releases");
    // The mix is what it claims to be.
    CHECK(run.branches_checked() > 0);
    CHECK(run.stats().conflicted > 0);
    CHECK(run.stats().guest_ok > 0);
    CHECK(run.stats().released_nodes > 0);
  }
}
