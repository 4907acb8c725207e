#include "store/history.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/path.h"
#include "common/printable.h"

namespace dxs::store {
namespace {

pb::Change::Kind kind_of(Change::Kind k) {
  switch (k) {
    case Change::Kind::kCreated:
      return pb::Change::CREATED;
    case Change::Kind::kModified:
      return pb::Change::MODIFIED;
    case Change::Kind::kPerms:
      return pb::Change::PERMS;
    case Change::Kind::kDeleted:
      return pb::Change::DELETED;
    case Change::Kind::kChildren:
      break;
  }
  return pb::Change::KIND_UNSPECIFIED;
}

void fill(pb::CommitRecord& c, const CommitInfo& info, int64_t now_ns) {
  *c.mutable_author() = info.author;
  c.set_conn(info.conn);
  c.set_req_id(info.req_id);
  c.set_tx_id(info.tx_id);
  c.set_time_ns(now_ns);
  c.set_summary(info.summary);
  if (!info.note.empty()) c.set_note(info.note);
  for (const pb::StateChange& sc : info.state) *c.add_state() = sc;
}

// One path's changes within a commit: the state before the first, after the last.
struct NetChange {
  const Change* first;
  const Change* last;
  bool listed = false;       // more than its list of children changed
  bool value_write = false;  // a value was written (a write of the same value included)
};

std::vector<NetChange> net_changes(const ChangeList& changes) {
  // Most commits change a node once (a request's few changes are searched, not hashed);
  // a merge or a domain's cleanup may change one twice.
  constexpr size_t kSearched = 8;
  std::vector<NetChange> net;
  net.reserve(changes.size());
  std::unordered_map<std::string_view, size_t> index;
  for (const Change& ch : changes) {
    size_t at = net.size();
    if (changes.size() <= kSearched) {
      at = static_cast<size_t>(
          std::find_if(net.begin(), net.end(),
                       [&](const NetChange& n) { return n.first->path == ch.path; }) -
          net.begin());
    } else {
      at = index.try_emplace(ch.path, net.size()).first->second;
    }
    if (at == net.size()) net.push_back(NetChange{&ch, &ch});
    NetChange& n = net[at];
    n.last = &ch;
    n.listed = n.listed || ch.kind != Change::Kind::kChildren;
    n.value_write = n.value_write || ch.kind == Change::Kind::kModified;
  }
  return net;
}

pb::Change::Kind net_kind(const NetChange& n) {
  const std::optional<Node>& before = n.first->before;
  const std::optional<Node>& after = n.last->after;
  if (!before) return pb::Change::CREATED;
  if (!after) return pb::Change::DELETED;
  if (n.value_write || before->value != after->value) return pb::Change::MODIFIED;
  return pb::Change::PERMS;
}

// A flag as a setting: "yes", or unset when false, as a domain without the record.
std::optional<std::string> flag(bool b) {
  if (!b) return std::nullopt;
  return "yes";
}

}  // namespace

void CommitLog::load(Db& db) {
  auto it = db.iterate(Cf::kCommits);
  main_head_ = last_ = 0;
  last_time_ns_ = 0;
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    const std::string_view key(it->key().data(), it->key().size());
    const std::optional<uint64_t> seq_of_key = keys::commit_seq(key);
    if (!seq_of_key) fail_stop_corrupt(Cf::kCommits, key);
    const uint64_t seq = *seq_of_key;
    pb::CommitRecord c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      fail_stop_corrupt(Cf::kCommits, key);
    if (last_ == 0) {
      last_ = seq;
      last_time_ns_ = c.time_ns();
    }
    if (c.on_main()) {
      main_head_ = seq;
      break;
    }
  }
}

int64_t CommitLog::stamp_time(int64_t now_ns) {
  last_time_ns_ = std::max(now_ns, last_time_ns_);
  return last_time_ns_;
}

