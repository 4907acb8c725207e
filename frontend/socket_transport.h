// SocketTransport: Xenstore clients on a Unix socket (libxenstore, xenstore-utils, xl).
//
// Its listening socket and every client socket are registered with the Poller, whose
// handlers accept clients, read their bytes, frame messages (closing a client whose
// header announces a payload over 4096 bytes, as xenstored does) and hand them to the
// Dispatch. Replies are queued in the client's SocketOutbox and written by
// flush_pending(), a client's whole share of a batch at once. A client whose backlog
// passes `pause_bytes` is not read until it drains (its requests wait in its own
// socket); one whose backlog still reaches `max_queued_bytes` is dropped.
//
// Crash-only: a client's requests are read with MSG_PEEK (SO_PEEK_OFF moves on past
// what was read) and consumed from the socket only as their replies go out (the
// outbox), so a frontend killed before the store recorded a request leaves it for the
// next one. Client sockets are edge-triggered: unconsumed bytes keep a socket readable.
// Every client socket and its outbox pipe are handed to systemd's fd store
// (fd_store.h) and, after a restart, the sockets that come back are resumed as the
// connections the store's Welcome lists (SocketHost): what the killed frontend left in
// the outbox goes out first, and the requests it answers are consumed (resume_head()).
// The listening socket comes back the same way or from socket activation. Client
// sockets are consumed only in flush_pending(), which the loop runs before it reads any
// client after the store answers: a request reports a reply delivered only once its
// request is consumed.
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
#include "frontend/fd_store.h"
#include "frontend/poller.h"
#include "frontend/transport.h"

namespace dxs::frontend {

struct SocketTransportOptions {
  std::string path;
  mode_t mode = 0600;
  // Output backlog above which a client's requests are not read until it catches up.
  size_t pause_bytes = 256 << 10;
  // Output backlog at which a client that does not read is dropped.
  size_t max_queued_bytes = 64 << 20;
};

// REQUIRES: the Poller outlives the transport.
class SocketTransport final : public Transport, public SocketHost, private FdHandler {
 public:
  // REQUIRES: fd_store outlives the transport.
  SocketTransport(Poller& poller, Dispatch& dispatch, FdStore& fd_store, Logger& log,
                  SocketTransportOptions options);
  ~SocketTransport() override;

  // REQUIRES: before listen(). What systemd passed: the listening socket, which listen()
  // uses instead of creating one, and client sockets to resume.
  void inherit(InheritedFds fds);
  // Registers the listening socket with the Poller, creating it (and handing it to the
  // fd store) unless it was inherited.
  Status listen();

  // SocketHost.
  bool resume_socket(uint64_t conn) override;
  std::vector<uint64_t> release_unclaimed(uint64_t last_opened) override;

  // Transport: resumes reading the clients the Dispatch has room for again.
  int run_pending() override;
  // Transport: writes what was queued for clients, a client's share at once.
  void flush_pending() override;

 private:
  class Conn;
  friend class Conn;
  void on_fd_ready(uint32_t events) override;  // the listening socket
  void accept_clients();
  void handle(Conn& c, uint32_t events);
  void read_from(Conn& c);
  // A resumed client, at adoption: its socket's head and its outbox, for resume_at().
  void resume_head(Conn& c);
  std::shared_ptr<Conn> add_client(int fd, const ClientIdentity& who);
  void process_input(Conn& c);
  void drop(Conn& c, std::string_view reason);
  void request_resume(std::shared_ptr<Conn> c);
  void schedule_flush(std::shared_ptr<Conn> c);

  Poller& poller_;
  Dispatch& dispatch_;
  FdStore& fd_store_;
  Logger& log_;
  SocketTransportOptions options_;
  int listen_fd_ = -1;
  InheritedFds inherited_;
  std::unordered_map<Conn*, std::shared_ptr<Conn>> conns_;  // loop thread only
  std::mutex resume_mu_;
  std::vector<std::shared_ptr<Conn>> resume_;
  std::mutex flush_mu_;
  std::vector<std::shared_ptr<Conn>> to_flush_;
};

}  // namespace dxs::frontend
