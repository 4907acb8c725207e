// Engine: requests on nodes (READ, DIRECTORY, DIRECTORY_PART, GET_PERMS, WRITE, MKDIR,
// RM, SET_PERMS) and transactions (TRANSACTION_START, TRANSACTION_END).
#include <fmt/format.h>
#include <algorithm>
#include <cerrno>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "store/engine.h"
#include "store/engine_request.h"

namespace dxs::store {

using wire::MsgType;
using Obs = pb::TxnLogEntry;

namespace {

std::string join_children(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    out.append(n);
    out.push_back('\0');
  }
  return out;
}

}  // namespace

// Runs fn(tree, view) on the request's view: its transaction's, or the live tree.
template <typename Fn>
auto Engine::with_tree(Request& r, Fn&& fn) {
  if (r.txn != nullptr) {
    TxnNodes view(*ws_, r.txn->conn, r.txn->record.id(), r.txn->record.base());
    TxnAccounting acct(*this, r, *r.txn);
    Tree tree(view, acct);
    return fn(tree, static_cast<NodeView&>(view));
  }
  if (r.as_of) {
    FrozenNodes view(*ws_, *r.as_of);
    PendingAccounting acct(*this, r);
    Tree tree(view, acct);
    return fn(tree, static_cast<NodeView&>(view));
  }
  MainNodes view(*ws_, history_.next());
  PendingAccounting acct(*this, r);
  Tree tree(view, acct);
  return fn(tree, static_cast<NodeView&>(view));
}

Status Engine::check_txn_access(Request& r, std::string_view path) {
  if (r.txn == nullptr || r.caller.privileged) return Status::ok();
  const int64_t limit = quota_limit(r.caller.domid, QuotaKind::kTransactionNodes);
  if (limit > 0 && static_cast<int64_t>(r.txn->accessed.size()) >= limit &&
      r.txn->accessed.count(std::string(path)) == 0) {
    r.quota_hits.emplace_back(r.caller.domid, QuotaKind::kTransactionNodes);
    return refuse_quota(r.caller.domid, QuotaKind::kTransactionNodes, ENOSPC,
                        fmt::format("transaction {} touching {}", r.txn->record.id(), path));
  }
  return Status::ok();
}

