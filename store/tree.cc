#include "store/tree.h"

#include <fmt/format.h>
#include <cerrno>

#include "common/path.h"

namespace dxs::store {

Result<Node> Tree::lookup(std::string_view p, const Caller& caller, uint8_t need) {
  std::optional<Node> n = view_.get(p);
  if (n && has_rights(caller, n->perms, need)) return std::move(*n);
  int err = n ? EACCES : ENOENT;
  if (err == ENOENT) {
    // xenstored's errno_from_parents: ENOENT only if the closest existing ancestor grants
    // some of what was asked (any one right: for SET_PERMS, write without ownership is
    // enough to learn that the node is absent, as the caller could create it).
    std::string_view up = p;
    while (up != "/") {
      up = path::parent(up);
      if (std::optional<Node> a = view_.get(up)) {
        if ((rights_for(caller, a->perms) & need) == 0) err = EACCES;
        break;
      }
    }
  }
  return Status::error(err);
}

Status Tree::check_node_size(const Caller& caller, const Node& n, std::string_view p) {
  if (caller.privileged) return Status::ok();
  const int64_t limit = acct_.limit(caller.domid, QuotaKind::kNodeSize);
  if (limit > 0 && static_cast<int64_t>(accounted_size(n)) >= limit) {
    return acct_.refuse(caller.domid, QuotaKind::kNodeSize, ENOSPC,
                        fmt::format("{} would be {} bytes", p, accounted_size(n)));
  }
  return Status::ok();
}

Status Tree::write(const std::string& p, std::string_view value, const Caller& caller,
                   ChangeList& changes) {
  Result<Node> found = lookup(p, caller, kRightWrite);
  if (!found.is_ok()) {
    if (found.err() != ENOENT) return found.status();
    return create(p, value, caller, changes);
  }
  Node n = std::move(found.value());
  Node before = n;
  n.value.assign(value);
  DXS_RETURN_IF_ERROR(check_node_size(caller, n, p));
  n.modified = view_.stamp();
  view_.put(p, n);
  changes.push_back(
      Change{p, Change::Kind::kModified, Change::Fire::kSubtree, std::move(before), std::move(n)});
  return Status::ok();
}

Status Tree::mkdir(const std::string& p, const Caller& caller, ChangeList& changes) {
  Result<Node> found = lookup(p, caller, kRightWrite);
  if (found.is_ok()) return Status::ok();
  if (found.err() != ENOENT) return found.status();
  return create(p, "", caller, changes);
}

Status Tree::create(const std::string& p, std::string_view value, const Caller& caller,
                    ChangeList& changes) {
  // Missing nodes, deepest first, up to the closest existing ancestor (the root always
  // exists). lookup() already checked write access on that ancestor.
  std::vector<std::string_view> missing{p};
  std::string_view up = path::parent(p);
  std::optional<Node> ancestor;
  while (!(ancestor = view_.get(up))) {
    missing.push_back(up);
    up = path::parent(up);
  }
  const std::string ancestor_path(up);
  const uint64_t stamp = view_.stamp();

  // Inherit the ancestor's permissions; unprivileged domains own what they create.
  Perms perms = ancestor->perms;
  if (!caller.privileged) perms[0].domid = caller.domid;
  const uint32_t owner = perms[0].domid;

  if (!caller.privileged) {
    const int64_t limit = acct_.limit(caller.domid, QuotaKind::kNodes);
    const int64_t count = acct_.node_count(caller.domid);
    if (limit > 0 && count + static_cast<int64_t>(missing.size()) > limit) {
      return acct_.refuse(caller.domid, QuotaKind::kNodes, ENOSPC,
                          fmt::format("creating {} ({} owned, limit {})", p, count, limit));
    }
  }

  Node parent = std::move(*ancestor);
  Node parent_before = parent;
  parent.child_count += 1;
  parent.children_bytes += static_cast<uint32_t>(path::basename(missing.back()).size() + 1);
  parent.children_modified = stamp;
  DXS_RETURN_IF_ERROR(check_node_size(caller, parent, ancestor_path));

  // Build top-down; each new node but the last has exactly one child, the next.
  std::vector<Node> fresh(missing.size());
  for (size_t i = missing.size(); i-- > 0;) {
    Node& n = fresh[i];
    n.perms = perms;
    n.modified = n.perms_modified = n.children_modified = n.created = stamp;
    if (i == 0) {
      n.value.assign(value);
    } else {
      n.child_count = 1;
      n.children_bytes = static_cast<uint32_t>(path::basename(missing[i - 1]).size() + 1);
    }
  }
  DXS_RETURN_IF_ERROR(check_node_size(caller, fresh[0], p));

  view_.put(ancestor_path, parent);
  changes.push_back(Change{ancestor_path, Change::Kind::kChildren, Change::Fire::kNone,
                           std::move(parent_before), parent});
  for (size_t i = missing.size(); i-- > 0;) {
    view_.put(missing[i], fresh[i]);
    acct_.adjust_node_count(owner, 1);
  }
  // Intermediate nodes are history, not events: only the requested path fires.
  for (size_t i = missing.size(); i-- > 1;) {
    changes.push_back(Change{std::string(missing[i]), Change::Kind::kCreated, Change::Fire::kNone,
                             std::nullopt, std::move(fresh[i])});
  }
  changes.push_back(
      Change{p, Change::Kind::kCreated, Change::Fire::kSubtree, std::nullopt, std::move(fresh[0])});
  return Status::ok();
}

Status Tree::remove(const std::string& p, const Caller& caller, ChangeList& changes) {
  Result<Node> found = lookup(p, caller, kRightWrite);
  if (!found.is_ok()) {
    if (found.err() != ENOENT) return found.status();
    // Absent is fine if the parent exists (xenstored does not check its permissions).
    if (p != "/" && view_.get(path::parent(p))) return Status::ok();
    return Status::error(ENOENT);
  }
  if (p == "/") return Status::error(EINVAL, "cannot remove /");

  // Iterative post-order walk (XSA-418: a deep tree must not exhaust the stack). Nodes are
  // erased children first, as xenstored fires their watches.
  struct Frame {
    std::string path;
    Node node;
    std::vector<std::string> children;
    size_t next = 0;
  };
  // A node's record counts its children: most nodes of a subtree are leaves, and listing
  // one is a scan of the database.
  auto children_of = [&](const std::string& path, const Node& n) {
    return n.child_count == 0 ? std::vector<std::string>() : view_.children(path);
  };
  std::vector<Frame> stack;
  std::vector<std::string> top_children = children_of(p, found.value());
  stack.push_back(Frame{p, std::move(found.value()), std::move(top_children)});
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next < top.children.size()) {
      std::string child =
          top.path == "/" ? "/" + top.children[top.next] : top.path + "/" + top.children[top.next];
      ++top.next;
      std::optional<Node> n = view_.get(child);
      if (!n) continue;  // listed but gone: nothing to remove
      std::vector<std::string> grandchildren = children_of(child, *n);
      stack.push_back(Frame{std::move(child), std::move(*n), std::move(grandchildren)});
      continue;
    }
    view_.erase(top.path);
    acct_.adjust_node_count(top.node.owner(), -1);
    const Change::Fire fire = stack.size() == 1 ? Change::Fire::kSubtree : Change::Fire::kExact;
    changes.push_back(Change{std::move(top.path), Change::Kind::kDeleted, fire, std::move(top.node),
                             std::nullopt});
    stack.pop_back();
  }

  const std::string parent_path(path::parent(p));
  std::optional<Node> parent = view_.get(parent_path);
  if (parent) {
    Node before = *parent;
    parent->child_count -= 1;
    parent->children_bytes -= static_cast<uint32_t>(path::basename(p).size() + 1);
    parent->children_modified = view_.stamp();
    view_.put(parent_path, *parent);
    changes.push_back(Change{parent_path, Change::Kind::kChildren, Change::Fire::kNone,
                             std::move(before), std::move(*parent)});
  }
  return Status::ok();
}

Status Tree::set_perms(const std::string& p, const Perms& perms, const Caller& caller,
                       ChangeList& changes) {
  Result<Node> found = lookup(p, caller, kRightWrite | kRightOwner);
  if (!found.is_ok()) return found.status();
  Node n = std::move(found.value());
  // Unprivileged domains may not give their nodes away (XSA-352).
  if (!caller.privileged && perms[0].domid != n.owner()) {
    return Status::error(EPERM,
                         fmt::format("dom{} may not change the owner of {}", caller.domid, p));
  }
  Node before = n;
  n.perms = perms;
  DXS_RETURN_IF_ERROR(check_node_size(caller, n, p));
  if (before.owner() != n.owner()) {
    acct_.adjust_node_count(before.owner(), -1);
    acct_.adjust_node_count(n.owner(), 1);
  }
  n.modified = n.perms_modified = view_.stamp();
  view_.put(p, n);
  changes.push_back(
      Change{p, Change::Kind::kPerms, Change::Fire::kSubtree, std::move(before), std::move(n)});
  return Status::ok();
}

}  // namespace dxs::store
