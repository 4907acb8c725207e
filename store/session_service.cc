#include "store/session_service.h"

#include <rocksdb/perf_level.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

#include "common/daemon.h"

namespace dxs::store {

// One Attach call. Every completion-queue tag is a pointer to one of its Op members;
// the stream deletes itself once it is finished and no operation is outstanding.
class SessionServer::Stream {
 public:
  enum class Kind { kAccept, kRead, kWrite, kFinish };
  struct Op {
    Stream* stream;
    Kind kind;
  };

  explicit Stream(SessionServer& server)
      : server_(server),
        rw_(&ctx_),
        accept_op_{this, Kind::kAccept},
        read_op_{this, Kind::kRead},
        write_op_{this, Kind::kWrite},
        finish_op_{this, Kind::kFinish} {
    server_.service_.RequestAttach(&ctx_, &rw_, server_.cq_.get(), server_.cq_.get(), &accept_op_);
    pending_ = 1;
  }

  // Runs on the completion-queue thread.
  void on_event(Kind kind, bool ok) {
    --pending_;
    // The queue is shut down: what is left in it is drained, and nothing starts again
    // (gRPC aborts on an operation started on a shut-down queue). The process is ending.
    if (server_.queue_closed_) return;
    switch (kind) {
      case Kind::kAccept:
        if (!ok) {  // the server is shutting down
          delete this;
          return;
        }
        server_.listen_for_next_stream();
        start_read();
        break;
      case Kind::kRead:
        if (ok) {
          on_message();
          if (!refused_) start_read();
        } else {
          reading_done_ = true;
        }
        break;
      case Kind::kWrite: {
        std::lock_guard lock(mu_);
        writing_ = false;
        if (ok) {
          start_write_locked();
        } else {
          broken_ = true;
          ctx_.TryCancel();  // the pending read fails and the stream winds down
        }
        break;
      }
      case Kind::kFinish:
        finished_ = true;
        break;
    }
    {
      std::lock_guard lock(mu_);
      if (reading_done_ && !writing_ && !finishing_) {
        finishing_ = true;
        ++pending_;
        rw_.Finish(finish_status_, &finish_op_);
      }
    }
    if (finished_ && pending_ == 0) {
      server_.forget(this);
      delete this;
    }
  }

  // Thread-safe. `batch`, if not 0, is the frontend batch these items answer.
  void send(std::vector<pb::Outbound>&& items, uint64_t batch = 0) {
    if (items.empty() && batch == 0) return;
    std::lock_guard lock(mu_);
    if (broken_ || finishing_) return;
    if (queue_.empty()) queue_.emplace_back();
    for (auto& o : items) *queue_.back().add_items() = std::move(o);
    if (batch != 0) queue_.back().set_batch(batch);
    start_write_locked();
  }

  void take_over() { ctx_.TryCancel(); }

 private:
  void start_read() {
    request_.Clear();
    ++pending_;
    rw_.Read(&request_, &read_op_);
  }

  void on_message() {
    std::vector<pb::Outbound> out;
    if (request_.has_hello() && !hello_seen_) {
      hello_seen_ = true;
      // Adopted under the engine's lock, with the hello: no batch of the stream this one
      // supersedes is applied after the engine handed this one the connections.
      std::lock_guard lock(server_.engine_mu_);
      Result<pb::Welcome> welcome = server_.engine_.hello(request_.hello(), out);
      if (!welcome) {
        // A frontend that a newer one replaced: it is told so and served no more
        // (it stops: frontend/session_client.h).
        refused_ = true;
        reading_done_ = true;
        finish_status_ =
            grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, welcome.status().to_string());
        return;
      }
      server_.adopt(this);
      std::lock_guard stream_lock(mu_);
      queue_.emplace_back();
      *queue_.back().mutable_welcome() = std::move(*welcome);
      start_write_locked();
    }
    if (request_.items_size() > 0) {
      std::lock_guard lock(server_.engine_mu_);
      // Only the frontend the store attached last may change anything: a batch of a
      // superseded stream (read before its cancellation took effect) is dropped, as is
      // anything sent before a hello.
      if (!server_.is_current(this)) return;
      server_.engine_.apply(request_.items(), out);
    }
    send(std::move(out), request_.batch());
    if (request_.items_size() > 0) {
      // History's upkeep once the replies are on their way, not before them.
      std::lock_guard lock(server_.engine_mu_);
      if (server_.is_current(this)) server_.engine_.maintain();
    }
  }

  void start_write_locked() {
    if (writing_ || broken_) return;
    while (!queue_.empty() && queue_.front().items_size() == 0 && !queue_.front().has_welcome() &&
           queue_.front().batch() == 0) {
      queue_.pop_front();
    }
    if (queue_.empty()) return;
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    ++pending_;
    rw_.Write(in_flight_, &write_op_);
  }

  friend class SessionServer;
  SessionServer& server_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncReaderWriter<pb::SessionResponse, pb::SessionRequest> rw_;
  Op accept_op_, read_op_, write_op_, finish_op_;
  pb::SessionRequest request_;
  std::mutex mu_;
  std::deque<pb::SessionResponse> queue_;
  pb::SessionResponse in_flight_;
  std::atomic<int> pending_{0};
  bool writing_ = false;
  bool broken_ = false;
  bool reading_done_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool hello_seen_ = false;
  bool refused_ = false;
  grpc::Status finish_status_ = grpc::Status::OK;
};