bool Engine::owned_by_txn(Request& r, std::string_view path, Obs::Observation kind,
                          const std::optional<Node>& seen) {
  if (!seen) {
    // Absent in the transaction's view: its own removal if the overlay says so.
    std::string value;
    return ws_->get(Cf::kTxnNodes, keys::txn_node(r.txn->conn, r.txn->record.id(), path), &value);
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

void Engine::observe(Request& r, Obs::Observation kind, std::string_view path,
                     const std::optional<Node>& seen) {
  if (r.txn == nullptr) return;
  std::string key = observation_key(kind, path);
  if (r.txn->observed.count(key) != 0) return;
  if (owned_by_txn(r, path, kind, seen)) return;
  Obs entry;
  entry.set_observed(kind);
  entry.set_path(std::string(path));
  entry.set_existed(seen.has_value());
  // Logged by run_request after the request, which may yet fail and roll back its writes.
  r.txn->observed.insert(std::move(key));
  r.observations.push_back(std::move(entry));
}

// READ, GET_PERMS, DIRECTORY and DIRECTORY_PART: resolve the path, count it against
// the transaction's nodes, record what is observed (in a transaction) and look the node
// up with read permission; `answer` makes the reply from the node found.
template <typename Fn>
Result<std::string> Engine::read_node(Request& r, const std::string& raw_path,
                                      Obs::Observation kind, Fn&& answer) {
  auto path = canonical_path(r, raw_path);
  if (!path) return path.status();
  DXS_RETURN_IF_ERROR(check_txn_access(r, *path));
  return with_tree(r, [&](Tree& tree, NodeView& view) -> Result<std::string> {
    if (r.txn) observe(r, kind, *path, view.get(*path));
    Result<Node> n = tree.lookup(*path, r.caller, kRightRead);
    if (!n) return n.status();
    return answer(*path, *n, view);
  });
}

Result<std::string> Engine::do_read(Request& r) {
  return read_node(r, r.req.path().path(), Obs::NODE,
                   [](const std::string&, Node& n, NodeView&) -> Result<std::string> {
                     return std::move(n.value);
                   });
}

Result<std::string> Engine::do_get_perms(Request& r) {
  return read_node(r, r.req.path().path(), Obs::PERMS,
                   [](const std::string&, Node& n, NodeView&) -> Result<std::string> {
                     return format_perms_payload(n.perms);
                   });
}

std::string Engine::listing(const Request& r, const std::string& path, const Node& n,
                            NodeView& view) {
  const bool live = r.txn == nullptr && !r.as_of;
  if (live) {
    if (const std::string* cached = listings_.find(path, n.children_modified)) return *cached;
  }
  std::string list = join_children(view.children(path));
  if (live) listings_.insert(path, n.children_modified, list);
  return list;
}

Result<std::string> Engine::do_directory(Request& r) {
  return read_node(r, r.req.path().path(), Obs::CHILDREN,
                   [&](const std::string& path, Node& n, NodeView& view) -> Result<std::string> {
                     if (n.child_count == 0) return std::string();  // most nodes: no scan
                     return listing(r, path, n, view);
                   });
}

// DIRECTORY_PART <path> <byte offset>: as many whole names as fit after the node's
// generation, and an empty name once the end of the list is reached (reference 1.6).
Result<std::string> Engine::do_directory_part(Request& r) {
  if (!r.req.has_strings() || r.req.strings().strings_size() != 2) {
    return Status::error(EINVAL, "DIRECTORY_PART needs a path and an offset");
  }
  int64_t offset = 0;
  if (!parse_int(r.req.strings().strings(1), 0, UINT32_MAX, offset)) {
    return Status::error(EINVAL, "DIRECTORY_PART offset is not a decimal number");
  }
  return read_node(r, r.req.strings().strings(0), Obs::CHILDREN,
                   [&](const std::string& path, Node& n, NodeView& view) -> Result<std::string> {
                     const std::string list = listing(r, path, n, view);
                     std::string out = std::to_string(n.children_modified);
                     out.push_back('\0');
                     const size_t off = static_cast<size_t>(offset);
                     if (off >= list.size()) {
                       out.push_back('\0');
                       return out;
                     }
                     const size_t max_len = wire::kPayloadMax - out.size() - 1;
                     size_t len = 0;
                     while (off + len < list.size()) {
                       const size_t name_len = std::strlen(list.c_str() + off + len);
                       if (len + name_len >= max_len) break;
                       len += name_len + 1;
                     }
                     out.append(list, off, len);
                     if (off + len == list.size()) out.push_back('\0');
                     return out;
                   });
}

Result<std::string> Engine::mutate(Request& r, Obs&& op,
                                   const std::function<Status(Tree&, ChangeList&)>& fn) {
  if (r.txn == nullptr) {
    MainNodes view(*ws_, history_.next());
    PendingAccounting acct(*this, r);
    Tree tree(view, acct);
    DXS_RETURN_IF_ERROR(fn(tree, r.changes));
    return kOkReply;
  }
  DXS_RETURN_IF_ERROR(check_txn_access(r, op.path()));
  TxnNodes view(*ws_, r.txn->conn, r.txn->record.id(), r.txn->record.base());
  TxnAccounting acct(*this, r, *r.txn);
  Tree tree(view, acct);
  ChangeList mine;
  DXS_RETURN_IF_ERROR(fn(tree, mine));
  // Creating nodes reads the permissions of the closest existing ancestor (the right to
  // write there, and what the new nodes inherit, which the client can read back): an
  // observation like any read. Children created by others under it still merge.
  const bool created = std::any_of(
      mine.begin(), mine.end(), [](const Change& c) { return c.kind == Change::Kind::kCreated; });
  if (created) {
    for (const Change& c : mine) {
      if (c.kind == Change::Kind::kChildren) observe(r, Obs::PERMS, c.path, c.before);
    }
  }
  // Every node written, as TransactionTable::load counts them from the private view
  // after a restart (and as C counts the parent whose children changed).
  for (const std::string& p : view.touched()) r.txn->accessed.insert(p);
  op.set_reply_type(r.req.type());
  op.set_reply_payload(kOkReply);
  r.txn->record.set_writes(r.txn->record.writes() + 1);
  txns_.append(*ws_, *r.txn, op);
  return kOkReply;
}

Result<std::string> Engine::do_write(Request& r) {
  auto path = canonical_path(r, r.req.write().path());
  if (!path) return path.status();
  const std::string& value = r.req.write().value();
  Obs op;
  op.set_op_type(r.req.type());
  op.set_path(*path);
  op.set_value(value);
  auto result = mutate(r, std::move(op), [&](Tree& tree, ChangeList& changes) {
    return tree.write(*path, value, r.caller, changes);
  });
  r.summary = fmt::format("{}: write {} = {}", author(r), *path, abbreviate_value(value));
  return result;
}

// MKDIR and RM: one path, a change of the tree.
Result<std::string> Engine::path_change(Request& r, std::string_view verb,
                                        Status (Tree::*change)(const std::string&, const Caller&,
                                                               ChangeList&)) {
  auto path = canonical_path(r, r.req.path().path());
  if (!path) return path.status();
  Obs op;
  op.set_op_type(r.req.type());
  op.set_path(*path);
  auto result = mutate(r, std::move(op), [&](Tree& tree, ChangeList& changes) {
    return (tree.*change)(*path, r.caller, changes);
  });
  r.summary = fmt::format("{}: {} {}", author(r), verb, *path);
  return result;
}

Result<std::string> Engine::do_mkdir(Request& r) {
  return path_change(r, "mkdir", &Tree::mkdir);
}

Result<std::string> Engine::do_rm(Request& r) {
  return path_change(r, "rm", &Tree::remove);
}

Result<std::string> Engine::do_set_perms(Request& r) {
  const auto& args = r.req.set_perms();
  if (!r.caller.privileged) {
    const int64_t limit = quota_limit(r.caller.domid, QuotaKind::kPermissions);
    if (limit > 0 && args.perms_size() > limit) {
      r.quota_hits.emplace_back(r.caller.domid, QuotaKind::kPermissions);
      return refuse_quota(r.caller.domid, QuotaKind::kPermissions, ENOSPC,
                          fmt::format("{} permissions on {}", args.perms_size(), args.path()));
    }
  }
  Perms perms;
  for (const auto& s : args.perms()) {
    Result<PermEntry> p = parse_perm(s);
    if (!p) return p.status();
    perms.push_back(*p);
  }
  if (path::is_special(args.path())) {
    if (args.path() != "@introduceDomain" && args.path() != "@releaseDomain") {
      return Status::error(EINVAL, fmt::format("no special node {}", args.path()));
    }
    if (!has_rights(r.caller, special_perms(args.path()), kRightWrite | kRightOwner)) {
      return Status::error(EACCES);
    }
    pb::NodeRecord record;
    perms_to_packed(perms, *record.mutable_perms());
    ws_->put_record(Cf::kMeta, std::string(meta::kSpecialPermsPrefix) + args.path(), record);
    return kOkReply;
  }
  auto path = canonical_path(r, args.path());
  if (!path) return path.status();
  Obs op;
  op.set_op_type(r.req.type());
  op.set_path(*path);
  perms_to_packed(perms, *op.mutable_perms());
  auto result = mutate(r, std::move(op), [&](Tree& tree, ChangeList& changes) {
    return tree.set_perms(*path, perms, r.caller, changes);
  });
  r.summary = fmt::format("{}: setperms {} = {}", author(r), *path, format_perms(perms));
  return result;
}

Result<std::string> Engine::do_transaction_start(Request& r) {
  if (r.txn != nullptr) return Status::error(EBUSY, "transactions do not nest");
  Connection& c = r.conn;
  if (!r.caller.privileged) {
    const int64_t limit = quota_limit(r.caller.domid, QuotaKind::kTransactions);
    if (limit > 0 && static_cast<int64_t>(c.open_transactions) >= limit) {
      r.quota_hits.emplace_back(r.caller.domid, QuotaKind::kTransactions);
      return refuse_quota(
          r.caller.domid, QuotaKind::kTransactions, ENOSPC,
          fmt::format("connection {} has {} open", c.record.id(), c.open_transactions));
    }
  }
  uint32_t id = c.record.next_tx_id();
  while (id == 0 || txns_.find(c.record.id(), id) != nullptr) ++id;
  c.record.set_next_tx_id(id + 1);
  txns_.start(c.record.id(), id, history_.head(), now_ns());
  c.open_transactions += 1;
  connections_.save(c);
  return std::to_string(id) + '\0';
}

Result<std::string> Engine::do_transaction_end(Request& r) {
  const std::string* arg = one_arg(r.req);
  if (arg == nullptr || (*arg != "T" && *arg != "F")) {
    return Status::error(EINVAL, "TRANSACTION_END takes T or F");
  }
  if (r.txn == nullptr) return Status::error(ENOENT, "no transaction to end");
  Transaction& t = *r.txn;
  const uint64_t conn = t.conn;
  const uint32_t id = t.record.id();
  auto forget = [this, conn, id]() {
    txns_.discard(*ws_, conn, id);
    if (Connection* c = connections_.find(conn)) {
      c->open_transactions -= 1;
      connections_.save(*c);
    }
  };
  if (*arg == "F") {
    r.txn = nullptr;
    forget();
    return kOkReply;
  }
  Result<std::string> committed = commit_transaction(r, t);
  r.txn = nullptr;
  if (!committed) {
    r.on_failure.push_back(forget);
    return committed;
  }
  forget();
  return committed;
}

// Commits t onto main (ARCHITECTURE.md section 5): everything it observed must be as it
// was at its base, and every operation replayed on the live tree must answer what it
// answered in the transaction. Creating or removing different children of one parent
// therefore never conflicts; reading something another client changed does.
Result<std::string> Engine::commit_transaction(Request& r, Transaction& t) {
  const uint64_t base = t.record.base();
  const std::vector<Obs> entries = txns_.read_log(*ws_, t);
  // Read-only transactions always commit: everything they read was one consistent
  // snapshot (docs/design.md), whatever changed since.
  if (std::none_of(entries.begin(), entries.end(), [](const Obs& e) { return e.op_type() != 0; })) {
    return kOkReply;
  }
  MainNodes live(*ws_, 0);
  for (const Obs& e : entries) {
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
    }
    if (changed) {
      ++stats_.eagain;
      return Status::error(EAGAIN, fmt::format("transaction {}: {} changed since commit {}",
                                               t.record.id(), e.path(), base));
    }
  }

  const uint64_t branch_seq = history_.next();
  const uint64_t merge_seq = branch_seq + 1;
  MainNodes view(*ws_, merge_seq);
  PendingAccounting acct(*this, r);
  Tree tree(view, acct);
  uint32_t writes = 0;
  for (const Obs& e : entries) {
    if (e.op_type() == 0) continue;
    ++writes;
    Status s;
    switch (static_cast<MsgType>(e.op_type())) {
      case MsgType::kWrite:
        s = tree.write(e.path(), e.value(), r.caller, r.changes);
        break;
      case MsgType::kMkdir:
        s = tree.mkdir(e.path(), r.caller, r.changes);
        break;
      case MsgType::kRm:
        s = tree.remove(e.path(), r.caller, r.changes);
        break;
      case MsgType::kSetPerms:
        s = tree.set_perms(e.path(), perms_from_packed(e.perms()), r.caller, r.changes);
        break;
      default:
        s = Status::error(EIO, "unknown operation in transaction log");
        break;
    }
    if (!s.is_ok()) {
      if (s.err() == ENOSPC) return s;
      ++stats_.eagain;
      return Status::error(
          EAGAIN, fmt::format("transaction {}: replaying {} {} now fails: {}", t.record.id(),
                              wire::type_name(e.op_type()), e.path(), s.to_string()));
    }
  }
  if (r.changes.empty()) return kOkReply;  // nothing to merge

  // The branch: the transaction's own view of what it changed, relative to its base.
  ChangeList branch;
  SnapshotNodes at_base(*ws_, base);
  const std::string prefix = keys::txn(t.conn, t.record.id());
  auto it = ws_->iterate(Cf::kTxnNodes, prefix);
  for (it->Seek(prefix); it->Valid() && keys::starts_with(it->key(), prefix); it->Next()) {
    pb::NodeRecord rec;
    rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
    std::string p = keys::path_of_node_key(
        std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()));
    if (rec.deleted()) {
      // Created and removed again within the transaction: no change relative to the base.
      if (!at_base.get(p)) continue;
      branch.push_back(Change{std::move(p), Change::Kind::kDeleted, Change::Fire::kNone,
                              std::nullopt, std::nullopt});
    } else if (rec.created() == kTxnSeq) {
      branch.push_back(Change{std::move(p), Change::Kind::kCreated, Change::Fire::kNone,
                              std::nullopt, node_from_record(rec)});
    } else if (rec.modified() == kTxnSeq) {
      branch.push_back(Change{std::move(p), Change::Kind::kModified, Change::Fire::kNone,
                              std::nullopt, node_from_record(rec)});
    }
  }
  CommitInfo info;
  info.author_domid = r.caller.domid;
  info.conn = t.conn;
  info.req_id = r.req.req_id();
  info.tx_id = t.record.id();
  info.summary = fmt::format("{}: transaction {} ({} writes)", author(r), t.record.id(), writes);
  r.merged_branch = history_.commit_branch(*ws_, info, base, branch, now_ns());
  r.summary = fmt::format("{}: merge transaction {} ({} writes)", author(r), t.record.id(), writes);
  return kOkReply;
}

}  // namespace dxs::store
