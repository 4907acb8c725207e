#include "store/commit_view.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/path.h"
#include "store/node_view.h"
#include "store/point_in_time.h"

namespace dxs::store {
namespace {

// A record held by a change itself (a special node, a branch's after): no version
// names it, so `version` is the commit it was read from, or 0 where that is not known.
pb::NodeState held_state(const pb::NodeRecord& record, uint64_t version) {
  return node_state(record, version);
}

bool same_node(const pb::NodeState& a, const pb::NodeState& b) {
  return a.exists() == b.exists() && a.value() == b.value() && a.redacted() == b.redacted() &&
         a.value_digest() == b.value_digest() &&
         std::equal(a.perms().begin(), a.perms().end(), b.perms().begin(), b.perms().end());
}

void add_main_changes(StateReader& state, uint64_t seq, const pb::CommitRecord& record,
                      pb::CommitView& view) {
  for (const pb::Change& ch : record.changes()) {
    pb::NodeChange* out = view.add_changes();
    out->set_path(ch.path());
    out->set_kind(ch.kind());
    if (path::is_special(ch.path())) {
      if (ch.has_before()) *out->mutable_before() = held_state(ch.before(), 0);
      if (ch.has_after()) *out->mutable_after() = held_state(ch.after(), seq);
      continue;
    }
    *out->mutable_before() = version_state(state, ch.path(), ch.before_version());
    *out->mutable_after() = version_state(state, ch.path(), seq);
  }
}

void add_branch_changes(StateReader& state, uint64_t seq, const pb::CommitRecord& record,
                        pb::CommitView& view) {
  // The base's tree, if history still holds it.
  const uint64_t base = record.parents_size() > 0 ? record.parents(0) : 0;
  std::optional<SnapshotNodes> base_tree;
  if (base != 0 && base >= history_horizon(state)) base_tree.emplace(state, base);
  std::unordered_map<std::string, size_t> index;
  struct Net {
    const pb::Change* first;
    const pb::Change* last;
    bool value_write = false;
  };
  std::vector<Net> net;
  for (const pb::Change& ch : record.changes()) {
    if (ch.kind() == pb::Change::KIND_UNSPECIFIED) continue;  // a list of children alone
    auto [it, fresh] = index.try_emplace(ch.path(), net.size());
    if (fresh) net.push_back(Net{&ch, &ch});
    Net& n = net[it->second];
    n.last = &ch;
    n.value_write = n.value_write || ch.kind() == pb::Change::MODIFIED;
  }
  for (const Net& n : net) {
    pb::NodeState before;
    bool before_known = false;
    if (base_tree && !path::is_special(n.first->path())) {
      if (std::optional<Node> node = base_tree->get(n.first->path())) before = node_state(*node);
      before_known = true;
    }
    pb::NodeState after;
    if (n.last->kind() != pb::Change::DELETED && n.last->has_after())
      after = held_state(n.last->after(), seq);
    pb::Change::Kind kind = n.last->kind();
    if (before_known) {
      if (!before.exists() && !after.exists()) continue;  // created and removed again
      if (!before.exists()) {
        kind = pb::Change::CREATED;
      } else if (!after.exists()) {
        kind = pb::Change::DELETED;
      } else if (n.value_write || before.value() != after.value()) {
        kind = pb::Change::MODIFIED;
      } else if (same_node(before, after)) {
        continue;
      } else {
        kind = pb::Change::PERMS;
      }
    }
    pb::NodeChange* out = view.add_changes();
    out->set_path(n.first->path());
    out->set_kind(kind);
    *out->mutable_before() = std::move(before);
    *out->mutable_after() = std::move(after);
  }
}

}  // namespace

pb::CommitView commit_header(uint64_t seq, const pb::CommitRecord& record) {
  pb::CommitView view;
  view.set_seq(seq);
  for (uint64_t p : record.parents()) view.add_parents(p);
  view.set_on_main(record.on_main());
  view.set_time_ns(record.time_ns());
  view.set_summary(record.summary());
  view.set_note(record.note());
  *view.mutable_author() = record.author();
  view.set_conn(record.conn());
  view.set_req_id(record.req_id());
  view.set_tx_id(record.tx_id());
  return view;
}

pb::CommitView commit_view(StateReader& state, uint64_t seq, const pb::CommitRecord& record,
                           bool with_changes) {
  pb::CommitView view = commit_header(seq, record);
  if (!with_changes) return view;
  if (record.on_main()) {
    add_main_changes(state, seq, record, view);
  } else {
    add_branch_changes(state, seq, record, view);
  }
  for (const pb::StateChange& sc : record.state()) *view.add_state() = sc;
  return view;
}

pb::NodeState version_state(StateReader& state, std::string_view path, uint64_t version) {
  if (version == 0) return {};
  pb::NodeRecord record;
  if (!state.get_record(Cf::kVersions, keys::version(path, version), &record)) return {};
  return node_state(record, version);
}

}  // namespace dxs::store
