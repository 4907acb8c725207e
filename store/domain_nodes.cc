#include "store/domain_nodes.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/path.h"

namespace dxs::store::domain_nodes {
namespace {

// The domains other than dom0 that perms names, sorted, each once.
std::vector<uint32_t> named(const Perms& perms) {
  std::vector<uint32_t> out;
  for (const PermEntry& e : perms) {
    if (e.domid != 0) out.push_back(e.domid);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint32_t> named(const std::optional<Node>& n) {
  return n ? named(n->perms) : std::vector<uint32_t>();
}

// The index's keys as the tree says they should be, in scan order.
std::vector<std::string> keys_of_tree(StateReader& state) {
  std::vector<std::string> out;
  for_each_record<pb::NodeRecord>(state, Cf::kNodes, {},
                                  [&](std::string_view key, const pb::NodeRecord& rec) {
                                    const std::string p = keys::path_of_node_key(key);
                                    for (uint32_t d : named(perms_from_packed(rec.perms())))
                                      out.push_back(keys::domain_node(d, p));
                                  });
  return out;
}

}  // namespace

void record(WriteSet& ws, const ChangeList& changes) {
  for (const Change& c : changes) {
    // Most changes are of a value or of a list of children.
    if (c.before && c.after && c.before->perms == c.after->perms) continue;
    if (path::is_special(c.path)) continue;
    const std::vector<uint32_t> before = named(c.before);
    const std::vector<uint32_t> after = named(c.after);
    for (uint32_t d : before) {
      if (!std::binary_search(after.begin(), after.end(), d))
        ws.del(Cf::kDomainNodes, keys::domain_node(d, c.path));
    }
    for (uint32_t d : after) {
      if (!std::binary_search(before.begin(), before.end(), d))
        ws.put(Cf::kDomainNodes, keys::domain_node(d, c.path), {});
    }
  }
}

std::vector<std::string> of(StateReader& state, uint32_t domid) {
  return key_suffixes(state, Cf::kDomainNodes, keys::domain_nodes_of(domid));
}

size_t build(WriteSet& ws) {
  ws.del_prefix(Cf::kDomainNodes, {});
  // Written after the scan: the batch is not written while an iterator walks it.
  const std::vector<std::string> entries = keys_of_tree(ws);
  for (const std::string& k : entries) ws.put(Cf::kDomainNodes, k, {});
  return entries.size();
}

std::string verify(StateReader& state) {
  const std::vector<std::string> of_tree = keys_of_tree(state);
  std::set<std::string> expected(of_tree.begin(), of_tree.end());
  std::string problems;
  auto it = state.iterate(Cf::kDomainNodes);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key(it->key().data(), it->key().size());
    if (expected.erase(key) != 0) continue;
    const auto parsed = keys::parse_domain_node(key);
    if (!parsed) {
      problems += fmt::format("domain index: malformed key of {} bytes\n", key.size());
    } else {
      problems += fmt::format("domain index: {} listed for domain {}, which it does not name\n",
                              parsed->second, parsed->first);
    }
  }
  for (const std::string& key : expected) {
    const auto parsed = keys::parse_domain_node(key);
    problems += fmt::format("domain index: {} names domain {}, not listed\n", parsed->second,
                            parsed->first);
  }
  return problems;
}

}  // namespace dxs::store::domain_nodes
