// SessionClient: the frontend's end of the Session stream to dxs-store.
//
// Items submitted from any thread are collected into one batch while the previous batch
// is being written, so load turns into larger batches rather than more messages. One
// thread drives gRPC's completion queue, polling briefly after each event before it
// sleeps (`spin_us`), and hands every response to the SessionHandler on that thread.
//
// If the store goes away the client attaches again (gRPC waits for the socket with
// wait-for-ready, so a restarting store costs clients a delay, never an error); the
// handler then says what must be sent again before anything new.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "proto/session.grpc.pb.h"

namespace dxs::frontend {

class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  // A (new) stream is attached; the returned items are sent before any other.
  virtual std::vector<pb::Inbound> on_attached(const pb::Welcome& welcome) = 0;
  virtual void on_response(pb::SessionResponse& response) = 0;
};

struct SessionClientOptions {
  std::string store_path;  // the store's private Unix socket
  std::string name;        // for the store's logs
  int spin_us = 50;
  size_t max_batch_items = 4096;
};

class SessionClient {
 public:
  SessionClient(SessionClientOptions options, Logger& log);
  ~SessionClient();

  void set_handler(SessionHandler* handler) { handler_ = handler; }

  // Thread-safe: queue items for the store.
  void submit(pb::Inbound&& item);
  void submit(std::vector<pb::Inbound>&& items);

  // Drives the stream until stop(); attaches (and re-attaches) as needed.
  void run();
  // Thread-safe.
  void stop();
  // Blocks until the first Welcome has been handled (or stop()). False if stopped.
  bool wait_attached();

 private:
  enum class Tag { kStarted, kWrote, kRead, kFinished, kRetry };
  struct Op {
    SessionClient* client;
    Tag tag;
  };
  void attach();
  void on_event(Tag tag, bool ok);
  void write_locked();
  void start_read();
  void broken(const char* what);

  SessionClientOptions options_;
  Logger& log_;
  SessionHandler* handler_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Session::Stub> stub_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<pb::SessionRequest, pb::SessionResponse>> stream_;
  grpc::Status finish_status_;
  pb::SessionResponse response_;
  grpc::Alarm retry_alarm_;
  Op started_op_{this, Tag::kStarted}, wrote_op_{this, Tag::kWrote}, read_op_{this, Tag::kRead},
      finished_op_{this, Tag::kFinished}, retry_op_{this, Tag::kRetry};

  std::mutex mu_;  // guards everything below
  pb::SessionRequest pending_;
  pb::SessionRequest in_flight_;
  bool writing_ = false;
  bool attached_ = false;  // Welcome handled on the current stream
  bool stream_ok_ = false;
  int outstanding_ = 0;    // operations on the current stream not yet completed
  bool finished_ = false;  // Finish() completed on the current stream
  bool retry_scheduled_ = false;
  bool ever_attached_ = false;
  std::condition_variable attached_cv_;
  std::atomic<bool> stopping_{false};
  int retry_ms_ = 50;
};

}  // namespace dxs::frontend
