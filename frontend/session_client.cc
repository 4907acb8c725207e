#include "frontend/session_client.h"

#include <fcntl.h>
#include <grpcpp/create_channel_posix.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unix_socket.h"

namespace dxs::frontend {

namespace {
// A connection attempt on a Unix socket costs microseconds, and every client waits while
// the store is away: try often (a restarted store is answered within about 10 ms of
// listening; docs/performance.md, "Restart time").
constexpr std::chrono::milliseconds kReconnect(10);
}  // namespace

SessionClient::SessionClient(SessionClientOptions options, Poller& poller, Logger& log)
    : options_(std::move(options)), poller_(poller), log_(log) {
  channel_args_.SetMaxReceiveMessageSize(256 << 20);
  channel_args_.SetMaxSendMessageSize(256 << 20);
}

SessionClient::~SessionClient() {
  unwatch_socket();
  retry_alarm_.Cancel();
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
  // The stream lives in its call's arena: release it before the context that owns it.
  stream_.reset();
  ctx_.reset();
}

void SessionClient::start() {
  attach();
}

void SessionClient::attach() {
  unwatch_socket();
  stream_.reset();  // before the context that owns its arena
  ctx_.reset();
  stream_ok_ = attached_ = finished_ = writing_ = false;
  sent_batch_ = acked_batch_ = 0;
  // Blocking, which on a Unix socket waits only if the store's listen backlog is full
  // (one frontend connects to it).
  Result<int> fd = connect_unix(options_.store_path);
  if (!fd) {
    if (!unreachable_logged_) {
      log_.info("store not reachable at {} ({}); trying again every {} ms", options_.store_path,
                fd.status().to_string(), kReconnect.count());
      unreachable_logged_ = true;
    }
    retry_in(kReconnect);
    return;
  }
  unreachable_logged_ = false;
  const int watch = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
  // gRPC owns the descriptor from here, and closes it with the channel.
  channel_ = grpc::CreateCustomInsecureChannelFromFd(options_.store_path, *fd, channel_args_);
  stub_ = pb::Session::NewStub(channel_);
  if (watch >= 0) {
    watch_socket(watch);
  } else {
    log_.warn("cannot duplicate the store's socket ({}): looking at it every round",
              std::strerror(errno));
  }
  ctx_ = std::make_unique<grpc::ClientContext>();
  // The channel is this one connection: once it is gone, a call fails at once and the
  // stream is attached again on a new one.
  ctx_->set_wait_for_ready(false);
  stream_ = stub_->PrepareAsyncAttach(ctx_.get(), &cq_);
  stream_ok_ = true;
  outstanding_ = 1;
  stream_->StartCall(&started_op_);
}

void SessionClient::submit(pb::Inbound&& item) {
  *pending_.add_items() = std::move(item);
  write_pending();
}

// Sends the pending batch if the stream is attached and no write is in flight.
void SessionClient::write_pending() {
  if (writing_ || !attached_ || !stream_ok_ || pending_.items_size() == 0) return;
  if (sent_batch_ - acked_batch_ >= static_cast<uint64_t>(options_.batches_in_flight)) return;
  in_flight_.Clear();
  in_flight_.Swap(&pending_);
  in_flight_.set_batch(++sent_batch_);
  writing_ = true;
  ++outstanding_;
  stream_->Write(in_flight_, &wrote_op_);
}

void SessionClient::start_read() {
  response_.Clear();
  ++outstanding_;
  stream_->Read(&response_, &read_op_);
}

void SessionClient::broken(const char* what) {
  if (!stream_ok_) return;
  stream_ok_ = false;
  if (!stopping_) log_.warn("session with the store lost ({}); attaching again", what);
  ctx_->TryCancel();
}

void SessionClient::handle(Tag tag, bool ok) {
  switch (tag) {
    case Tag::kStarted:
      --outstanding_;
      in_flight_.Clear();
      in_flight_.mutable_hello()->set_frontend(options_.name);
      in_flight_.mutable_hello()->set_dom0_ring_port(options_.dom0_ring_port);
      in_flight_.mutable_hello()->set_generation(generation_);
      writing_ = true;
      ++outstanding_;
      stream_->Write(in_flight_, &wrote_op_);
      start_read();
      if (!ok) broken("call did not start");
      break;
    case Tag::kWrote:
      --outstanding_;
      writing_ = false;
      if (ok) {
        write_pending();
      } else {
        broken("write failed");
      }
      break;
    case Tag::kRead:
      --outstanding_;
      if (!ok) {
        // The stream is over: collect its status, then attach again.
        stream_ok_ = false;
        attached_ = false;
        ++outstanding_;
        stream_->Finish(&finish_status_, &finished_op_);
        break;
      }
      if (response_.has_welcome()) {
        generation_ = response_.welcome().generation();
        std::vector<pb::Inbound> first = handler_->on_attached(response_.welcome());
        pending_.Clear();
        for (auto& item : first) *pending_.add_items() = std::move(item);
        attached_ = true;
        ever_attached_ = true;
        retry_ms_ = 50;
      }
      acked_batch_ = std::max(acked_batch_, response_.batch());
      if (response_.items_size() > 0) handler_->on_response(response_);
      write_pending();
      start_read();
      break;
    case Tag::kFinished:
      --outstanding_;
      finished_ = true;
      if (finish_status_.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        // Only the hello is answered so (session_service.h): another frontend holds
        // the store, and every connection with it.
        log_.error("the store refused this frontend: {}", finish_status_.error_message());
        superseded_ = true;
        stopping_ = true;
      } else if (!finish_status_.ok() && !stopping_) {
        log_.warn("store session ended: {}", finish_status_.error_message());
      }
      break;
    case Tag::kRetry:
      retry_scheduled_ = false;
      if (!stopping_ && ok) attach();
      return;
    case Tag::kWake:
      return;  // poll() has cleared wake_pending_
  }
  // Once the old stream is finished and drained, attach again after a pause.
  if (finished_ && outstanding_ == 0 && !stopping_ && !retry_scheduled_) {
    unwatch_socket();
    retry_in(std::chrono::milliseconds(retry_ms_));
    retry_ms_ = std::min(retry_ms_ * 2, 100);
  }
}

void SessionClient::retry_in(std::chrono::milliseconds delay) {
  retry_scheduled_ = true;
  retry_due_ = std::chrono::steady_clock::now() + delay;
  retry_alarm_.Set(&cq_, std::chrono::system_clock::now() + delay, &retry_op_);
}

void SessionClient::watch_socket(int fd) {
  if (Status s = poller_.add(fd, EPOLLIN, *this); !s) {
    log_.warn("cannot watch the store's socket ({}): looking at it every round", s.to_string());
    ::close(fd);
    return;
  }
  watch_fd_ = fd;
}

void SessionClient::unwatch_socket() {
  if (watch_fd_ < 0) return;
  poller_.remove(watch_fd_, *this);
  ::close(watch_fd_);
  watch_fd_ = -1;
  readable_ = false;
}

bool SessionClient::needs_grpc_wait() const {
  if (retry_scheduled_ || writing_ || watch_fd_ < 0) return true;
  // Set up (no Welcome yet) or wound down (cancelled, operations to collect).
  return stream_ != nullptr && (!attached_ || !stream_ok_);
}

int SessionClient::poll_if_ready() {
  if (!readable_ && !needs_grpc_wait()) return 0;
  // A retry is scheduled only once there is no stream left to collect operations of.
  if (retry_scheduled_ && std::chrono::steady_clock::now() < retry_due_) return 0;
  readable_ = false;
  return poll(std::chrono::microseconds(0));
}

int SessionClient::poll(std::chrono::microseconds timeout) {
  int handled = 0;
  gpr_timespec deadline = timeout == kForever ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                          : timeout.count() <= 0
                              ? gpr_time_0(GPR_CLOCK_MONOTONIC)
                              : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                             gpr_time_from_micros(timeout.count(), GPR_TIMESPAN));
  for (;;) {
    void* tag = nullptr;
    bool ok = false;
    auto status = cq_.AsyncNext(&tag, &ok, deadline);
    if (status != grpc::CompletionQueue::GOT_EVENT) return handled;
    const Tag t = static_cast<Op*>(tag)->tag;
    if (t == Tag::kWake) {
      // The alarm has fired and is delivered: wake() may set it again.
      wake_pending_.store(false, std::memory_order_release);
    } else {
      ++handled;
    }
    handle(t, ok);
    deadline = gpr_time_0(GPR_CLOCK_MONOTONIC);  // then only what is ready now
  }
}

void SessionClient::wake() {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  wake_alarm_.Set(&cq_, gpr_time_0(GPR_CLOCK_MONOTONIC), &wake_op_);
}

void SessionClient::stop() {
  stopping_ = true;
  retry_alarm_.Cancel();
  if (ctx_) ctx_->TryCancel();
}

}  // namespace dxs::frontend
