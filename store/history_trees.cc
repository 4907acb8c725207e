#include "store/history_trees.h"

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/path.h"
#include "common/xs_error.h"
#include "store/commit_view.h"
#include "store/point_in_time.h"

namespace dxs::store {
namespace {

// Approximate wire bytes of a node in a reply.
size_t bytes_of(const std::string& path, const pb::NodeState& s) {
  size_t n = path.size() + s.value().size() + s.value_digest().size() + 16;
  for (const std::string& p : s.perms()) n += p.size() + 2;
  return n;
}

bool same_state(const pb::NodeState& a, const pb::NodeState& b) {
  return a.exists() == b.exists() && a.value() == b.value() && a.redacted() == b.redacted() &&
         a.value_digest() == b.value_digest() &&
         std::equal(a.perms().begin(), a.perms().end(), b.perms().begin(), b.perms().end());
}

pb::NodeState state_in(NodeReader& tree, const std::string& path) {
  std::optional<Node> n = tree.get(path);
  if (!n) return {};
  return node_state(*n);
}

// The main commit a commit's tree grows from: itself, or a branch's base.
uint64_t main_point(const pb::CommitRecord& c, uint64_t seq) {
  if (c.on_main()) return seq;
  return c.parents_size() > 0 ? c.parents(0) : 0;
}

// The paths under `path` (or anywhere, for "/") of the nodes with a version in (lo, hi].
void changed_between(StateReader& state, const std::string& path, uint64_t lo, uint64_t hi,
                     std::vector<std::string>& out) {
  std::vector<std::string> prefixes;
  if (path == "/") {
    prefixes = {""};
  } else {
    prefixes = {keys::versions_prefix(path), path + '\0', path + '/'};
  }
  for (const std::string& prefix : prefixes) {
    auto it = state.iterate(Cf::kVersions, prefix);
    it->Seek(prefix);
    while (it->Valid() && keys::starts_with(it->key(), prefix)) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() < 9) fail_stop_corrupt(Cf::kVersions, key);
      const std::string node_key(key.substr(0, key.size() - 9));
      const std::string node_path = keys::path_of_node_key(node_key);
      // A node's versions sort newest first: the first at or before hi decides.
      it->Seek(keys::version(node_path, hi));
      const std::string versions = keys::versions_prefix(node_path);
      if (it->Valid() && keys::starts_with(it->key(), versions) &&
          keys::version_seq(std::string_view(it->key().data(), it->key().size())) > lo) {
        out.push_back(node_path);
      }
      it->Seek(keys::prefix_end(versions));
    }
  }
}

}  // namespace

Result<pb::AtReply> read_at(StateReader& state, const pb::AtRequest& request) {
  const std::string& path = request.path();
  if (!path::is_valid(path)) return Status::error(EINVAL, "not a canonical path");
  Result<uint64_t> seq = resolve_commit(state, request.at());
  if (!seq) return seq.status();
  Result<std::unique_ptr<NodeReader>> tree = tree_at(state, *seq);
  if (!tree) return tree.status();
  pb::AtReply reply;
  reply.set_seq(*seq);
  switch (request.op()) {
    case pb::AtRequest::READ:
    case pb::AtRequest::PERMS: {
      Result<pb::NodeState> n = read_node(**tree, path);
      if (!n) {
        reply.set_error(std::string(xs_error_name(n.err())));
        break;
      }
      pb::AtNode* out = reply.add_nodes();
      out->set_path(path);
      *out->mutable_state() = std::move(*n);
      if (request.op() == pb::AtRequest::PERMS) {
        out->mutable_state()->clear_value();
        out->mutable_state()->clear_value_digest();
      }
      break;
    }
    case pb::AtRequest::DIRECTORY: {
      Result<std::vector<std::string>> names = list_children(**tree, path);
      if (!names) {
        reply.set_error(std::string(xs_error_name(names.err())));
        break;
      }
      for (std::string& name : *names) reply.add_children(std::move(name));
      break;
    }
    case pb::AtRequest::LS: {
      size_t bytes = 0;
      Result<WalkResult> walk =
          walk_subtree(**tree, path, kMaxTreeNodes, [&](const std::string& p, const Node& n) {
            if (bytes > kMaxReplyBytes) return;
            pb::AtNode* out = reply.add_nodes();
            out->set_path(p);
            *out->mutable_state() = node_state(n);
            bytes += bytes_of(p, out->state());
          });
      if (!walk) {
        reply.set_error(std::string(xs_error_name(walk.err())));
        break;
      }
      reply.set_truncated(walk->truncated || bytes > kMaxReplyBytes);
      break;
    }
    default:
      return Status::error(EINVAL, "unknown operation");
  }
  return reply;
}

