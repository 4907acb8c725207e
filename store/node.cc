#include "store/node.h"

namespace dxs::store {

Perms perms_from_packed(const google::protobuf::RepeatedField<uint32_t>& packed) {
  Perms perms;
  perms.reserve(packed.size());
  for (uint32_t v : packed) perms.push_back(PermEntry{v >> 2, static_cast<uint8_t>(v & 3)});
  return perms;
}

void perms_to_packed(const Perms& perms, google::protobuf::RepeatedField<uint32_t>& packed) {
  packed.Clear();
  packed.Reserve(static_cast<int>(perms.size()));
  for (const auto& p : perms) packed.Add((p.domid << 2) | (p.access & 3));
}

Node node_from_record(const pb::NodeRecord& r) {
  Node n;
  n.value = r.value();
  n.perms = perms_from_packed(r.perms());
  n.modified = r.modified();
  n.perms_modified = r.perms_modified();
  n.children_modified = r.children_modified();
  n.created = r.created();
  n.child_count = r.child_count();
  n.children_bytes = r.children_bytes();
  if (r.redacted()) {
    n.redacted = true;
    n.value_digest = r.value_digest();
  }
  return n;
}

void node_to_record(const Node& n, pb::NodeRecord& r) {
  r.Clear();
  r.set_value(n.value);
  perms_to_packed(n.perms, *r.mutable_perms());
  r.set_modified(n.modified);
  r.set_perms_modified(n.perms_modified);
  r.set_children_modified(n.children_modified);
  r.set_created(n.created);
  r.set_child_count(n.child_count);
  r.set_children_bytes(n.children_bytes);
  if (n.redacted) {
    r.set_redacted(true);
    r.set_value_digest(n.value_digest);
  }
}

size_t accounted_size(const Node& n) {
  // sizeof(struct xs_tdb_record_hdr): generation (8), num_perms, datalen, childlen (4 each)
  // and 4 bytes of padding to the 8-byte alignment; then 8 bytes per struct
  // xs_permissions.
  constexpr size_t kHeader = 24;
  return kHeader + 8 * n.perms.size() + n.value.size() + n.children_bytes;
}

}  // namespace dxs::store
