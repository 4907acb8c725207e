// Helpers for the store's module tests: an Accounting that counts in a map, a way to
// print a Node for comparisons, and CommittedTree, which makes real commits on main
// with Tree and CommitLog (as the engine does, without the engine).
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/perms.h"
#include "store/db.h"
#include "store/history.h"
#include "store/node.h"
#include "store/node_view.h"
#include "store/quota.h"
#include "store/tree.h"

namespace dxs::testing {

// Node counts per domain in a map, the limits of a QuotaLimits (0 = no limit) with
// per-domain overrides, and every refusal recorded.
class TestAccounting final : public store::Accounting {
 public:
  struct Refusal {
    uint32_t domid;
    store::QuotaKind kind;
    int err;
    std::string what;
  };

  int64_t limit(uint32_t domid, store::QuotaKind kind) override {
    auto it = overrides.find({domid, kind});
    return it != overrides.end() ? it->second : limits.get(kind);
  }
  int64_t node_count(uint32_t domid) override { return nodes[domid]; }
  void adjust_node_count(uint32_t domid, int64_t delta) override { nodes[domid] += delta; }
  Status refuse(uint32_t domid, store::QuotaKind kind, int err, std::string_view what) override {
    refusals.push_back(Refusal{domid, kind, err, std::string(what)});
    return Status::error(err, std::string(what));
  }

  store::QuotaLimits limits;
  std::map<std::pair<uint32_t, store::QuotaKind>, int64_t> overrides;
  std::map<uint32_t, int64_t> nodes;
  std::vector<Refusal> refusals;
};

// Every field of a node, for CHECK(describe(a) == describe(b)).
inline std::string describe(const store::Node& n) {
  std::string value;
  for (unsigned char c : n.value) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      value.push_back(static_cast<char>(c));
    } else {
      value += fmt::format("\\x{:02x}", c);
    }
  }
  return fmt::format(
      "value=\"{}\" perms=[{}] modified={} perms_modified={} children_modified={} "
      "created={} child_count={} children_bytes={}",
      value, format_perms(n.perms), n.modified, n.perms_modified, n.children_modified, n.created,
      n.child_count, n.children_bytes);
}
inline std::string describe(const std::optional<store::Node>& n) {
  return n ? describe(*n) : std::string("absent");
}

inline store::Node make_node(std::string value, Perms perms, uint64_t stamp = 1) {
  store::Node n;
  n.value = std::move(value);
  n.perms = std::move(perms);
  n.modified = n.perms_modified = n.children_modified = n.created = stamp;
  return n;
}

// A tree on main whose every operation is one commit, as the engine makes them: commit 1
// creates "/" (owned by dom0, "n0"); each later operation runs through Tree on
// MainNodes stamped with the next sequence number and is recorded by
// CommitLog::commit_main, then the write set is committed to RocksDB.
class CommittedTree {
 public:
  explicit CommittedTree(store::Db& db) : db_(db), ws_(db) {
    log_.load(db);
    REQUIRE(log_.head() == 0);
    const uint64_t stamp = log_.next();
    store::MainNodes nodes(ws_, stamp);
    store::Node root = make_node("", {PermEntry{0, kAccessNone}}, stamp);
    nodes.put("/", root);
    store::ChangeList changes;
    changes.push_back(store::Change{"/", store::Change::Kind::kCreated, store::Change::Fire::kNone,
                                    std::nullopt, root});
    store::CommitInfo info;
    info.summary = "initial tree";
    root_commit_ = log_.commit_main(ws_, info, changes, 1);
    ws_.commit();
  }

  // Runs op on main as the next commit; returns its sequence number.
  uint64_t apply(const std::function<Status(store::Tree&, store::ChangeList&)>& op) {
    store::MainNodes view(ws_, log_.next());
    store::Tree tree(view, acct_);
    last_changes_.clear();
    Status s = op(tree, last_changes_);
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    store::CommitInfo info;
    info.summary = "test";
    const uint64_t seq =
        log_.commit_main(ws_, info, last_changes_, static_cast<int64_t>(seq_ns_++));
    ws_.commit();
    return seq;
  }
  uint64_t write(const std::string& p, std::string_view value, const store::Caller& caller = {}) {
    return apply(
        [&](store::Tree& t, store::ChangeList& c) { return t.write(p, value, caller, c); });
  }
  uint64_t mkdir(const std::string& p, const store::Caller& caller = {}) {
    return apply([&](store::Tree& t, store::ChangeList& c) { return t.mkdir(p, caller, c); });
  }
  uint64_t remove(const std::string& p, const store::Caller& caller = {}) {
    return apply([&](store::Tree& t, store::ChangeList& c) { return t.remove(p, caller, c); });
  }
  uint64_t set_perms(const std::string& p, const Perms& perms, const store::Caller& caller = {}) {
    return apply(
        [&](store::Tree& t, store::ChangeList& c) { return t.set_perms(p, perms, caller, c); });
  }

  store::Db& db() { return db_; }
  store::WriteSet& ws() { return ws_; }
  store::CommitLog& log() { return log_; }
  TestAccounting& acct() { return acct_; }
  uint64_t root_commit() const { return root_commit_; }
  const store::ChangeList& last_changes() const { return last_changes_; }
  // The current tree (committed and in the write set).
  std::optional<store::Node> get(std::string_view p) {
    store::MainNodes main(ws_, 0);
    return main.get(p);
  }

 private:
  store::Db& db_;
  store::WriteSet ws_;
  store::CommitLog log_;
  TestAccounting acct_;
  store::ChangeList last_changes_;
  uint64_t root_commit_ = 0;
  uint64_t seq_ns_ = 100;
};

}  // namespace dxs::testing