Result<pb::DiffReply> diff_trees(StateReader& state, const pb::DiffRequest& request) {
  const std::string path = request.path().empty() ? "/" : request.path();
  if (!path::is_valid(path)) return Status::error(EINVAL, "not a canonical path");
  Result<uint64_t> from = resolve_commit(state, request.from());
  if (!from) return from.status();
  Result<uint64_t> to = resolve_commit(state, request.to());
  if (!to) return to.status();
  Result<pb::CommitRecord> from_commit = read_commit(state, *from);
  if (!from_commit) return from_commit.status();
  Result<pb::CommitRecord> to_commit = read_commit(state, *to);
  if (!to_commit) return to_commit.status();
  Result<std::unique_ptr<NodeReader>> from_tree = tree_at(state, *from);
  if (!from_tree) return from_tree.status();
  Result<std::unique_ptr<NodeReader>> to_tree = tree_at(state, *to);
  if (!to_tree) return to_tree.status();

  const uint64_t a = main_point(*from_commit, *from);
  const uint64_t b = main_point(*to_commit, *to);
  std::vector<std::string> candidates;
  changed_between(state, path, std::min(a, b), std::max(a, b), candidates);
  for (const pb::CommitRecord* c : {&*from_commit, &*to_commit}) {
    if (c->on_main()) continue;
    for (const pb::Change& ch : c->changes()) {
      if (!path::is_special(ch.path()) && path::is_at_or_below(ch.path(), path))
        candidates.push_back(ch.path());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());

  pb::DiffReply reply;
  reply.set_from_seq(*from);
  reply.set_to_seq(*to);
  size_t bytes = 0;
  for (const std::string& p : candidates) {
    pb::NodeState before = state_in(**from_tree, p);
    pb::NodeState after = state_in(**to_tree, p);
    if (same_state(before, after)) continue;  // changed and changed back, or children only
    if (reply.changes_size() >= static_cast<int>(kMaxTreeNodes) || bytes > kMaxReplyBytes) {
      reply.set_truncated(true);
      break;
    }
    pb::NodeChange* out = reply.add_changes();
    out->set_path(p);
    if (!before.exists()) {
      out->set_kind(pb::Change::CREATED);
    } else if (!after.exists()) {
      out->set_kind(pb::Change::DELETED);
    } else if (before.value() != after.value() || before.value_digest() != after.value_digest()) {
      out->set_kind(pb::Change::MODIFIED);
    } else {
      out->set_kind(pb::Change::PERMS);
    }
    bytes += bytes_of(p, before) + bytes_of(p, after);
    *out->mutable_before() = std::move(before);
    *out->mutable_after() = std::move(after);
  }
  return reply;
}

Result<pb::BlameReply> blame(StateReader& state, const pb::BlameRequest& request) {
  const std::string& path = request.path();
  if (!path::is_valid(path)) return Status::error(EINVAL, "not a canonical path");
  pb::CommitRef at = request.at();
  if (at.ref_case() == pb::CommitRef::REF_NOT_SET) at.set_head(true);
  Result<uint64_t> seq = resolve_commit(state, at);
  if (!seq) return seq.status();
  Result<std::unique_ptr<NodeReader>> tree = tree_at(state, *seq);
  if (!tree) return tree.status();
  pb::BlameReply reply;
  reply.set_seq(*seq);
  // Many nodes name one commit (a merge, a domain's setup): each record is read once.
  std::unordered_map<uint64_t, std::optional<pb::CommitView>> commits;
  size_t bytes = 0;
  Result<WalkResult> walk =
      walk_subtree(**tree, path, kMaxTreeNodes, [&](const std::string& p, const Node& n) {
        if (bytes > kMaxReplyBytes) return;
        pb::BlameLine* line = reply.add_lines();
        line->set_path(p);
        *line->mutable_state() = node_state(n);
        const uint64_t changed = std::max(n.modified, n.perms_modified);
        auto [it, fresh] = commits.try_emplace(changed);
        if (fresh) {
          if (Result<pb::CommitRecord> c = read_commit(state, changed))
            it->second = commit_header(changed, *c);
        }
        if (it->second) *line->mutable_commit() = *it->second;
        bytes += bytes_of(p, line->state()) + line->commit().summary().size();
      });
  if (!walk) {
    reply.set_error(std::string(xs_error_name(walk.err())));
    return reply;
  }
  reply.set_truncated(walk->truncated || bytes > kMaxReplyBytes);
  return reply;
}

}  // namespace dxs::store
