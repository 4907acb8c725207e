// Views of the tree: the current state (MainNodes), the state at an earlier commit
// (SnapshotNodes), and a transaction's private state on top of its base (TxnNodes).
// Tree operations (tree.h) run unchanged on any of them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
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

// A transaction's view: its own writes (cf txn_nodes, stamped kTxnSeq) over its base.
class TxnNodes final : public NodeView {
 public:
  TxnNodes(WriteSet& ws, uint64_t conn, uint32_t tx_id, uint64_t base)
      : ws_(ws), snapshot_(ws, base), conn_(conn), tx_id_(tx_id) {}
  std::optional<Node> get(std::string_view path) override;
  std::vector<std::string> children(std::string_view path) override;
  void put(std::string_view path, const Node& node) override;
  void erase(std::string_view path) override;
  uint64_t stamp() const override { return kTxnSeq; }
  // Every path written or erased through this view: the nodes a transaction touched
  // besides what it named (created parents, the parent whose children changed).
  const std::vector<std::string>& touched() const { return touched_; }

 private:
  WriteSet& ws_;
  SnapshotNodes snapshot_;
  uint64_t conn_;
  uint32_t tx_id_;
  std::vector<std::string> touched_;
};

}  // namespace dxs::store
