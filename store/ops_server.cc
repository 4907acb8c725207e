#include "store/ops_server.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "common/config.h"

namespace dxs::store {
namespace {

Result<std::string> read_pem(const std::string& key, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::error(ENOENT, fmt::format("{}: cannot read {}", key, file));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) return Status::error(EINVAL, fmt::format("{}: {} is empty", key, file));
  return text.str();
}

}  // namespace

Result<std::string> parse_tcp_address(std::string_view address) {
  constexpr std::string_view kScheme = "tcp:";
  const auto bad = [&] {
    return Status::error(EINVAL, fmt::format("'{}' is not tcp:HOST:PORT", address));
  };
  if (address.substr(0, kScheme.size()) != kScheme) return bad();
  const std::string_view rest = address.substr(kScheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  int64_t port = 0;
  if (!parse_int(rest.substr(colon + 1), 0, 65535, port)) return bad();
  return std::string(rest);
}

OpsServer::OpsServer(OpsAuth& auth, Logger& log)
    : auth_(auth),
      log_(log),
      acceptor_(
          "ops socket",
          [this](int fd, const PeerCredentials& peer) { return auth_.admit_local(fd, peer); },
          log) {}

OpsServer::~OpsServer() {
  shutdown();
}

Status OpsServer::start(const OpsServerOptions& options,
                        const std::vector<grpc::Service*>& services) {
  grpc::ServerBuilder builder;
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::string tcp;
  if (!options.tcp_address.empty()) {
    Result<std::string> address = parse_tcp_address(options.tcp_address);
    if (!address) return address.status();
    tcp = *address;
    std::string missing;
    for (const auto& [key, value] : {std::pair{"ops.tls-cert", &options.tls_cert_file},
                                     std::pair{"ops.tls-key", &options.tls_key_file},
                                     std::pair{"ops.tls-client-ca", &options.tls_client_ca_file}}) {
      if (value->empty()) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", key);
    }
    if (!options.tls_roles_configured) {
      missing += fmt::format("{}ops.tls-admin or ops.tls-read", missing.empty() ? "" : ", ");
    }
    if (!missing.empty()) {
      return Status::error(EINVAL, fmt::format("ops.tcp-listen {} needs mutual TLS; missing: {}",
                                               options.tcp_address, missing));
    }
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    Result<std::string> cert = read_pem("ops.tls-cert", options.tls_cert_file);
    if (!cert) return cert.status();
    Result<std::string> key = read_pem("ops.tls-key", options.tls_key_file);
    if (!key) return key.status();
    Result<std::string> ca = read_pem("ops.tls-client-ca", options.tls_client_ca_file);
    if (!ca) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    builder.AddListeningPort(tcp, grpc::SslServerCredentials(ssl), &tcp_port_);
  }
  server_ = builder.BuildAndStart();
  if (!server_ || (!tcp.empty() && tcp_port_ == 0)) {
    server_.reset();
    return Status::error(EADDRINUSE, tcp.empty()
                                         ? std::string("cannot start the ops server")
                                         : fmt::format("cannot listen on {} (or the TLS files are "
                                                       "not a certificate and its key)",
                                                       options.tcp_address));
  }
  if (Status s = acceptor_.start(options.unix_path, 0660, server_.get(), options.unix_group); !s) {
    server_->Shutdown();
    server_.reset();
    return s;
  }
  log_.info("ops API on unix:{}{}", options.unix_path,
            tcp.empty()
                ? std::string()
                : fmt::format(" and {} (mutual TLS), port {}", options.tcp_address, tcp_port_));
  return Status::ok();
}

void OpsServer::shutdown() {
  acceptor_.stop();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }
}

}  // namespace dxs::store
