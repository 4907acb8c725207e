// OpsService: the Ops API dxsctl uses, served on its own doors (ops_server.h), not the
// frontend's private socket. Each call first asks OpsAuth for the role the request
// needs (ops_request_role): reads of the live tree need `read`, everything else
// `admin`. Reads of the live tree are answered from a RocksDB snapshot, off the
// engine's lock (snapshot_reads.h); every other request runs through the engine as its
// privileged ops client, under the same lock as the session thread, with the caller's
// identity as the author of the commits it makes; the watch events it causes go to
// the attached frontend.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/log.h"
#include "proto/ops.grpc.pb.h"
#include "store/engine.h"
#include "store/ops_auth.h"
#include "store/session_service.h"

namespace dxs::store {

class OpsService final : public pb::Ops::Service {
 public:
  OpsService(Db& db, Engine& engine, std::mutex& engine_mu, SessionServer& session, OpsAuth& auth,
             Logger& log)
      : db_(db),
        engine_(engine),
        engine_mu_(engine_mu),
        session_(session),
        auth_(auth),
        log_(log) {}

  grpc::Status Xenstore(grpc::ServerContext* ctx, const pb::Request* request,
                        pb::Reply* reply) override;

 private:
  Db& db_;
  Engine& engine_;
  std::mutex& engine_mu_;
  SessionServer& session_;
  OpsAuth& auth_;
  Logger& log_;
};

// The role a Xenstore request over the Ops API needs: `read` for READ, DIRECTORY,
// DIRECTORY_PART, GET_PERMS, GET_DOMAIN_PATH and IS_DOMAIN_INTRODUCED outside a
// transaction, and for the CONTROL commands that only report (`help`, `quota` listing
// the quotas or one domain's usage); `admin` for everything else.
Role ops_request_role(const pb::Request& request);

}  // namespace dxs::store
