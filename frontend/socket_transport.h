// SocketTransport: Xenstore clients on a Unix socket (libxenstore, xenstore-utils, xl).
//
// Driven by the event loop through poll(): it accepts clients, reads their bytes, frames messages
// (closing a client whose header announces a payload over 4096 bytes, as xenstored does)
// and hands them to the Dispatch. Replies are queued and written by the loop's
// flush_pending(), a client's whole share of a batch with one send(). A client
// whose queue passes `pause_bytes` is not read until it drains (its requests wait in its
// own socket); one whose queue still reaches `max_queued_bytes` is dropped.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "frontend/dispatch.h"

namespace dxs::frontend {

struct SocketTransportOptions {
  std::string path;
  mode_t mode = 0600;
  // Output backlog above which a client's requests are not read until it catches up.
  size_t pause_bytes = 256 << 10;
  // Output backlog at which a client that does not read is dropped.
  size_t max_queued_bytes = 64 << 20;
};

class SocketTransport {
 public:
  SocketTransport(Dispatch& dispatch, Logger& log, SocketTransportOptions options);
  ~SocketTransport();

  // Creates the listening socket.
  Status listen();
  // Waits up to timeout_ms (-1: no limit) for socket events and handles them. Returns
  // how many it handled.
  int poll(int timeout_ms);
  // Thread-safe: makes a blocked poll() return.
  void wake_up();
  // Writes what was queued for clients since the last call: the loop calls it after
  // each round of work, so that a client gets a batch's replies with one send().
  void flush_pending();

 private:
  class Conn;
  friend class Conn;
  void accept_clients();
  void handle(Conn& c, uint32_t events);
  void read_from(Conn& c);
  void process_input(Conn& c);
  void drop(Conn& c, std::string_view reason);
  void wake();
  void request_resume(std::shared_ptr<Conn> c);
  void schedule_flush(std::shared_ptr<Conn> c);

  Dispatch& dispatch_;
  Logger& log_;
  SocketTransportOptions options_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unordered_map<Conn*, std::shared_ptr<Conn>> conns_;  // loop thread only
  std::mutex resume_mu_;
  std::vector<std::shared_ptr<Conn>> resume_;
  std::mutex flush_mu_;
  std::vector<std::shared_ptr<Conn>> to_flush_;
};

}  // namespace dxs::frontend
