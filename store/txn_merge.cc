#include "store/txn_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/wire.h"
#include "store/node_view.h"
#include "store/tree.h"

namespace dxs::store {

using wire::MsgType;
using Obs = pb::TxnLogEntry;

namespace {

// Whether what r's transaction sees at path is its own doing, which it need not observe.
bool owned_by_txn(const Transaction& t, std::string_view path, Obs::Observation kind,
                  const std::optional<Node>& seen) {
  if (!seen) {
    // Absent in the transaction's view: its own removal if its view says so.
    return t.view.find(path) != nullptr;
  }
  switch (kind) {
    case Obs::NODE:
      return seen->modified == kTxnSeq;
    case Obs::PERMS:
      return seen->perms_modified == kTxnSeq;
    case Obs::CHILDREN:
      return seen->created == kTxnSeq;
    default:
      return false;
  }
}

// Whether what e observed at the base, which changed since, is back as it was: a node
// written again with the value it had, permissions set to the same, a child added and
// removed. The transaction's reads then hold on the live tree as they are, and it can
// commit as if it had run just now (oxenstored commits such a transaction too: it
// replays it and compares the replies). A value history keeps only as a digest (a
// private path) is taken as changed.
bool as_seen(StoreState& s, uint64_t base, const Obs& e, const Node& now) {
  SnapshotNodes then_view(s.ws, base);
  std::optional<Node> then = then_view.get(e.path());
  if (!then || then->redacted) return false;
  switch (e.observed()) {
    case Obs::NODE:
      return then->value == now.value && then->perms == now.perms;
    case Obs::PERMS:
      return then->perms == now.perms;
    case Obs::CHILDREN: {
      if (then->child_count != now.child_count) return false;  // no scan needed
      std::vector<std::string> before = then_view.children(e.path());
      std::vector<std::string> after = CurrentNodes(s.ws).children(e.path());
      std::sort(before.begin(), before.end());
      std::sort(after.begin(), after.end());
      return before == after;
    }
    default:
      return false;
  }
}

// The first observation of t that no longer holds on the live tree, if any.
const Obs* broken_observation(StoreState& s, const Transaction& t, const std::vector<Obs>& log) {
  const uint64_t base = t.record.base();
  CurrentNodes live(s.ws);
  for (const Obs& e : log) {
    if (e.observed() == Obs::OBSERVATION_UNSPECIFIED) continue;
    std::optional<Node> now = live.get(e.path());
    bool changed = now.has_value() != e.existed();
    if (!changed && now) {
      switch (e.observed()) {
        case Obs::NODE:
          changed = now->modified > base;
          break;
        case Obs::PERMS:
          changed = now->perms_modified > base;
          break;
        case Obs::CHILDREN:
          changed = now->children_modified > base || now->created > base;
          break;
        default:
          break;
      }
      if (changed) changed = !as_seen(s, base, e, *now);
    }
    if (changed) return &e;
  }
  return nullptr;
}

Status replay(Tree& tree, const Obs& e, const Caller& caller, ChangeList& changes) {
  switch (static_cast<MsgType>(e.op_type())) {
    case MsgType::kWrite:
      return tree.write(e.path(), e.value(), caller, changes);
    case MsgType::kMkdir:
      return tree.mkdir(e.path(), caller, changes);
    case MsgType::kRm:
      return tree.remove(e.path(), caller, changes);
    case MsgType::kSetPerms:
      return tree.set_perms(e.path(), perms_from_packed(e.perms()), caller, changes);
    default:
      return Status::error(EIO, "unknown operation in transaction log");
  }
}

// The branch: the transaction's own view of what it changed, relative to its base.
ChangeList branch_changes(StoreState& s, const Transaction& t) {
  ChangeList branch;
  SnapshotNodes at_base(s.ws, t.record.base());
  t.view.for_each([&](std::string p, const std::optional<Node>& mine) {
    if (!mine) {
      // Created and removed again within the transaction: no change relative to the base.
      if (!at_base.get(p)) return;
      branch.push_back(Change{std::move(p), Change::Kind::kDeleted, Change::Fire::kNone,
                              std::nullopt, std::nullopt});
    } else if (mine->created == kTxnSeq) {
      branch.push_back(
          Change{std::move(p), Change::Kind::kCreated, Change::Fire::kNone, std::nullopt, mine});
    } else if (mine->modified == kTxnSeq) {
      branch.push_back(
          Change{std::move(p), Change::Kind::kModified, Change::Fire::kNone, std::nullopt, mine});
    }
  });
  return branch;
}

}  // namespace

void observe(Request& r, Obs::Observation kind, std::string_view path,
             const std::optional<Node>& seen) {
  if (r.txn == nullptr) return;
  std::string key = observation_key(kind, path);
  if (r.txn->observed.count(key) != 0) return;
  if (owned_by_txn(*r.txn, path, kind, seen)) return;
  Obs entry;
  entry.set_observed(kind);
  entry.set_path(std::string(path));
  entry.set_existed(seen.has_value());
  // Logged by the engine after the request, which may yet fail and roll back its writes.
  r.txn->observed.insert(std::move(key));
  r.observations.push_back(std::move(entry));
}

uint8_t seen_of(Obs::Observation kind) {
  switch (kind) {
    case Obs::NODE:
      return kSeenNode;
    case Obs::PERMS:
      return kSeenPerms;
    case Obs::CHILDREN:
      return kSeenChildren;
    default:
      return 0;
  }
}

std::vector<Observed> observations_of(const std::vector<Obs>& log) {
  std::vector<Observed> out;
  for (const Obs& e : log) {
    if (const uint8_t seen = seen_of(e.observed()); seen != 0) out.push_back({e.path(), seen});
  }
  return out;
}

Status check_txn_access(StoreState& s, Request& r, std::string_view path) {
  if (r.txn == nullptr || r.txn->accessed.count(std::string(path)) != 0) return Status::ok();
  return s.quotas.admit(
      r.caller, QuotaKind::kTransactionNodes, static_cast<int64_t>(r.txn->accessed.size()), 1,
      r.quota_hits,
      [&] { return fmt::format("transaction {} touching {}", r.txn->record.id(), path); });
}

Result<std::string> merge_transaction(StoreState& s, Request& r, Transaction& t) {
  const uint64_t base = t.record.base();
  if (t.record.outdated()) {
    ++s.stats.eagain;
    return Status::error(
        EAGAIN, fmt::format("transaction {}: its base commit {} was pruned", t.record.id(), base));
  }
  if (t.unreplayable) {
    ++s.stats.eagain;
    return Status::error(EAGAIN, fmt::format("transaction {}: its view could not be rebuilt after "
                                             "a restart",
                                             t.record.id()));
  }
  const std::vector<Obs> log = s.txns.read_log(s.ws, t);
  // Read-only transactions always commit: everything they read was one consistent
  // snapshot (docs/design.md), whatever changed since.
  if (std::none_of(log.begin(), log.end(), [](const Obs& e) { return e.op_type() != 0; })) {
    return kOkReply;
  }
  if (const Obs* e = broken_observation(s, t, log)) {
    ++s.stats.eagain;
    return Status::error(EAGAIN, fmt::format("transaction {}: {} changed since commit {}",
                                             t.record.id(), e->path(), base));
  }

  const uint64_t merge_seq = s.history.next() + 1;  // after the branch commit
  MainNodes view(s.ws, merge_seq);
  LiveAccounting acct(s.quotas, s.domains, r.node_delta, r.quota_hits);
  Tree tree(view, acct);
  uint32_t writes = 0;
  for (const Obs& e : log) {
    if (e.op_type() == 0) continue;
    ++writes;
    Status st = replay(tree, e, r.caller, r.changes);
    if (st.is_ok()) continue;
    if (st.err() == ENOSPC) return st;
    ++s.stats.eagain;
    return Status::error(EAGAIN,
                         fmt::format("transaction {}: replaying {} {} now fails: {}", t.record.id(),
                                     wire::type_name(e.op_type()), e.path(), st.to_string()));
  }
  if (r.changes.empty()) return kOkReply;  // nothing to merge

  CommitInfo info;
  info.author = commit_author(r, &r.conn);
  info.conn = t.conn;
  info.req_id = r.req.req_id();
  info.tx_id = t.record.id();
  info.summary = fmt::format("{}: transaction {} ({} writes)", author(r), t.record.id(), writes);
  r.merged_branch = s.history.commit_branch(s.ws, info, base, branch_changes(s, t), now_ns());
  r.summary = fmt::format("{}: merge transaction {} ({} writes)", author(r), t.record.id(), writes);
  return kOkReply;
}

void rebuild_view(StoreState& s, Transaction& t) {
  t.view_pending = false;
  const Connection* c = s.connections.find(t.conn);
  if (c == nullptr) return;  // its connection is gone: nobody can use it
  const Caller caller = s.caller_of(*c);
  TxnNodes view(t.view, s.ws, t.read_base());
  UncheckedAccounting acct;
  Tree tree(view, acct);
  for (const Obs& e : s.txns.read_log(s.ws, t)) {
    if (e.op_type() == 0) continue;
    ChangeList ignored;
    Status st = replay(tree, e, caller, ignored);
    // An outdated transaction reads the current tree, where its operations may no longer
    // apply; it commits EAGAIN whatever its view holds.
    if (st.is_ok() || t.record.outdated()) continue;
    s.log.warn(
        "transaction {} of connection {}: replaying {} {} after the restart fails ({}): "
        "its commit will answer EAGAIN",
        t.record.id(), t.conn, wire::type_name(e.op_type()), e.path(), st.to_string());
    t.unreplayable = true;
    break;
  }
  for (const std::string& p : view.touched()) t.accessed.insert(p);
}

}  // namespace dxs::store
