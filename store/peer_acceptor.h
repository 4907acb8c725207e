// PeerAcceptor: a gRPC server's Unix socket, accepted by hand so that each connection's
// peer is checked before gRPC sees a byte of it.
//
// gRPC's own listener cannot tell who connected (a Unix socket's peer is "unix:" to
// it); the socket's file mode is the only guard it leaves. This one listens itself
// (the socket is 0600 before listen(): common/unix_socket.h), reads each connection's
// SO_PEERCRED, closes those `admit` refuses, and hands the rest to the server
// (grpc::AddInsecureChannelFromFd; the calls of such a connection have the peer string
// "fd:N", N the descriptor handed over). `admit` may move the connection to another
// descriptor first (ops_auth.h does, so that a number names one caller). A refusal is
// logged, at most once a second with a count of those not logged, since any local
// process may try.
//
// Thread-safety: start() and stop() from one thread; accepting runs on a thread of its
// own, which stop() joins; `admit` runs on that thread.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/result.h"
#include "common/unix_socket.h"

namespace dxs::store {

class PeerAcceptor {
 public:
  // Given an accepted connection and its peer: the descriptor to hand to gRPC (fd, or
  // one admit moved the connection to, having closed fd), or -1 to refuse it (fd is
  // left to the acceptor, which closes it).
  using Admit = std::function<int(int fd, const PeerCredentials& peer)>;
  // An Admit that lets in the users `allowed` accepts, on the descriptor accepted.
  static Admit users(std::function<bool(const PeerCredentials&)> allowed);

  // `what` names the socket in log lines ("frontend session").
  PeerAcceptor(std::string what, Admit admit, Logger& log);
  ~PeerAcceptor();
  PeerAcceptor(const PeerAcceptor&) = delete;
  PeerAcceptor& operator=(const PeerAcceptor&) = delete;

  // Listens at `path` (mode `mode`, group `group` unless it is -1; a stale socket file
  // is replaced, a served one is EADDRINUSE) and starts handing admitted connections to
  // `server`, which must be started and outlive stop().
  Status start(const std::string& path, mode_t mode, grpc::Server* server,
               gid_t group = static_cast<gid_t>(-1));
  // Stops accepting and closes the listening socket. Idempotent.
  void stop();

  uint64_t refused() const { return refused_; }

 private:
  void accept_loop();
  void refuse(int fd, const PeerCredentials& peer, bool known);

  std::string what_;
  Admit admit_;
  Logger& log_;
  grpc::Server* server_ = nullptr;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd; written by stop()
  std::thread thread_;
  std::atomic<uint64_t> refused_{0};
  uint64_t refused_unlogged_ = 0;
  int64_t last_logged_ms_ = -1000000;
};

// The users a store lets attach as its frontend: root (dxs-frontend needs it for Xen's
// devices) and the store's own user (tests, and a store running as root).
bool is_frontend_user(const PeerCredentials& peer);

}  // namespace dxs::store
