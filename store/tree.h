// Tree: the Xenstore node operations (reference sections 3.1-3.2) on any NodeView.
//
// Each operation checks permissions and quotas first and changes nothing when it fails,
// so a failed request leaves no trace. What a successful operation changed is appended
// to a ChangeList, in the order watches must fire, for the history and watch modules.
//
// Paths given to Tree are canonical (common/path.h); special @ names are not nodes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/node.h"
#include "store/node_view.h"
#include "store/policy.h"
#include "store/quota.h"

namespace dxs::store {

struct Change {
  // kChildren: only the node's list of children changed (a child created or removed); it
  // fires no watch and is not listed in a commit, but is a version of the node.
  enum class Kind { kCreated, kModified, kPerms, kDeleted, kChildren };
  // Which watches the change fires: those at or above the path, those exactly on it (a
  // node removed below the root of an RM), or none (a parent created implicitly).
  enum class Fire { kSubtree, kExact, kNone };

  std::string path;
  Kind kind;
  Fire fire;
  std::optional<Node> before;
  std::optional<Node> after;
};
using ChangeList = std::vector<Change>;

class Tree {
 public:
  Tree(NodeView& view, Accounting& accounting) : view_(view), acct_(accounting) {}

  // The node at p if caller has `need` rights on it. ENOENT if it does not exist and the
  // caller has one of the `need` rights on its closest existing ancestor; EACCES
  // otherwise, so existence never leaks to a caller who may not see it.
  Result<Node> lookup(std::string_view p, const Caller& caller, uint8_t need);

  // Sets p's value, creating p and its missing ancestors.
  Status write(const std::string& p, std::string_view value, const Caller& caller,
               ChangeList& changes);
  // Creates p and its missing ancestors; nothing if p exists.
  Status mkdir(const std::string& p, const Caller& caller, ChangeList& changes);
  // Removes p and everything below it. OK if p is absent but its parent exists.
  Status remove(const std::string& p, const Caller& caller, ChangeList& changes);
  // REQUIRES: perms non-empty and parsed.
  Status set_perms(const std::string& p, const Perms& perms, const Caller& caller,
                   ChangeList& changes);

 private:
  Status create(const std::string& p, std::string_view value, const Caller& caller,
                ChangeList& changes);
  Status check_node_size(const Caller& caller, const Node& n, std::string_view p);

  NodeView& view_;
  Accounting& acct_;
};

}  // namespace dxs::store
