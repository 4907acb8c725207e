// Internal to the engine (engine*.cc): one request being applied, and the accounting
// views tree operations see while it runs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/engine.h"

namespace dxs::store {

struct Engine::Request {
  Request(const pb::Request& req, Connection& conn, Caller caller)
      : req(req), conn(conn), caller(caller) {}

  const pb::Request& req;
  Connection& conn;
  Caller caller;
  Transaction* txn = nullptr;  // the transaction named by tx_id, if any
  // Answer from the tree as it was right after this commit (a read re-sent after a
  // store restart, answered as it would have been when first sent).
  std::optional<uint64_t> as_of;

  // Effects on main awaiting the request's success.
  ChangeList changes;
  std::map<uint32_t, int64_t> node_delta;
  std::string summary;  // commit summary when `changes` is not empty
  std::string note;
  // A commit even without node changes (introduce, release).
  bool force_commit = false;
  // The branch commit a transaction's merge joins to main.
  uint64_t merged_branch = 0;
  // Special events (@introduceDomain, @releaseDomain) to fire after the events of
  // `changes`: C fires @releaseDomain once the domain's nodes are gone.
  std::vector<std::string_view> specials;

  // What the request observed in its transaction, logged once the request is over,
  // whether it succeeded or not: a READ answered ENOENT observed an absence all the same.
  std::vector<pb::TxnLogEntry> observations;

  // Refusals to count even though the request fails (its savepoint is rolled back).
  std::vector<std::pair<uint32_t, QuotaKind>> quota_hits;
  // What must happen even though the request fails, after its savepoint is rolled back
  // (a transaction that failed to commit is gone all the same).
  std::vector<std::function<void()>> on_failure;

  // Events for the requesting connection, delivered right after its reply (a WATCH's
  // first event), and commands for the frontend.
  std::vector<pb::Outbound> after_reply;
};

// The request's one NUL-terminated string filling its payload (xenstored's onearg()),
// or nullptr.
inline const std::string* one_arg(const pb::Request& req) {
  if (!req.has_strings() || req.strings().strings_size() != 1 ||
      !req.strings().trailing().empty()) {
    return nullptr;
  }
  return &req.strings().strings(0);
}

// The OK reply of most requests.
inline const std::string kOkReply("OK\0", 3);

// Accounting for the live tree: the domain table plus this request's pending deltas.
class Engine::PendingAccounting final : public Accounting {
 public:
  PendingAccounting(Engine& engine, Request& r) : e_(engine), r_(r) {}
  int64_t limit(uint32_t domid, QuotaKind kind) override { return e_.quota_limit(domid, kind); }
  int64_t node_count(uint32_t domid) override {
    const pb::DomainRecord* d = e_.domains_.find(domid);
    auto it = r_.node_delta.find(domid);
    return (d ? d->node_count() : 0) + (it == r_.node_delta.end() ? 0 : it->second);
  }
  void adjust_node_count(uint32_t domid, int64_t delta) override { r_.node_delta[domid] += delta; }
  Status refuse(uint32_t domid, QuotaKind kind, int err, std::string_view what) override {
    r_.quota_hits.emplace_back(domid, kind);
    return e_.refuse_quota(domid, kind, err, what);
  }

 private:
  Engine& e_;
  Request& r_;
};

// Accounting inside a transaction: the live counts plus the transaction's own changes.
class Engine::TxnAccounting final : public Accounting {
 public:
  TxnAccounting(Engine& engine, Request& r, Transaction& t)
      : live_(engine, r), e_(engine), r_(r), t_(t) {}
  int64_t limit(uint32_t domid, QuotaKind kind) override { return e_.quota_limit(domid, kind); }
  int64_t node_count(uint32_t domid) override {
    auto it = t_.record.node_delta().find(domid);
    return live_.node_count(domid) + (it == t_.record.node_delta().end() ? 0 : it->second);
  }
  void adjust_node_count(uint32_t domid, int64_t delta) override { r_.node_delta[domid] += delta; }
  Status refuse(uint32_t domid, QuotaKind kind, int err, std::string_view what) override {
    return live_.refuse(domid, kind, err, what);
  }

 private:
  PendingAccounting live_;
  Engine& e_;
  Request& r_;
  Transaction& t_;
};

}  // namespace dxs::store
