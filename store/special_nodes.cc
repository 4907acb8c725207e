#include "store/special_nodes.h"

#include <string>

#include "proto/records.pb.h"
#include "store/node.h"

namespace dxs::store {
namespace {

std::string meta_key(std::string_view name) {
  return std::string(meta::kSpecialPermsPrefix) + std::string(name);
}

}  // namespace

bool is_special_node(std::string_view name) {
  return name == kIntroduceDomain || name == kReleaseDomain;
}

Perms special_perms(StateReader& state, std::string_view name) {
  pb::NodeRecord record;
  if (state.get_record(Cf::kMeta, meta_key(name), &record) && record.perms_size() > 0) {
    return perms_from_packed(record.perms());
  }
  return Perms{PermEntry{0, kAccessNone}};
}

void set_special_perms(WriteSet& ws, std::string_view name, const Perms& perms) {
  pb::NodeRecord record;
  perms_to_packed(perms, *record.mutable_perms());
  ws.put_record(Cf::kMeta, meta_key(name), record);
}

}  // namespace dxs::store
