// Commands on nodes: READ, GET_PERMS, DIRECTORY, DIRECTORY_PART, WRITE, MKDIR, RM,
// SET_PERMS, on the live tree or in the request's transaction.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "store/commands.h"
#include "store/directory_listing.h"
#include "store/history.h"
#include "store/node_view.h"
#include "store/special_nodes.h"
#include "store/tree.h"
#include "store/txn_merge.h"

namespace dxs::store {
namespace {

using Obs = pb::TxnLogEntry;

// Runs fn(tree, view) on the request's view: its transaction's, the tree as of a past
// commit (a re-sent read), or the live tree.
template <typename Fn>
auto with_tree(StoreState& s, Request& r, Fn&& fn) {
  if (r.txn != nullptr) {
    TxnNodes view(r.txn->view, s.ws, r.txn->read_base());
    TxnAccounting acct(s.quotas, s.domains, r.node_delta, r.quota_hits, r.txn->record.node_delta());
    Tree tree(view, acct);
    return fn(tree, static_cast<NodeView&>(view));
  }
  LiveAccounting acct(s.quotas, s.domains, r.node_delta, r.quota_hits);
  if (r.as_of) {
    FrozenNodes view(s.ws, *r.as_of);
    Tree tree(view, acct);
    return fn(tree, static_cast<NodeView&>(view));
  }
  MainNodes view(s.ws, s.history.next());
  Tree tree(view, acct);
  return fn(tree, static_cast<NodeView&>(view));
}

// The shared steps of the four reads: resolve the path, count it against the
// transaction's nodes, note what is observed (in a transaction) and look the node up
// with read permission; `answer(path, node, view)` makes the reply from the node found.
template <typename Fn>
Result<std::string> read_node(StoreState& s, Request& r, const std::string& raw_path,
                              Obs::Observation kind, Fn&& answer) {
  auto path = canonical_path(s, r, raw_path);
  if (!path) return path.status();
  DXS_RETURN_IF_ERROR(check_txn_access(s, r, *path));
  return with_tree(s, r, [&](Tree& tree, NodeView& view) -> Result<std::string> {
    if (r.txn) observe(r, kind, *path, view.get(*path));
    Result<Node> n = tree.lookup(*path, r.caller, kRightRead);
    if (!n) return n.status();
    return answer(*path, *n, view);
  });
}

// The NUL-separated children of path (node n, as the view has it), from the listing
// cache when the request reads the live tree.
std::string listing(StoreState& s, const Request& r, const std::string& path, const Node& n,
                    NodeView& view) {
  const bool live = r.txn == nullptr && !r.as_of;
  if (live) {
    if (const std::string* cached = s.listings.find(path, n.children_modified)) return *cached;
  }
  std::string list = join_children(view.children(path));
  if (live) s.listings.insert(path, n.children_modified, list);
  return list;
}

// Applies one change of the tree: directly on main, or in the transaction, where `op`
// is logged to be replayed at commit.
Result<std::string> mutate(StoreState& s, Request& r, Obs&& op,
                           const std::function<Status(Tree&, ChangeList&)>& fn) {
  if (r.txn == nullptr) {
    MainNodes view(s.ws, s.history.next());
    LiveAccounting acct(s.quotas, s.domains, r.node_delta, r.quota_hits);
    Tree tree(view, acct);
    DXS_RETURN_IF_ERROR(fn(tree, r.changes));
    return kOkReply;
  }
  DXS_RETURN_IF_ERROR(check_txn_access(s, r, op.path()));
  TxnNodes view(r.txn->view, s.ws, r.txn->read_base());
  TxnAccounting acct(s.quotas, s.domains, r.node_delta, r.quota_hits, r.txn->record.node_delta());
  Tree tree(view, acct);
  ChangeList mine;
  // The view is in memory (PrivateNodes), outside the savepoint a failed request is
  // rolled back to: it is left as it was only because a Tree operation checks everything
  // before its first put, and nothing after this point fails the request.
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
  // Every node written, as rebuild_view counts them after a restart (and as C counts
  // the parent whose children changed).
  for (const std::string& p : view.touched()) r.txn->accessed.insert(p);
  op.set_reply_type(r.req.type());
  op.set_reply_payload(kOkReply);
  r.txn->record.set_writes(r.txn->record.writes() + 1);
  s.txns.append(s.ws, *r.txn, op);
  return kOkReply;
}

// MKDIR and RM: one path, a change of the tree.
Result<std::string> path_change(StoreState& s, Request& r, std::string_view verb,
                                Status (Tree::*change)(const std::string&, const Caller&,
                                                       ChangeList&)) {
  auto path = canonical_path(s, r, r.req.path().path());
  if (!path) return path.status();
  Obs op;
  op.set_op_type(r.req.type());
  op.set_path(*path);
  auto result = mutate(s, r, std::move(op), [&](Tree& tree, ChangeList& changes) {
    return (tree.*change)(*path, r.caller, changes);
  });
  r.summary = fmt::format("{}: {} {}", author(r), verb, *path);
  return result;
}

// SET_PERMS of @introduceDomain or @releaseDomain.
Result<std::string> set_special_node_perms(StoreState& s, Request& r, const std::string& name,
                                           const Perms& perms) {
  if (!is_special_node(name)) return Status::error(EINVAL, fmt::format("no special node {}", name));
  const Perms before = special_perms(s.ws, name);
  if (!has_rights(r.caller, before, kRightWrite | kRightOwner)) return Status::error(EACCES);
  set_special_perms(s.ws, name, perms);
  r.changes.push_back(special_perms_change(name, before, perms));
  r.summary = fmt::format("{}: setperms {} = {}", author(r), name, format_perms(perms));
  return kOkReply;
}

}  // namespace

Result<std::string> cmd_read(StoreState& s, Request& r) {
  return read_node(s, r, r.req.path().path(), Obs::NODE,
                   [](const std::string&, Node& n, NodeView&) -> Result<std::string> {
                     return std::move(n.value);
                   });
}

Result<std::string> cmd_get_perms(StoreState& s, Request& r) {
  return read_node(s, r, r.req.path().path(), Obs::PERMS,
                   [](const std::string&, Node& n, NodeView&) -> Result<std::string> {
                     return format_perms_payload(n.perms);
                   });
}

Result<std::string> cmd_directory(StoreState& s, Request& r) {
  return read_node(s, r, r.req.path().path(), Obs::CHILDREN,
                   [&](const std::string& path, Node& n, NodeView& view) -> Result<std::string> {
                     if (n.child_count == 0) return std::string();  // most nodes: no scan
                     return listing(s, r, path, n, view);
                   });
}

// DIRECTORY_PART <path> <byte offset>: as many whole names as fit after the node's
// generation, and an empty name once the end of the list is reached (reference 1.6).
Result<std::string> cmd_directory_part(StoreState& s, Request& r) {
  int64_t offset = 0;
  if (!parse_int(r.req.strings().strings(1), 0, UINT32_MAX, offset)) {
    return Status::error(EINVAL, "DIRECTORY_PART offset is not a decimal number");
  }
  return read_node(s, r, r.req.strings().strings(0), Obs::CHILDREN,
                   [&](const std::string& path, Node& n, NodeView& view) -> Result<std::string> {
                     return directory_part(listing(s, r, path, n, view), n.children_modified,
                                           static_cast<size_t>(offset));
                   });
}

Result<std::string> cmd_write(StoreState& s, Request& r) {
  auto path = canonical_path(s, r, r.req.write().path());
  if (!path) return path.status();
  const std::string& value = r.req.write().value();
  Obs op;
  op.set_op_type(r.req.type());
  op.set_path(*path);
  op.set_value(value);
  auto result = mutate(s, r, std::move(op), [&](Tree& tree, ChangeList& changes) {
    return tree.write(*path, value, r.caller, changes);
  });
  r.summary =
      fmt::format("{}: write {} = {}", author(r), *path, s.privacy.summary_value(*path, value));
  return result;
}

Result<std::string> cmd_mkdir(StoreState& s, Request& r) {
  return path_change(s, r, "mkdir", &Tree::mkdir);
}

Result<std::string> cmd_rm(StoreState& s, Request& r) {
  return path_change(s, r, "rm", &Tree::remove);
}

Result<std::string> cmd_set_perms(StoreState& s, Request& r) {
  const auto& args = r.req.set_perms();
  DXS_RETURN_IF_ERROR(s.quotas.admit(
      r.caller, QuotaKind::kPermissions, 0, args.perms_size(), r.quota_hits,
      [&] { return fmt::format("{} permissions on {}", args.perms_size(), args.path()); }));
  Perms perms;
  for (const auto& p : args.perms()) {
    Result<PermEntry> entry = parse_perm(p);
    if (!entry) return entry.status();
    perms.push_back(*entry);
  }
  if (path::is_special(args.path())) return set_special_node_perms(s, r, args.path(), perms);
  auto path = canonical_path(s, r, args.path());
  if (!path) return path.status();
  Obs op;
  op.set_op_type(r.req.type());
  op.set_path(*path);
  perms_to_packed(perms, *op.mutable_perms());
  auto result = mutate(s, r, std::move(op), [&](Tree& tree, ChangeList& changes) {
    return tree.set_perms(*path, perms, r.caller, changes);
  });
  r.summary = fmt::format("{}: setperms {} = {}", author(r), *path, format_perms(perms));
  return result;
}

}  // namespace dxs::store
