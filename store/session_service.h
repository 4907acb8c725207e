// SessionServer: serves dxs-frontend's Session stream.
//
// gRPC's asynchronous API, driven by one thread that also runs the engine: a batch read
// from the stream is applied and answered on the thread that read it, with no hand-off.
// After each event the thread polls for a short while before it blocks (`spin_us`):
// waking a sleeping thread costs more than a request on a small VM, and under load the
// poll always finds work. Outbound items produced while a write is in flight are merged
// into the next write, so replies are batched as requests are.
//
// One frontend is served at a time, and only a user allowed to be it (peer_acceptor.h)
// may connect. A new frontend's Attach takes over from the previous stream, whose
// batches are dropped from then on; a frontend replaced so is refused should it attach
// again (Engine::hello's generations), and stops.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "proto/session.grpc.pb.h"
#include "store/engine.h"
#include "store/peer_acceptor.h"

namespace dxs::store {

struct SessionServerOptions {
  std::string socket_path;  // private Unix socket, mode 0600
  int spin_us = 200;
};

class SessionServer {
 public:
  SessionServer(Engine& engine, std::mutex& engine_mu, Logger& log, SessionServerOptions options);
  ~SessionServer();

  Status start();
  // Serves until shutdown(). (A storage failure stops the process: fail_stop.h.)
  void run();
  // Thread-safe; makes run() return.
  void shutdown();

  // Thread-safe: sends items to the attached frontend (those produced by ops requests).
  void deliver(std::vector<pb::Outbound>&& items);

 private:
  class Stream;
  void listen_for_next_stream();
  void close_queue();
  // Applies what waited for holds that are over (Engine::lift_expired_holds).
  void lift_expired_holds();
  void adopt(Stream* s);   // s becomes the stream outbound items go to
  void forget(Stream* s);  // s is about to be deleted
  bool is_current(const Stream* s);

  Engine& engine_;
  std::mutex& engine_mu_;
  Logger& log_;
  SessionServerOptions options_;
  pb::Session::AsyncService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  PeerAcceptor acceptor_;
  std::mutex current_mu_;
  Stream* current_ = nullptr;  // the stream outbound items go to
  // Shutting down: shutdown() was called (no new streams), the server is shut down
  // (run() closes the queue next), the queue is closed (nothing starts on it again).
  std::atomic<bool> stopping_{false};
  std::atomic<bool> server_shut_down_{false};
  std::atomic<bool> queue_closed_{false};
  grpc::Alarm wake_;
  char wake_tag_ = 0;
};

}  // namespace dxs::store
