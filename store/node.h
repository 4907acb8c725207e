// Node: one node of the Xenstore tree as the engine handles it (a decoded NodeRecord).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/perms.h"
#include "proto/records.pb.h"

namespace dxs::store {

// Sequence number stamped on what a transaction changed in its private view: larger
// than any commit, so "changed since the base" holds for it.
constexpr uint64_t kTxnSeq = ~uint64_t{0};

struct Node {
  std::string value;
  Perms perms;                     // never empty
  uint64_t modified = 0;           // last change of value or permissions
  uint64_t perms_modified = 0;     // last change of permissions
  uint64_t children_modified = 0;  // last child added or removed
  uint64_t created = 0;
  uint32_t child_count = 0;
  uint32_t children_bytes = 0;  // sum of (name length + 1) over children
  // A history version whose value is not kept (a private path, privacy.h): value is
  // empty and value_digest is its keyed digest. Never so in the live tree.
  bool redacted = false;
  std::string value_digest;

  uint32_t owner() const { return perms.front().domid; }
};

Node node_from_record(const pb::NodeRecord& r);
void node_to_record(const Node& n, pb::NodeRecord& r);
Perms perms_from_packed(const google::protobuf::RepeatedField<uint32_t>& packed);
void perms_to_packed(const Perms& perms, google::protobuf::RepeatedField<uint32_t>& packed);

// xenstored's accounting size of a node record (its TDB record: header, permissions,
// value, children names), which the node-size quota limits.
size_t accounted_size(const Node& n);

}  // namespace dxs::store
