// OpsService: the Ops API dxsctl uses, served on its own Unix socket (not the frontend's
// private one). Reads of the live tree are answered from a RocksDB snapshot, off the
// engine's lock (snapshot_reads.h); every other request runs through the engine as its
// privileged ops client, under the same lock as the session thread, and the watch events
// it causes go to the attached frontend.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/log.h"
#include "proto/ops.grpc.pb.h"
#include "store/engine.h"
#include "store/session_service.h"

namespace dxs::store {

class OpsService final : public pb::Ops::Service {
 public:
  OpsService(Db& db, Engine& engine, std::mutex& engine_mu, SessionServer& session, Logger& log)
      : db_(db), engine_(engine), engine_mu_(engine_mu), session_(session), log_(log) {}

  grpc::Status Xenstore(grpc::ServerContext* ctx, const pb::Request* request,
                        pb::Reply* reply) override;

 private:
  Db& db_;
  Engine& engine_;
  std::mutex& engine_mu_;
  SessionServer& session_;
  Logger& log_;
};

// Starts a server for `service` and `history` (the History API, history_service.h) on
// the Unix socket at `path` (file mode `mode`).
Result<std::unique_ptr<grpc::Server>> start_ops_server(OpsService& service, grpc::Service& history,
                                                       const std::string& path, mode_t mode);

}  // namespace dxs::store
