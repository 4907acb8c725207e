#include "store/history_service.h"

#include <rocksdb/perf_level.h>

#include <thread>

#include "store/history_commits.h"
#include "store/history_redaction.h"
#include "store/history_trees.h"
#include "store/low_priority.h"

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

// A reply, its private paths' values redacted (history_redaction.h).
template <typename T>
grpc::Status reply_with(const Privacy& privacy, Result<T> result, T* reply) {
  if (!result) return to_grpc(result.status());
  *reply = std::move(*result);
  redact_private(privacy, *reply);
  return grpc::Status::OK;
}

// A sink that writes to the call's stream, private values redacted, and stops when the
// caller has gone.
CommitSink stream_to(const Privacy& privacy, grpc::ServerContext* ctx,
                     grpc::ServerWriter<pb::CommitView>* writer) {
  return [&privacy, ctx, writer](pb::CommitView&& view) {
    redact_private(privacy, view);
    return !ctx->IsCancelled() && writer->Write(view);
  };
}

// The call's work, on a thread of its own at the lowest priority (low_priority.h).
template <typename Fn>
grpc::Status in_background(Fn&& fn) {
  grpc::Status status;
  run_at_low_priority([&] { status = fn(); });
  return status;
}

}  // namespace

grpc::Status HistoryService::admit(grpc::ServerContext* ctx, const char* call) {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  return auth_.require(*ctx, Role::kRead, call, nullptr);
}

grpc::Status HistoryService::Log(grpc::ServerContext* ctx, const pb::LogRequest* request,
                                 grpc::ServerWriter<pb::CommitView>* writer) {
  if (grpc::Status s = admit(ctx, "Log"); !s.ok()) return s;
  return in_background([&] {
    DbSnapshot snapshot(db_);
    Result<LogOutcome> out = log_commits(snapshot, *request, stream_to(privacy_, ctx, writer));
    if (!out) return to_grpc(out.status());
    if (out->truncated) ctx->AddTrailingMetadata("dxs-truncated", "1");
    return grpc::Status::OK;
  });
}

grpc::Status HistoryService::Show(grpc::ServerContext* ctx, const pb::ShowRequest* request,
                                  pb::CommitView* reply) {
  if (grpc::Status s = admit(ctx, "Show"); !s.ok()) return s;
  return in_background([&] {
    DbSnapshot snapshot(db_);
    return reply_with(privacy_, show_commit(snapshot, *request), reply);
  });
}

grpc::Status HistoryService::Diff(grpc::ServerContext* ctx, const pb::DiffRequest* request,
                                  pb::DiffReply* reply) {
  if (grpc::Status s = admit(ctx, "Diff"); !s.ok()) return s;
  return in_background([&] {
    DbSnapshot snapshot(db_);
    return reply_with(privacy_, diff_trees(snapshot, *request), reply);
  });
}

grpc::Status HistoryService::At(grpc::ServerContext* ctx, const pb::AtRequest* request,
                                pb::AtReply* reply) {
  if (grpc::Status s = admit(ctx, "At"); !s.ok()) return s;
  return in_background([&] {
    DbSnapshot snapshot(db_);
    return reply_with(privacy_, read_at(snapshot, *request), reply);
  });
}

grpc::Status HistoryService::Blame(grpc::ServerContext* ctx, const pb::BlameRequest* request,
                                   pb::BlameReply* reply) {
  if (grpc::Status s = admit(ctx, "Blame"); !s.ok()) return s;
  return in_background([&] {
    DbSnapshot snapshot(db_);
    return reply_with(privacy_, blame(snapshot, *request), reply);
  });
}

grpc::Status HistoryService::Follow(grpc::ServerContext* ctx, const pb::FollowRequest* request,
                                    grpc::ServerWriter<pb::CommitView>* writer) {
  if (grpc::Status s = admit(ctx, "Follow"); !s.ok()) return s;
  const CommitSink sink = stream_to(privacy_, ctx, writer);
  uint64_t seen = request->after() != 0 ? request->after() : feed_.last();
  // Headers now, once `seen` is fixed: a follower that has them sees every commit made
  // from then on, before the first of them comes.
  writer->SendInitialMetadata();
  while (!ctx->IsCancelled() && !feed_.closed()) {
    if (feed_.wait_beyond(seen, kFollowPoll) <= seen) continue;
    // Under a flood of commits, one wake-up and one snapshot for many of them: a
    // follower's cost per commit is then the commit's record, not a thread switch.
    std::this_thread::sleep_for(kFollowCoalesce);
    const uint64_t last = feed_.last();
    uint64_t reached = seen;
    run_at_low_priority([&] {
      DbSnapshot snapshot(db_);  // taken after `last` was published: it holds it
      reached = commits_between(snapshot, seen, last, request->with_changes(), sink);
    });
    if (reached < last) break;  // the caller went away
    seen = last;
  }
  log_.debug("history: a follower stopped at commit {}", seen);
  return grpc::Status::OK;
}

grpc::Status HistoryService::Export(grpc::ServerContext* ctx, const pb::ExportRequest* request,
                                    grpc::ServerWriter<pb::CommitView>* writer) {
  if (grpc::Status s = admit(ctx, "Export"); !s.ok()) return s;
  return in_background([&] {
    DbSnapshot snapshot(db_);
    return to_grpc(export_commits(snapshot, *request, stream_to(privacy_, ctx, writer)));
  });
}

}  // namespace dxs::store
