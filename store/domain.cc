#include "store/domain.h"

namespace dxs::store {

size_t DomainTable::load(Db& db) {
  by_domid_.clear();
  for_each_record<pb::DomainRecord>(
      db, Cf::kDomains, {},
      [&](std::string_view, pb::DomainRecord& r) { by_domid_[r.domid()] = std::move(r); });
  return by_domid_.size();
}

pb::DomainRecord* DomainTable::find(uint32_t domid) {
  auto it = by_domid_.find(domid);
  return it == by_domid_.end() ? nullptr : &it->second;
}

const pb::DomainRecord* DomainTable::find(uint32_t domid) const {
  auto it = by_domid_.find(domid);
  return it == by_domid_.end() ? nullptr : &it->second;
}

pb::DomainRecord& DomainTable::get_or_create(uint32_t domid) {
  auto [it, inserted] = by_domid_.try_emplace(domid);
  if (inserted) it->second.set_domid(domid);
  return it->second;
}

bool DomainTable::is_introduced(uint32_t domid) {
  if (domid == 0) return true;
  const pb::DomainRecord* d = find(domid);
  return d != nullptr && d->introduced();
}

void DomainTable::save(WriteSet& ws, uint32_t domid) {
  if (const pb::DomainRecord* d = find(domid)) ws.put_record(Cf::kDomains, keys::domain(domid), *d);
}

void DomainTable::erase(WriteSet& ws, uint32_t domid) {
  ws.del(Cf::kDomains, keys::domain(domid));
  by_domid_.erase(domid);
}

void DomainTable::for_each(const std::function<void(pb::DomainRecord&)>& fn) {
  for (auto& [domid, d] : by_domid_) fn(d);
}

}  // namespace dxs::store
