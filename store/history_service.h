// HistoryService: the History API (proto/history.proto), served beside the Ops API on
// the ops socket. Each call takes its own RocksDB snapshot (DbSnapshot) and reads the
// history there, never under the engine's lock, on a thread of its own at the lowest
// CPU and I/O priority (low_priority.h), so history reads never hold clients up: on a
// busy host an export gets the CPU the clients leave. The handlers only translate: the logic is in
// history_commits.h and history_trees.h. Follow waits on the CommitFeed the engine publishes to,
// waking at least every kFollowPoll to notice a cancelled call, and streams what gathered within
// kFollowCoalesce of a wake-up; close the feed before shutting the server down, and
// every Follow ends.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "common/log.h"
#include "proto/history.grpc.pb.h"
#include "store/commit_feed.h"
#include "store/db.h"
#include "store/ops_auth.h"
#include "store/privacy.h"

namespace dxs::store {

inline constexpr std::chrono::milliseconds kFollowPoll{200};
// How long a woken follower lets commits gather before it reads them.
inline constexpr std::chrono::milliseconds kFollowCoalesce{10};

class HistoryService final : public pb::History::Service {
 public:
  // privacy: which paths' values replies never carry (history_redaction.h).
  HistoryService(Db& db, CommitFeed& feed, OpsAuth& auth, const Privacy& privacy, Logger& log)
      : db_(db), feed_(feed), auth_(auth), privacy_(privacy), log_(log) {}

  grpc::Status Log(grpc::ServerContext* ctx, const pb::LogRequest* request,
                   grpc::ServerWriter<pb::CommitView>* writer) override;
  grpc::Status Show(grpc::ServerContext* ctx, const pb::ShowRequest* request,
                    pb::CommitView* reply) override;
  grpc::Status Diff(grpc::ServerContext* ctx, const pb::DiffRequest* request,
                    pb::DiffReply* reply) override;
  grpc::Status At(grpc::ServerContext* ctx, const pb::AtRequest* request,
                  pb::AtReply* reply) override;
  grpc::Status Blame(grpc::ServerContext* ctx, const pb::BlameRequest* request,
                     pb::BlameReply* reply) override;
  grpc::Status Follow(grpc::ServerContext* ctx, const pb::FollowRequest* request,
                      grpc::ServerWriter<pb::CommitView>* writer) override;
  grpc::Status Export(grpc::ServerContext* ctx, const pb::ExportRequest* request,
                      grpc::ServerWriter<pb::CommitView>* writer) override;

 private:
  // Every call passes here first, by name: the caller must have the `read` role.
  grpc::Status admit(grpc::ServerContext* ctx, const char* call);

  Db& db_;
  CommitFeed& feed_;
  OpsAuth& auth_;
  const Privacy& privacy_;
  Logger& log_;
};

}  // namespace dxs::store
