#include "store/point_in_time.h"

#include <fmt/format.h>

#include <cerrno>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/path.h"
#include "store/history.h"

namespace dxs::store {
namespace {

pb::CommitRecord parse_commit(const rocksdb::Iterator& it) {
  pb::CommitRecord c;
  if (!c.ParseFromArray(it.value().data(), static_cast<int>(it.value().size()))) {
    fail_stop_corrupt(Cf::kCommits, std::string_view(it.key().data(), it.key().size()));
  }
  return c;
}

uint64_t seq_of(const rocksdb::Iterator& it) {
  const std::string_view key(it.key().data(), it.key().size());
  const std::optional<uint64_t> seq = keys::commit_seq(key);
  if (!seq) fail_stop_corrupt(Cf::kCommits, key);
  return *seq;
}

// The commit on main at or before the iterator's position, at or after `horizon`
// (0: none). Branch commits sit just before their merge: a step or two back at most.
uint64_t main_at_or_before(rocksdb::Iterator& it, uint64_t horizon) {
  for (; it.Valid(); it.Prev()) {
    const uint64_t seq = seq_of(it);
    if (seq < horizon) return 0;
    if (parse_commit(it).on_main()) return seq;
  }
  return 0;
}

// The last commit on main made at or before time_ns: commit times grow with seq
// (CommitLog), so a binary search over the sequence numbers, each probe one seek.
uint64_t main_commit_at_time(StateReader& state, int64_t time_ns) {
  const uint64_t horizon = history_horizon(state);
  auto it = state.iterate(Cf::kCommits);
  it->Seek(keys::commit(horizon));
  if (!it->Valid() || parse_commit(*it).time_ns() > time_ns) return 0;
  uint64_t best = seq_of(*it);  // made at or before time_ns
  it->SeekToLast();
  uint64_t lo = best + 1;
  uint64_t hi = seq_of(*it);
  // Invariant: no commit in (best, lo) was made at or before time_ns, nor any after hi.
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    it->Seek(keys::commit(mid));
    const uint64_t seq = it->Valid() ? seq_of(*it) : hi + 1;
    if (seq <= hi && parse_commit(*it).time_ns() <= time_ns) {
      best = seq;
      lo = seq + 1;
    } else {
      hi = mid - 1;  // the first commit at or after mid is too late (or there is none)
    }
  }
  it->Seek(keys::commit(best));
  return main_at_or_before(*it, horizon);
}

Node restamped(Node n, uint64_t seq) {
  for (uint64_t* stamp : {&n.modified, &n.perms_modified, &n.children_modified, &n.created}) {
    if (*stamp == kTxnSeq) *stamp = seq;
  }
  return n;
}

// A branch commit's tree: its base's, with the branch's changes on top. A branch holds
// each node it changed whole (CommitLog::commit_branch), including every node a removal
// took and every ancestor a write created, so the changes of a parent's direct
// children are exactly how its list of children differs from the base's.
class BranchNodes final : public NodeReader {
 public:
  BranchNodes(StateReader& state, uint64_t base, uint64_t seq, const pb::CommitRecord& c)
      : base_(state, base) {
    for (const pb::Change& ch : c.changes()) {
      if (ch.has_after()) {
        changed_[ch.path()] = restamped(node_from_record(ch.after()), seq);
      } else {
        changed_[ch.path()] = std::nullopt;
      }
    }
    for (const auto& [p, n] : changed_) {
      if (p != "/") children_changed_[std::string(path::parent(p))].push_back(p);
    }
  }

  std::optional<Node> get(std::string_view path) override {
    auto it = changed_.find(path);
    if (it != changed_.end()) return it->second;
    return base_.get(path);
  }

