#include "dxsctl/channel.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "common/unix_socket.h"

namespace dxs::ctl {
namespace {

Result<std::string> read_file(const char* option, const std::string& file) {
  if (file.empty()) {
    return Status::error(EINVAL, fmt::format("a tcp: store needs {} (mutual TLS)", option));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::error(ENOENT, fmt::format("{}: cannot read {}", option, file));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// History's replies (a past tree listed, a diff) are bounded by the store at about
// 32 MiB (store/history_trees.h), beyond gRPC's default of 4 MiB.
grpc::ChannelArguments channel_arguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return args;
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> open_channel(const ChannelOptions& options) {
  constexpr std::string_view kTcp = "tcp:";
  if (std::string_view(options.address).substr(0, kTcp.size()) != kTcp) {
    if (!options.cert_file.empty() || !options.key_file.empty() || !options.ca_file.empty()) {
      return Status::error(EINVAL, "--cert, --key and --ca are for a tcp: store");
    }
    Result<std::string> path = parse_unix_address(options.address);
    if (!path) return path.status();
    return grpc::CreateCustomChannel("unix:" + *path, grpc::InsecureChannelCredentials(),
                                     channel_arguments());
  }
  const std::string target = options.address.substr(kTcp.size());
  if (target.empty()) return Status::error(EINVAL, "tcp: needs HOST:PORT");
  grpc::SslCredentialsOptions ssl;
  Result<std::string> cert = read_file("--cert", options.cert_file);
  if (!cert) return cert.status();
  Result<std::string> key = read_file("--key", options.key_file);
  if (!key) return key.status();
  Result<std::string> ca = read_file("--ca", options.ca_file);
  if (!ca) return ca.status();
  ssl.pem_cert_chain = *cert;
  ssl.pem_private_key = *key;
  ssl.pem_root_certs = *ca;
  grpc::ChannelArguments args = channel_arguments();
  if (!options.tls_name.empty()) args.SetSslTargetNameOverride(options.tls_name);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

}  // namespace dxs::ctl