uint64_t CommitLog::commit_main(WriteSet& ws, const CommitInfo& info, const ChangeList& changes,
                                int64_t now_ns, uint64_t merged) {
  const uint64_t seq = next();
  pb::CommitRecord c;
  if (main_head_ != 0) c.add_parents(main_head_);
  if (merged != 0) c.add_parents(merged);
  fill(c, info, stamp_time(now_ns));
  c.set_on_main(true);
  pb::NodeRecord version;
  for (const NetChange& n : net_changes(changes)) {
    const std::string& path = n.first->path;
    const std::optional<Node>& before = n.first->before;
    const std::optional<Node>& after = n.last->after;
    if (!before && !after) continue;  // a merge created and removed it: no state had it
    if (path::is_special(path)) {
      // Not a node of the tree, so no versions: the change holds both states.
      pb::Change* out = c.add_changes();
      out->set_path(path);
      out->set_kind(net_kind(n));
      if (before) node_to_record(*before, *out->mutable_before());
      if (after) node_to_record(*after, *out->mutable_after());
      continue;
    }
    // A parent's new list of children is a version of the parent, not a change a
    // commit lists: the child created or removed is.
    if (n.listed) {
      pb::Change* out = c.add_changes();
      out->set_path(path);
      out->set_kind(net_kind(n));
      if (before) out->set_before_version(version_of(*before));
    }
    if (after) {
      node_to_record(*after, version);
    } else {
      version.Clear();
      version.set_deleted(true);
    }
    ws.put_record(Cf::kVersions, keys::version(path, seq), version);
  }
  ws.put_record(Cf::kCommits, keys::commit(seq), c);
  main_head_ = last_ = seq;
  return seq;
}

uint64_t CommitLog::commit_branch(WriteSet& ws, const CommitInfo& info, uint64_t base,
                                  const ChangeList& changes, int64_t now_ns) {
  const uint64_t seq = next();
  pb::CommitRecord c;
  if (base != 0) c.add_parents(base);
  fill(c, info, stamp_time(now_ns));
  c.set_on_main(false);
  for (const Change& ch : changes) {
    pb::Change* out = c.add_changes();
    out->set_path(ch.path);
    out->set_kind(kind_of(ch.kind));
    if (ch.after) node_to_record(*ch.after, *out->mutable_after());
  }
  ws.put_record(Cf::kCommits, keys::commit(seq), c);
  last_ = seq;
  return seq;
}

uint64_t version_of(const Node& n) {
  return std::max({n.modified, n.perms_modified, n.children_modified, n.created});
}

Change special_perms_change(std::string_view name, const Perms& before, const Perms& after) {
  Node b;
  b.perms = before;
  Node a;
  a.perms = after;
  return Change{std::string(name), Change::Kind::kPerms, Change::Fire::kNone, std::move(b),
                std::move(a)};
}

void add_state_change(std::vector<pb::StateChange>& out, std::string key,
                      std::optional<std::string> before, std::optional<std::string> after) {
  if (before == after) return;
  pb::StateChange& sc = out.emplace_back();
  sc.set_key(std::move(key));
  if (before) sc.set_before(std::move(*before));
  if (after) sc.set_after(std::move(*after));
}

void add_domain_changes(std::vector<pb::StateChange>& out, uint32_t domid,
                        const pb::DomainRecord* before, const pb::DomainRecord* after) {
  const std::string prefix = fmt::format("domain/{}/", domid);
  // Each of the domain's settings as text, unset where the record has none.
  using Field = std::optional<std::string> (*)(const pb::DomainRecord&);
  static constexpr std::pair<const char*, Field> kFields[] = {
      {"introduced", [](const pb::DomainRecord& d) { return flag(d.introduced()); }},
      {"ring",
       [](const pb::DomainRecord& d) -> std::optional<std::string> {
         if (!d.has_ring()) return std::nullopt;
         return fmt::format("gfn {} port {}", d.ring().gfn(), d.ring().remote_port());
       }},
      {"features",
       [](const pb::DomainRecord& d) -> std::optional<std::string> {
         if (!d.has_features()) return std::nullopt;
         return std::to_string(d.features());
       }},
      {"target",
       [](const pb::DomainRecord& d) -> std::optional<std::string> {
         if (!d.has_target()) return std::nullopt;
         return std::to_string(d.target());
       }},
      {"shutdown-reported", [](const pb::DomainRecord& d) { return flag(d.shutdown_reported()); }},
  };
  for (const auto& [name, field] : kFields) {
    add_state_change(out, prefix + name, before ? field(*before) : std::nullopt,
                     after ? field(*after) : std::nullopt);
  }
  // Quota overrides, in name order whatever the maps' order.
  std::map<std::string, std::pair<std::optional<int64_t>, std::optional<int64_t>>> quotas;
  if (before) {
    for (const auto& [name, value] : before->quota()) quotas[name].first = value;
  }
  if (after) {
    for (const auto& [name, value] : after->quota()) quotas[name].second = value;
  }
  auto text = [](std::optional<int64_t> v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return std::to_string(*v);
  };
  for (const auto& [name, values] : quotas) {
    add_state_change(out, prefix + "quota/" + name, text(values.first), text(values.second));
  }
}

std::string abbreviate_value(std::string_view value) {
  return printable(value, 48);
}

}  // namespace dxs::store
