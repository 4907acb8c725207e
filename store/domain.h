// DomainTable: what the store knows of each domain (cf domains): introduced or not, its
// ring address, target, quota overrides and usage. dom0 is always introduced. A record
// exists for every domain that owns nodes, introduced or not.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "proto/records.pb.h"
#include "store/db.h"

namespace dxs::store {

class DomainTable {
 public:
  size_t load(Db& db);

  pb::DomainRecord* find(uint32_t domid);
  const pb::DomainRecord* find(uint32_t domid) const;
  pb::DomainRecord& get_or_create(uint32_t domid);
  bool is_introduced(uint32_t domid);
  void save(WriteSet& ws, uint32_t domid);
  void erase(WriteSet& ws, uint32_t domid);
  void for_each(const std::function<void(pb::DomainRecord&)>& fn);

 private:
  std::map<uint32_t, pb::DomainRecord> by_domid_;
};

}  // namespace dxs::store
