#include "dxsctl/channel.h"

#include "common/unix_socket.h"

namespace dxs::ctl {

Result<std::shared_ptr<grpc::Channel>> open_channel(const ChannelOptions& options) {
  Result<std::string> path = parse_unix_address(options.address);
  if (!path) return path.status();
  return grpc::CreateChannel("unix:" + *path, grpc::InsecureChannelCredentials());
}

}  // namespace dxs::ctl
