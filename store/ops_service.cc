#include "store/ops_service.h"

#include <rocksdb/perf_level.h>
#include <sys/stat.h>

#include "common/wire.h"
#include "store/snapshot_reads.h"

namespace dxs::store {

grpc::Status OpsService::Xenstore(grpc::ServerContext* ctx, const pb::Request* request,
                                  pb::Reply* reply) {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  if (is_snapshot_read(*request)) {
    *reply = read_from_snapshot(db_, *request);
    return grpc::Status::OK;
  }
  std::vector<pb::Outbound> others;
  {
    std::lock_guard lock(engine_mu_);
    engine_.ops_request(*request, *reply, others);
  }
  log_.debug("ops {} from {}", wire::type_name(request->type()), ctx->peer());
  session_.deliver(std::move(others));
  return grpc::Status::OK;
}

Result<std::unique_ptr<grpc::Server>> start_ops_server(OpsService& service, grpc::Service& history,
                                                       const std::string& path, mode_t mode) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.RegisterService(&history);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return Status::error(EADDRINUSE, "cannot listen on " + path);
  chmod(path.c_str(), mode);
  return server;
}

}  // namespace dxs::store
