// SessionClient: the frontend's end of the Session stream to dxs-store.
//
// Single-threaded: the event loop (event_loop.h) calls it and polls its completion
// queue. Items submitted while a batch is being written are collected into the next
// batch, so load turns into larger batches rather than more messages. Batches are
// numbered and the store answers each one, so the loop knows when it is waiting for the
// store.
//
// It connects to the store's socket itself and gives gRPC the connected descriptor,
// keeping a duplicate in the Poller: the loop then waits for a client and for the store
// in one epoll_wait, and asks gRPC's completion queue (a poll(2) each time) only when
// the store's socket was readable, an operation is under way, or a wait timed out
// (poll_if_ready()). If the store goes away the client connects and attaches again,
// 50 ms after the stream ended (100 ms if the last attach did not last to a Welcome),
// then every 10 ms until the store listens (a restarting store costs clients a delay,
// never an error); the handler then says what must be sent again before anything new. It
// attaches with the generation the store gave it first: should the store have taken a
// newer frontend since, it refuses this one, which is then superseded() and attaches no
// more.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "frontend/poller.h"
#include "frontend/session_link.h"
#include "proto/session.grpc.pb.h"

namespace dxs::frontend {

struct SessionClientOptions {
  std::string store_path;       // the store's private Unix socket
  std::string name;             // for the store's logs
  uint32_t dom0_ring_port = 0;  // dom0's kernel ring, if this frontend serves it
  // Batches written and not yet answered. While that many are at the store, new items
  // wait and join the next batch: under load, batches grow instead of messages
  // multiplying, and each message's fixed cost (two wake-ups, gRPC, a RocksDB write)
  // is shared by more requests.
  int batches_in_flight = 2;
};

class SessionClient final : public SessionLink, private FdHandler {
 public:
  // REQUIRES: the Poller outlives the client.
  SessionClient(SessionClientOptions options, Poller& poller, Logger& log);
  ~SessionClient() override;

  void set_handler(SessionHandler* handler) { handler_ = handler; }

  // Starts attaching to the store.
  void start();
  // SessionLink: queues an item for the store; it leaves with the next batch.
  void submit(pb::Inbound&& item) override;

  // Handles completion-queue events: waits up to `timeout` for the first (kForever: no
  // limit), then takes whatever else is ready. Returns how many events it handled, a
  // wake() counting none.
  static constexpr std::chrono::microseconds kForever = std::chrono::microseconds::max();
  int poll(std::chrono::microseconds timeout);
  // poll(0) if the session may have something: its socket was readable at the Poller's
  // last look, or needs_grpc_wait(). Otherwise 0, without a system call.
  int poll_if_ready();
  // Progress may need gRPC's own wait rather than the Poller's: a write the socket has
  // not taken whole yet, a stream being set up or wound down, a retry due. The loop then
  // blocks in poll().
  bool needs_grpc_wait() const;

  // Thread-safe: makes a blocked (or the next) poll() return. Wakes that come before
  // the last one has reached poll() are one wake.
  void wake();

  bool attached() const { return attached_; }
  // The store refused this frontend: a newer one attached since. Nothing more is sent.
  bool superseded() const { return superseded_; }
  // A batch has been written that the store has not answered yet.
  bool awaiting() const { return attached_ && (writing_ || acked_batch_ < sent_batch_); }

  // Cancels the stream; poll() until stopped().
  void stop();
  bool stopped() const { return stopping_ && outstanding_ == 0; }

 private:
  enum class Tag { kStarted, kWrote, kRead, kFinished, kRetry, kWake };
  struct Op {
    Tag tag;
  };
  void attach();
  void retry_in(std::chrono::milliseconds delay);
  // The duplicate of the store's socket the Poller watches (gRPC owns the original).
  void watch_socket(int fd);
  void unwatch_socket();
  void on_fd_ready(uint32_t) override { readable_ = true; }
  void handle(Tag tag, bool ok);
  void write_pending();
  void start_read();
  void broken(const char* what);

  SessionClientOptions options_;
  Poller& poller_;
  Logger& log_;
  grpc::ChannelArguments channel_args_;
  SessionHandler* handler_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Session::Stub> stub_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<pb::SessionRequest, pb::SessionResponse>> stream_;
  grpc::Status finish_status_;
  pb::SessionResponse response_;
  grpc::Alarm retry_alarm_;
  Op started_op_{Tag::kStarted}, wrote_op_{Tag::kWrote}, read_op_{Tag::kRead},
      finished_op_{Tag::kFinished}, retry_op_{Tag::kRetry}, wake_op_{Tag::kWake};
  // wake(): an alarm due at once puts wake_op_ on the queue. One at a time (an alarm is
  // set again only once it has fired): wake_pending_ from wake() until poll() has it.
  grpc::Alarm wake_alarm_;
  std::atomic<bool> wake_pending_{false};

  pb::SessionRequest pending_;
  pb::SessionRequest in_flight_;
  uint64_t sent_batch_ = 0;   // last batch number written on this stream
  uint64_t acked_batch_ = 0;  // last batch number the store answered
  bool writing_ = false;
  bool attached_ = false;  // Welcome handled on the current stream
  bool stream_ok_ = false;
  bool finished_ = false;  // Finish() completed on the current stream
  bool retry_scheduled_ = false;
  bool ever_attached_ = false;
  bool stopping_ = false;
  bool superseded_ = false;
  uint64_t generation_ = 0;  // from the first Welcome; 0 until then
  int outstanding_ = 0;      // operations on the current stream not yet completed
  int retry_ms_ = 50;
  std::chrono::steady_clock::time_point retry_due_;
  bool unreachable_logged_ = false;  // since the last attach
  int watch_fd_ = -1;
  bool readable_ = false;  // the Poller saw the store's socket readable since the last poll
};

}  // namespace dxs::frontend
