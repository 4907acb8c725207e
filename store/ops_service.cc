#include "store/ops_service.h"

#include <rocksdb/perf_level.h>

#include "common/wire.h"
#include "store/snapshot_reads.h"

namespace dxs::store {

Role ops_request_role(const pb::Request& request) {
  using wire::MsgType;
  // Inside a transaction even a read joins the transaction's record: a transaction is
  // an admin's, and so is everything in it.
  if (request.tx_id() != 0) return Role::kAdmin;
  switch (static_cast<MsgType>(request.type())) {
    case MsgType::kRead:
    case MsgType::kDirectory:
    case MsgType::kDirectoryPart:
    case MsgType::kGetPerms:
    case MsgType::kGetDomainPath:
    case MsgType::kIsDomainIntroduced:
      return Role::kRead;
    case MsgType::kControl: {
      const auto& s = request.strings().strings();
      if (s.empty()) return Role::kAdmin;
      if (s[0] == "help") return Role::kRead;
      // `quota` lists the quotas, `quota DOMID` one domain's usage; `quota set` changes.
      if (s[0] == "quota" && (s.size() == 1 || (s.size() == 2 && s[1] != "set"))) {
        return Role::kRead;
      }
      return Role::kAdmin;
    }
    default:
      return Role::kAdmin;
  }
}

grpc::Status OpsService::Xenstore(grpc::ServerContext* ctx, const pb::Request* request,
                                  pb::Reply* reply) {
  OpsCaller caller;
  if (grpc::Status s = auth_.require(*ctx, ops_request_role(*request),
                                     wire::type_name(request->type()), &caller);
      !s.ok()) {
    return s;
  }
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  if (is_snapshot_read(*request)) {
    *reply = read_from_snapshot(db_, *request);
    return grpc::Status::OK;
  }
  std::vector<pb::Outbound> others;
  {
    std::lock_guard lock(engine_mu_);
    engine_.ops_request(*request, caller.identity, *reply, others);
  }
  log_.debug("ops {} from {}", wire::type_name(request->type()), caller.identity);
  session_.deliver(std::move(others));
  return grpc::Status::OK;
}

}  // namespace dxs::store
