// The channel dxsctl talks to dxs-store on: the local ops socket (`unix:PATH`, the
// default), or the store's TCP listener (`tcp:HOST:PORT`), which is mutual TLS only:
// dxsctl presents a client certificate and key and checks the store's certificate
// against a CA.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace dxs::ctl {

struct ChannelOptions {
  std::string address = "unix:/run/dxs/ops.sock";
  // tcp: only, all three required there: PEM files.
  std::string cert_file;  // the client's certificate
  std::string key_file;   // its private key
  std::string ca_file;    // the CA the store's certificate must be signed by
  // The name the store's certificate must carry, if not the address's host.
  std::string tls_name;
};

// A channel to the store at options.address; EINVAL for an address or TLS files it
// cannot use.
Result<std::shared_ptr<grpc::Channel>> open_channel(const ChannelOptions& options);

}  // namespace dxs::ctl
