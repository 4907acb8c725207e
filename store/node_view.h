// Views of the tree: the current state (MainNodes), the state at an earlier commit
// (SnapshotNodes), and a transaction's private state on top of its base (TxnNodes, over
// the PrivateNodes it holds in memory).
// Tree operations (tree.h) run unchanged on any of them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/db.h"
#include "store/node.h"

namespace dxs::store {

class NodeReader {
 public:
  virtual ~NodeReader() = default;
  virtual std::optional<Node> get(std::string_view path) = 0;
  // Names of the children of path in byte order; empty if it has none or is absent.
  virtual std::vector<std::string> children(std::string_view path) = 0;
};

class NodeView : public NodeReader {
 public:
  virtual void put(std::string_view path, const Node& node) = 0;
  virtual void erase(std::string_view path) = 0;
  // The sequence number stamped on changes made through this view.
  virtual uint64_t stamp() const = 0;
};

// The current tree as a StateReader holds it, to read only.
class CurrentNodes final : public NodeReader {
 public:
  explicit CurrentNodes(StateReader& state) : state_(state) {}
  std::optional<Node> get(std::string_view path) override;
  std::vector<std::string> children(std::string_view path) override;

 private:
  StateReader& state_;
};

// The current tree, through the group commit's WriteSet.
class MainNodes final : public NodeView {
 public:
  MainNodes(WriteSet& ws, uint64_t stamp) : ws_(ws), current_(ws), stamp_(stamp) {}
  std::optional<Node> get(std::string_view path) override { return current_.get(path); }
  std::vector<std::string> children(std::string_view path) override {
    return current_.children(path);
  }
  void put(std::string_view path, const Node& node) override;
  void erase(std::string_view path) override;
  uint64_t stamp() const override { return stamp_; }

 private:
  WriteSet& ws_;
  CurrentNodes current_;
  uint64_t stamp_;
};

// A base that reads the current tree (an outdated transaction's: txn.h).
constexpr uint64_t kCurrentTree = ~uint64_t{0};

// The tree as it was right after commit `base`, from the current state where a node is
// unchanged since, and from the versions column family where it is not; base
// kCurrentTree reads the current tree only.
class SnapshotNodes final : public NodeReader {
 public:
  SnapshotNodes(StateReader& state, uint64_t base) : state_(state), current_(state), base_(base) {}
  std::optional<Node> get(std::string_view path) override;
  std::vector<std::string> children(std::string_view path) override;

 private:
  std::optional<Node> version_at_base(std::string_view path);
  StateReader& state_;
  CurrentNodes current_;
  uint64_t base_;
};

// SnapshotNodes for code that takes a NodeView, to read only: put() and erase() are
// programming errors and stop the store.
class FrozenNodes final : public NodeView {
 public:
  FrozenNodes(StateReader& state, uint64_t base) : snapshot_(state, base) {}
  std::optional<Node> get(std::string_view path) override { return snapshot_.get(path); }
  std::vector<std::string> children(std::string_view path) override {
    return snapshot_.children(path);
  }
  void put(std::string_view path, const Node& node) override;
  void erase(std::string_view path) override;
  uint64_t stamp() const override { return 0; }

 private:
  SnapshotNodes snapshot_;
};

// A transaction's own nodes: those it wrote (stamped kTxnSeq) and those it removed. They
// live in memory only; the transaction's log is what is durable, and rebuilds them after
// a restart (txn.h). Kept by parent, then name, so a node's children are one range.
class PrivateNodes {
 public:
  // The transaction's state of path: nullptr if it never wrote or removed it, else the
  // node, or nullopt for one it removed.
  const std::optional<Node>* find(std::string_view path) const;
  void set(std::string_view path, std::optional<Node> node);
  // fn(name, state) for each child of path the transaction wrote or removed, in byte order.
  template <typename Fn>
  void for_each_child(std::string_view path, Fn&& fn) const;
  // fn(path, state) for every node it wrote or removed.
  template <typename Fn>
  void for_each(Fn&& fn) const;
  size_t size() const { return nodes_.size(); }

 private:
  // (parent, name); the root is ("", "").
  using Key = std::pair<std::string, std::string>;
  static Key key_of(std::string_view path);
  static std::string path_of(const Key& key);
  std::map<Key, std::optional<Node>> nodes_;
};

// A transaction's view: its own nodes (PrivateNodes) over its base.
class TxnNodes final : public NodeView {
 public:
  TxnNodes(PrivateNodes& mine, StateReader& state, uint64_t base)
      : mine_(mine), snapshot_(state, base) {}
  std::optional<Node> get(std::string_view path) override;
  std::vector<std::string> children(std::string_view path) override;
  void put(std::string_view path, const Node& node) override;
  void erase(std::string_view path) override;
  uint64_t stamp() const override { return kTxnSeq; }
  // Every path written or erased through this view: the nodes a transaction touched
  // besides what it named (created parents, the parent whose children changed).
  const std::vector<std::string>& touched() const { return touched_; }

 private:
  PrivateNodes& mine_;
  SnapshotNodes snapshot_;
  std::vector<std::string> touched_;
};

template <typename Fn>
void PrivateNodes::for_each_child(std::string_view path, Fn&& fn) const {
  const std::string parent(path);
  for (auto it = nodes_.lower_bound(Key{parent, std::string()});
       it != nodes_.end() && it->first.first == parent; ++it) {
    if (it->first.second.empty()) continue;  // the root, under ""
    fn(std::string_view(it->first.second), it->second);
  }
}

template <typename Fn>
void PrivateNodes::for_each(Fn&& fn) const {
  for (const auto& [key, state] : nodes_) fn(path_of(key), state);
}

}  // namespace dxs::store
