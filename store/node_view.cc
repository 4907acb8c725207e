#include "store/node_view.h"

#include <fmt/format.h>

#include <set>

#include "common/path.h"

namespace dxs::store {
namespace {

std::optional<Node> decode(const std::string& value) {
  pb::NodeRecord r;
  if (!r.ParseFromString(value)) fail_stop("corrupt node record");
  if (r.deleted()) return std::nullopt;
  return node_from_record(r);
}

std::string encode(const Node& n) {
  pb::NodeRecord r;
  node_to_record(n, r);
  return r.SerializeAsString();
}

}  // namespace

std::optional<Node> CurrentNodes::get(std::string_view path) {
  std::string value;
  if (!state_.get(Cf::kNodes, keys::node(path), &value)) return std::nullopt;
  return decode(value);
}

std::vector<std::string> CurrentNodes::children(std::string_view path) {
  return key_suffixes(state_, Cf::kNodes, keys::children_prefix(path));
}

void MainNodes::put(std::string_view path, const Node& node) {
  ws_.put(Cf::kNodes, keys::node(path), encode(node));
}

void MainNodes::erase(std::string_view path) {
  ws_.del(Cf::kNodes, keys::node(path));
}

std::optional<Node> SnapshotNodes::version_at_base(std::string_view path) {
  const std::string prefix = keys::versions_prefix(path);
  const std::string target = keys::version(path, base_);
  auto it = state_.iterate(Cf::kVersions, prefix);
  it->Seek(target);
  if (!it->Valid() ||
      !keys::is_version_of(std::string_view(it->key().data(), it->key().size()), prefix)) {
    return std::nullopt;
  }
  return decode(it->value().ToString());
}

std::optional<Node> SnapshotNodes::get(std::string_view path) {
  std::optional<Node> current = current_.get(path);
  if (base_ == kCurrentTree) return current;
  // Every change of a node's record (value, permissions, list of children) is a version:
  // a node unchanged since the base is as now, any other is its version at the base.
  if (current && current->modified <= base_ && current->children_modified <= base_) return current;
  if (!current && path != "/") {
    // Absent now under a parent that existed at the base with the children it has now
    // (as children() below): absent then too, without a seek in the versions.
    // Transactions read many paths that do not exist.
    std::optional<Node> parent = current_.get(path::parent(path));
    if (parent && parent->created <= base_ && parent->children_modified <= base_) {
      return std::nullopt;
    }
  }
  return version_at_base(path);
}

std::vector<std::string> SnapshotNodes::children(std::string_view path) {
  if (base_ == kCurrentTree) return current_.children(path);
  std::optional<Node> current = current_.get(path);
  if (current && current->created <= base_ && current->children_modified <= base_) {
    return current_.children(path);
  }
  // Versions of the children sort by (name, newest first). Per name, one seek finds the
  // newest version at or before the base, which says whether the child existed then,
  // and one more seek steps over the name's other versions: O(k log n) for k names,
  // however long their histories.
  std::vector<std::string> names;
  const std::string prefix = keys::children_prefix(path);
  auto it = state_.iterate(Cf::kVersions, prefix);
  it->Seek(prefix);
  while (it->Valid() && keys::starts_with(it->key(), prefix)) {
    const std::string_view key(it->key().data(), it->key().size());
    auto child = keys::child_version(key, prefix);
    if (!child) {
      // A key that is no child's version: step over it.
      it->Next();
      continue;
    }
    // The name's versions prefix: children_prefix(path) name 0x00.
    const std::string versions =
        std::string(key.substr(0, prefix.size() + child->first.size() + 1));
    if (child->second > base_) {
      std::string target = versions;
      keys::append_be64(target, ~base_);
      it->Seek(target);
    }
    if (it->Valid() &&
        keys::is_version_of(std::string_view(it->key().data(), it->key().size()), versions)) {
      if (decode(it->value().ToString()))
        names.emplace_back(versions.substr(prefix.size(), versions.size() - prefix.size() - 1));
      it->Seek(keys::prefix_end(versions));
    }
    // Otherwise every version of the name is newer than the base: the seek landed on the
    // next name already.
  }
  return names;
}

void FrozenNodes::put(std::string_view path, const Node&) {
  fail_stop(fmt::format("write of {} through a read-only view", path));
}

void FrozenNodes::erase(std::string_view path) {
  fail_stop(fmt::format("removal of {} through a read-only view", path));
}

PrivateNodes::Key PrivateNodes::key_of(std::string_view path) {
  if (path == "/") return Key{};
  return Key{std::string(path::parent(path)), std::string(path::basename(path))};
}

std::string PrivateNodes::path_of(const Key& key) {
  if (key.first.empty()) return "/";
  std::string p = key.first;
  if (p != "/") p.push_back('/');
  p.append(key.second);
  return p;
}

const std::optional<Node>* PrivateNodes::find(std::string_view path) const {
  auto it = nodes_.find(key_of(path));
  return it == nodes_.end() ? nullptr : &it->second;
}

void PrivateNodes::set(std::string_view path, std::optional<Node> node) {
  nodes_[key_of(path)] = std::move(node);
}

std::optional<Node> TxnNodes::get(std::string_view path) {
  if (const std::optional<Node>* mine = mine_.find(path)) return *mine;
  return snapshot_.get(path);
}

std::vector<std::string> TxnNodes::children(std::string_view path) {
  std::vector<std::string> base = snapshot_.children(path);
  std::set<std::string> names(base.begin(), base.end());
  mine_.for_each_child(path, [&](std::string_view name, const std::optional<Node>& state) {
    if (state) {
      names.emplace(name);
    } else {
      names.erase(std::string(name));
    }
  });
  return std::vector<std::string>(names.begin(), names.end());
}

void TxnNodes::put(std::string_view path, const Node& node) {
  mine_.set(path, node);
  touched_.emplace_back(path);
}

void TxnNodes::erase(std::string_view path) {
  mine_.set(path, std::nullopt);
  touched_.emplace_back(path);
}

}  // namespace dxs::store
