// OpsServer: the doors of the store's operator APIs (Ops, History), one gRPC server
// for both:
// - the local Unix socket, always: accepted by a PeerAcceptor whose admission is
//   OpsAuth::admit_local, so a local user without a role is closed on at accept; the
//   socket file is mode 0660 and belongs to the read group;
// - a TCP listener, only if configured, and only with mutual TLS: the server's
//   certificate and key, and the CA a client's certificate must be signed by (a client
//   without one, or with another CA's, fails the handshake), and at least one
//   certificate identity with a role. Without all of that the store does not start:
//   there is no unauthenticated network listener.
// Every service given is registered on both; its handlers check the caller's role
// (OpsAuth::require).
//
// Thread-safety: start() and shutdown() from one thread.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "store/ops_auth.h"
#include "store/peer_acceptor.h"

namespace dxs::store {

struct OpsServerOptions {
  std::string unix_path;                      // the local socket
  gid_t unix_group = static_cast<gid_t>(-1);  // its file's group (-1: left as created)
  std::string tcp_address;                    // "tcp:HOST:PORT", or "" for none
  std::string tls_cert_file;                  // PEM, the server's certificate chain
  std::string tls_key_file;                   // PEM, its private key
  std::string tls_client_ca_file;             // PEM, the CA client certificates need
  bool tls_roles_configured = false;          // a certificate identity has a role
};

class OpsServer {
 public:
  OpsServer(OpsAuth& auth, Logger& log);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  // EINVAL for a TCP listener without its TLS configuration (the message names what is
  // missing); the listeners' errors otherwise.
  Status start(const OpsServerOptions& options, const std::vector<grpc::Service*>& services);
  void shutdown();

  // The TCP listener's port (0 if none): the one bound if the address asked for 0.
  int tcp_port() const { return tcp_port_; }

 private:
  OpsAuth& auth_;
  Logger& log_;
  PeerAcceptor acceptor_;
  std::unique_ptr<grpc::Server> server_;
  int tcp_port_ = 0;
};

// "tcp:HOST:PORT" -> "HOST:PORT" (HOST may be "[::1]"); EINVAL for anything else.
Result<std::string> parse_tcp_address(std::string_view address);

}  // namespace dxs::store
