// The channel dxsctl talks to dxs-store on: the local ops socket (`unix:PATH`).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace dxs::ctl {

struct ChannelOptions {
  std::string address = "unix:/run/dxs/ops.sock";
};

// A channel to the store at options.address; EINVAL for an address it cannot use.
Result<std::shared_ptr<grpc::Channel>> open_channel(const ChannelOptions& options);

}  // namespace dxs::ctl
