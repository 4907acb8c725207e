#include "frontend/session_client.h"

#include <sched.h>

#include <chrono>

namespace dxs::frontend {

SessionClient::SessionClient(SessionClientOptions options, Logger& log)
    : options_(std::move(options)), log_(log) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  channel_ = grpc::CreateCustomChannel("unix:" + options_.store_path, grpc::InsecureChannelCredentials(), args);
  stub_ = pb::Session::NewStub(channel_);
}

SessionClient::~SessionClient() { stream_.reset(); }

void SessionClient::submit(pb::Inbound&& item) {
  std::lock_guard lock(mu_);
  *pending_.add_items() = std::move(item);
  write_locked();
}

void SessionClient::submit(std::vector<pb::Inbound>&& items) {
  if (items.empty()) return;
  std::lock_guard lock(mu_);
  for (auto& item : items) *pending_.add_items() = std::move(item);
  write_locked();
}

bool SessionClient::wait_attached() {
  std::unique_lock lock(mu_);
  attached_cv_.wait(lock, [&] { return ever_attached_ || stopping_; });
  return ever_attached_;
}

void SessionClient::attach() {
  std::lock_guard lock(mu_);
  // The stream lives in its call's arena: release it before the context that owns it.
  stream_.reset();
  ctx_ = std::make_unique<grpc::ClientContext>();
  ctx_->set_wait_for_ready(true);
  stream_ = stub_->PrepareAsyncAttach(ctx_.get(), &cq_);
  stream_ok_ = true;
  attached_ = false;
  finished_ = false;
  writing_ = false;
  outstanding_ = 1;
  stream_->StartCall(&started_op_);
}

// REQUIRES: mu_ held. Sends the pending batch if the stream is ready and idle.
void SessionClient::write_locked() {
  if (writing_ || !attached_ || !stream_ok_ || pending_.items_size() == 0) return;
  in_flight_.Clear();
  in_flight_.Swap(&pending_);
  writing_ = true;
  ++outstanding_;
  stream_->Write(in_flight_, &wrote_op_);
}

void SessionClient::start_read() {
  std::lock_guard lock(mu_);
  response_.Clear();
  ++outstanding_;
  stream_->Read(&response_, &read_op_);
}

void SessionClient::broken(const char* what) {
  std::lock_guard lock(mu_);
  if (!stream_ok_) return;
  stream_ok_ = false;
  if (!stopping_) log_.warn("session with the store lost ({}); attaching again", what);
  ctx_->TryCancel();
}

void SessionClient::on_event(Tag tag, bool ok) {
  switch (tag) {
    case Tag::kStarted: {
      {
        std::lock_guard lock(mu_);
        --outstanding_;
        in_flight_.Clear();
        in_flight_.mutable_hello()->set_frontend(options_.name);
        writing_ = true;
        ++outstanding_;
        stream_->Write(in_flight_, &wrote_op_);
      }
      start_read();
      if (!ok) broken("call did not start");
      break;
    }
    case Tag::kWrote: {
      bool failed = false;
      {
        std::lock_guard lock(mu_);
        --outstanding_;
        writing_ = false;
        if (ok) {
          write_locked();
        } else {
          failed = true;
        }
      }
      if (failed) broken("write failed");
      break;
    }
    case Tag::kRead: {
      {
        std::lock_guard lock(mu_);
        --outstanding_;
        if (!ok) {
          // The stream is over: collect its status, then attach again.
          stream_ok_ = false;
          ++outstanding_;
          stream_->Finish(&finish_status_, &finished_op_);
          break;
        }
      }
      if (response_.has_welcome()) {
        std::vector<pb::Inbound> first = handler_->on_attached(response_.welcome());
        std::lock_guard lock(mu_);
        pending_.Clear();
        for (auto& item : first) *pending_.add_items() = std::move(item);
        attached_ = true;
        ever_attached_ = true;
        retry_ms_ = 50;
        attached_cv_.notify_all();
        write_locked();
      }
      if (response_.items_size() > 0) handler_->on_response(response_);
      start_read();
      break;
    }
    case Tag::kFinished: {
      std::lock_guard lock(mu_);
      --outstanding_;
      finished_ = true;
      attached_ = false;
      if (!finish_status_.ok() && !stopping_) {
        log_.warn("store session ended: {}", finish_status_.error_message());
      }
      break;
    }
    case Tag::kRetry:
      {
        std::lock_guard lock(mu_);
        retry_scheduled_ = false;
      }
      if (!stopping_ && ok) attach();
      return;
  }
  // Once the old stream is finished and drained, attach again after a pause.
  std::lock_guard lock(mu_);
  if (finished_ && outstanding_ == 0 && !stopping_ && !retry_scheduled_) {
    retry_scheduled_ = true;
    retry_alarm_.Set(&cq_, std::chrono::system_clock::now() + std::chrono::milliseconds(retry_ms_), &retry_op_);
    retry_ms_ = std::min(retry_ms_ * 2, 1000);
  }
}

void SessionClient::run() {
  using Clock = std::chrono::steady_clock;
  attach();
  const auto spin = std::chrono::microseconds(options_.spin_us);
  auto spin_until = Clock::now();
  for (;;) {
    if (stopping_) {
      std::lock_guard lock(mu_);
      if (outstanding_ == 0) break;
    }
    void* tag = nullptr;
    bool ok = false;
    const bool spinning = Clock::now() < spin_until;
    auto deadline = spinning ? gpr_time_0(GPR_CLOCK_MONOTONIC)
                             : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(200, GPR_TIMESPAN));
    auto status = cq_.AsyncNext(&tag, &ok, deadline);
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status == grpc::CompletionQueue::TIMEOUT) {
      if (spinning) sched_yield();
      continue;
    }
    auto* op = static_cast<Op*>(tag);
    op->client->on_event(op->tag, ok);
    spin_until = Clock::now() + spin;
  }
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

void SessionClient::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    attached_cv_.notify_all();
    if (ctx_) ctx_->TryCancel();
  }
  retry_alarm_.Cancel();
}

}  // namespace dxs::frontend