SessionServer::SessionServer(Engine& engine, std::mutex& engine_mu, Logger& log,
                             SessionServerOptions options)
    : engine_(engine),
      engine_mu_(engine_mu),
      log_(log),
      options_(std::move(options)),
      acceptor_("frontend session", PeerAcceptor::users(is_frontend_user), log) {}

SessionServer::~SessionServer() {
  acceptor_.stop();
  if (server_ && !stopping_) server_->Shutdown();
  if (cq_ && !queue_closed_) cq_->Shutdown();
}

Status SessionServer::start() {
  // No listening port of gRPC's: the acceptor listens, checks who connected, and hands
  // gRPC the connections of the frontend's user only.
  grpc::ServerBuilder builder;
  builder.RegisterService(&service_);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  cq_ = builder.AddCompletionQueue();
  server_ = builder.BuildAndStart();
  if (!server_) return Status::error(EIO, "cannot start the session server");
  listen_for_next_stream();
  DXS_RETURN_IF_ERROR(acceptor_.start(options_.socket_path, 0600, server_.get()));
  log_.info("serving the frontend session on {}", options_.socket_path);
  return Status::ok();
}

void SessionServer::listen_for_next_stream() {
  if (!stopping_) new Stream(*this);
}

void SessionServer::adopt(Stream* s) {
  std::lock_guard lock(current_mu_);
  if (current_ != nullptr && current_ != s) current_->take_over();
  current_ = s;
}

bool SessionServer::is_current(const Stream* s) {
  std::lock_guard lock(current_mu_);
  return current_ == s;
}

void SessionServer::forget(Stream* s) {
  std::lock_guard lock(current_mu_);
  if (current_ == s) current_ = nullptr;
}

void SessionServer::deliver(std::vector<pb::Outbound>&& items) {
  if (items.empty()) return;
  std::lock_guard lock(current_mu_);
  if (current_ != nullptr && !queue_closed_) current_->send(std::move(items));
}

void SessionServer::run() {
  using Clock = std::chrono::steady_clock;
  // RocksDB's per-thread statistics cost time on every operation; nobody reads them.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  const auto spin = std::chrono::microseconds(options_.spin_us);
  auto spin_until = Clock::now();
  // Pinged from the thread that runs the engine, so a hung engine is caught. When it
  // is enabled, an idle wait ends after a ping period (TIMEOUT, handled as a spin).
  Watchdog watchdog;
  // The end of a hold (a guarded transaction's, a watcher's far behind: Engine::
  // hold_deadline) also ends a wait, so that what it held goes on when no batch comes to
  // release it.
  auto idle_deadline = [this, &watchdog] {
    std::optional<int64_t> lift;
    {
      std::lock_guard lock(engine_mu_);
      lift = engine_.hold_deadline();
    }
    gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    if (watchdog.enabled()) {
      deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                              gpr_time_from_micros(watchdog.period().count(), GPR_TIMESPAN));
    }
    if (lift) {
      const int64_t wait_ns = std::max<int64_t>(0, *lift - steady_ns());
      deadline = gpr_time_min(deadline, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                     gpr_time_from_nanos(wait_ns, GPR_TIMESPAN)));
    }
    return deadline;
  };
  for (;;) {
    watchdog.ping_if_due();
    void* tag = nullptr;
    bool ok = false;
    const bool spinning = Clock::now() < spin_until;
    auto status =
        cq_->AsyncNext(&tag, &ok, spinning ? gpr_time_0(GPR_CLOCK_MONOTONIC) : idle_deadline());
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status == grpc::CompletionQueue::TIMEOUT) {
      if (!spinning) lift_expired_holds();
      // Polling: let any other runnable thread (a client, the frontend) have the CPU.
      sched_yield();
      continue;
    }
    if (server_shut_down_ && !queue_closed_) close_queue();
    if (tag != &wake_tag_) {
      auto* op = static_cast<Stream::Op*>(tag);
      op->stream->on_event(op->kind, ok);
    }
    spin_until = Clock::now() + spin;
  }
}

void SessionServer::lift_expired_holds() {
  std::vector<pb::Outbound> out;
  {
    std::lock_guard lock(engine_mu_);
    engine_.lift_expired_holds(steady_ns(), out);
  }
  deliver(std::move(out));
}

// On this thread only, between events: no operation is being started meanwhile, and
// none starts after (queue_closed_, under current_mu_ for the Ops threads' deliver()).
void SessionServer::close_queue() {
  {
    std::lock_guard lock(current_mu_);
    queue_closed_ = true;
  }
  cq_->Shutdown();
}

void SessionServer::shutdown() {
  if (stopping_.exchange(true)) return;
  acceptor_.stop();
  // Cancels every call; their operations come back failed through the queue, which
  // run() keeps draining meanwhile.
  server_->Shutdown(std::chrono::system_clock::now());
  // Then run() closes the queue. The alarm wakes it should it be blocked with nothing
  // left to come. Both under current_mu_, which close_queue() takes before closing: the
  // alarm is never set on a closed queue, and run() always wakes after the flag is set.
  std::lock_guard lock(current_mu_);
  server_shut_down_ = true;
  wake_.Set(cq_.get(), gpr_now(GPR_CLOCK_MONOTONIC), &wake_tag_);
}

}  // namespace dxs::store
