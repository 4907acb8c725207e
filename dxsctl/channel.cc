#include "dxsctl/channel.h"

#include "common/unix_socket.h"

namespace dxs::ctl {

Result<std::shared_ptr<grpc::Channel>> open_channel(const ChannelOptions& options) {
  Result<std::string> path = parse_unix_address(options.address);
  if (!path) return path.status();
  // History's replies (a past tree listed, a diff) are bounded by the store at about
  // 32 MiB (store/history_trees.h), beyond gRPC's default of 4 MiB.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel("unix:" + *path, grpc::InsecureChannelCredentials(), args);
}

}  // namespace dxs::ctl
