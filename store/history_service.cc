#include "store/history_service.h"

#include <rocksdb/perf_level.h>

#include "store/history_commits.h"
#include "store/history_trees.h"

namespace dxs::store {
namespace {

grpc::Status to_grpc(const Status& s) {
  if (s.is_ok()) return grpc::Status::OK;
  switch (s.err()) {
    case ENOENT:
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          s.detail().empty() ? "no such commit" : s.detail());
    case EINVAL:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, s.detail());
    case EACCES:
    case EPERM:
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, s.detail());
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL, s.to_string());
  }
}

template <typename T>
grpc::Status reply_with(Result<T> result, T* reply) {
  if (!result) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

// A sink that writes to the call's stream, and stops when the caller has gone.
CommitSink stream_to(grpc::ServerContext* ctx, grpc::ServerWriter<pb::CommitView>* writer) {
  return
      [ctx, writer](pb::CommitView&& view) { return !ctx->IsCancelled() && writer->Write(view); };
}

}  // namespace

grpc::Status HistoryService::admit(grpc::ServerContext*, const char*) {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  return grpc::Status::OK;
}

grpc::Status HistoryService::Log(grpc::ServerContext* ctx, const pb::LogRequest* request,
                                 grpc::ServerWriter<pb::CommitView>* writer) {
  if (grpc::Status s = admit(ctx, "Log"); !s.ok()) return s;
  DbSnapshot snapshot(db_);
  Result<LogOutcome> out = log_commits(snapshot, *request, stream_to(ctx, writer));
  if (!out) return to_grpc(out.status());
  if (out->truncated) ctx->AddTrailingMetadata("dxs-truncated", "1");
  return grpc::Status::OK;
}

grpc::Status HistoryService::Show(grpc::ServerContext* ctx, const pb::ShowRequest* request,
                                  pb::CommitView* reply) {
  if (grpc::Status s = admit(ctx, "Show"); !s.ok()) return s;
  DbSnapshot snapshot(db_);
  return reply_with(show_commit(snapshot, *request), reply);
}

grpc::Status HistoryService::Diff(grpc::ServerContext* ctx, const pb::DiffRequest* request,
                                  pb::DiffReply* reply) {
  if (grpc::Status s = admit(ctx, "Diff"); !s.ok()) return s;
  DbSnapshot snapshot(db_);
  return reply_with(diff_trees(snapshot, *request), reply);
}

grpc::Status HistoryService::At(grpc::ServerContext* ctx, const pb::AtRequest* request,
                                pb::AtReply* reply) {
  if (grpc::Status s = admit(ctx, "At"); !s.ok()) return s;
  DbSnapshot snapshot(db_);
  return reply_with(read_at(snapshot, *request), reply);
}

grpc::Status HistoryService::Blame(grpc::ServerContext* ctx, const pb::BlameRequest* request,
                                   pb::BlameReply* reply) {
  if (grpc::Status s = admit(ctx, "Blame"); !s.ok()) return s;
  DbSnapshot snapshot(db_);
  return reply_with(blame(snapshot, *request), reply);
}

grpc::Status HistoryService::Follow(grpc::ServerContext* ctx, const pb::FollowRequest* request,
                                    grpc::ServerWriter<pb::CommitView>* writer) {
  if (grpc::Status s = admit(ctx, "Follow"); !s.ok()) return s;
  const CommitSink sink = stream_to(ctx, writer);
  uint64_t seen = request->after() != 0 ? request->after() : feed_.last();
  // Headers now, once `seen` is fixed: a follower that has them sees every commit made
  // from then on, before the first of them comes.
  writer->SendInitialMetadata();
  while (!ctx->IsCancelled() && !feed_.closed()) {
    const uint64_t last = feed_.wait_beyond(seen, kFollowPoll);
    if (last <= seen) continue;
    DbSnapshot snapshot(db_);  // taken after `last` was published: it holds it
    const uint64_t reached = commits_between(snapshot, seen, last, request->with_changes(), sink);
    if (reached < last) break;  // the caller went away
    seen = last;
  }
  log_.debug("history: a follower stopped at commit {}", seen);
  return grpc::Status::OK;
}

grpc::Status HistoryService::Export(grpc::ServerContext* ctx, const pb::ExportRequest* request,
                                    grpc::ServerWriter<pb::CommitView>* writer) {
  if (grpc::Status s = admit(ctx, "Export"); !s.ok()) return s;
  DbSnapshot snapshot(db_);
  return to_grpc(export_commits(snapshot, *request, stream_to(ctx, writer)));
}

}  // namespace dxs::store