  std::vector<std::string> children(std::string_view path) override {
    std::vector<std::string> base = base_.children(path);
    auto it = children_changed_.find(path);
    if (it == children_changed_.end()) return base;
    std::set<std::string> names(base.begin(), base.end());
    for (const std::string& child : it->second) {
      std::string name(path::basename(child));
      if (changed_.find(child)->second) {
        names.insert(std::move(name));
      } else {
        names.erase(name);
      }
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

 private:
  SnapshotNodes base_;
  std::map<std::string, std::optional<Node>, std::less<>> changed_;
  std::map<std::string, std::vector<std::string>, std::less<>> children_changed_;
};

std::string child_path(std::string_view parent, std::string_view name) {
  std::string p(parent == "/" ? "" : parent);
  p.push_back('/');
  p.append(name);
  return p;
}

}  // namespace

uint64_t history_horizon(StateReader& state) {
  std::string value;
  if (!state.get(Cf::kMeta, meta::kHistoryHorizon, &value)) return 0;
  if (value.size() != 8) fail_stop("corrupt history horizon in cf meta");
  return keys::load_be64(value);
}

uint64_t last_commit(StateReader& state) {
  auto it = state.iterate(Cf::kCommits);
  it->SeekToLast();
  return it->Valid() ? seq_of(*it) : 0;
}

uint64_t main_head(StateReader& state) {
  auto it = state.iterate(Cf::kCommits);
  it->SeekToLast();
  return main_at_or_before(*it, history_horizon(state));
}

Result<pb::CommitRecord> read_commit(StateReader& state, uint64_t seq) {
  pb::CommitRecord c;
  if (seq == 0 || seq < history_horizon(state) ||
      !state.get_record(Cf::kCommits, keys::commit(seq), &c)) {
    return Status::error(ENOENT, fmt::format("no commit {} in history", seq));
  }
  return c;
}

Result<uint64_t> resolve_commit(StateReader& state, const pb::CommitRef& ref) {
  switch (ref.ref_case()) {
    case pb::CommitRef::kSeq: {
      DXS_RETURN_IF_ERROR(read_commit(state, ref.seq()).status());
      return ref.seq();
    }
    case pb::CommitRef::kHead: {
      const uint64_t head = main_head(state);
      if (head == 0) return Status::error(ENOENT, "no commit on main");
      return head;
    }
    case pb::CommitRef::kTimeNs: {
      const uint64_t seq = main_commit_at_time(state, ref.time_ns());
      if (seq == 0) {
        return Status::error(ENOENT,
                             fmt::format("no commit on main at or before {} ns", ref.time_ns()));
      }
      return seq;
    }
    case pb::CommitRef::REF_NOT_SET:
      break;
  }
  return Status::error(EINVAL, "no commit named");
}

Result<std::unique_ptr<NodeReader>> tree_at(StateReader& state, uint64_t seq) {
  Result<pb::CommitRecord> c = read_commit(state, seq);
  if (!c.is_ok()) return c.status();
  if (c->on_main()) return std::unique_ptr<NodeReader>(std::make_unique<SnapshotNodes>(state, seq));
  // A branch's base is a commit on main that the branch's merge follows: retained if the
  // branch is (the horizon moves by main's commits).
  const uint64_t base = c->parents_size() > 0 ? c->parents(0) : 0;
  return std::unique_ptr<NodeReader>(std::make_unique<BranchNodes>(state, base, seq, *c));
}

std::vector<std::string> perms_text(const Perms& perms) {
  std::vector<std::string> out;
  out.reserve(perms.size());
  for (const PermEntry& p : perms) out.push_back(format_perm(p));
  return out;
}

pb::NodeState node_state(const Node& n) {
  pb::NodeState s;
  s.set_exists(true);
  if (n.redacted) {
    s.set_redacted(true);
    s.set_value_digest(n.value_digest);
  } else {
    s.set_value(n.value);
  }
  for (std::string& p : perms_text(n.perms)) s.add_perms(std::move(p));
  s.set_version(version_of(n));
  return s;
}

pb::NodeState node_state(const pb::NodeRecord& record, uint64_t version) {
  pb::NodeState s;
  if (record.deleted()) return s;
  s.set_exists(true);
  if (record.redacted()) {
    s.set_redacted(true);
    s.set_value_digest(record.value_digest());
  } else {
    s.set_value(record.value());
  }
  for (std::string& p : perms_text(perms_from_packed(record.perms()))) s.add_perms(std::move(p));
  s.set_version(version);
  return s;
}

Result<pb::NodeState> read_node(NodeReader& tree, std::string_view path) {
  std::optional<Node> n = tree.get(path);
  if (!n) return Status::error(ENOENT, fmt::format("{} does not exist", path));
  return node_state(*n);
}

Result<std::vector<std::string>> list_children(NodeReader& tree, std::string_view path) {
  if (!tree.get(path)) return Status::error(ENOENT, fmt::format("{} does not exist", path));
  return tree.children(path);
}

Result<WalkResult> walk_subtree(
    NodeReader& tree, std::string_view path, size_t max_nodes,
    const std::function<void(const std::string& node_path, const Node& node)>& visit) {
  std::optional<Node> root = tree.get(path);
  if (!root) return Status::error(ENOENT, fmt::format("{} does not exist", path));
  WalkResult result;
  if (max_nodes == 0) {
    result.truncated = true;
    return result;
  }
  // Iterative (XSA-418: a deep tree must not exhaust the stack).
  struct Frame {
    std::string path;
    std::vector<std::string> children;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  visit(std::string(path), *root);
  ++result.visited;
  stack.push_back(Frame{std::string(path), tree.children(path)});
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next == top.children.size()) {
      stack.pop_back();
      continue;
    }
    std::string p = child_path(top.path, top.children[top.next++]);
    std::optional<Node> n = tree.get(p);
    if (!n) continue;  // listed but absent: not a node of this tree
    if (result.visited == max_nodes) {
      result.truncated = true;
      break;
    }
    visit(p, *n);
    ++result.visited;
    std::vector<std::string> children = tree.children(p);
    stack.push_back(Frame{std::move(p), std::move(children)});
  }
  return result;
}

}  // namespace dxs::store
