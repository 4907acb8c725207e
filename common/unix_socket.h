// Unix-domain socket helpers shared by the binaries.
#pragma once

#include <sys/types.h>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dxs {

// "unix:/run/dxs/store.sock" -> "/run/dxs/store.sock". EINVAL for any other scheme, an
// empty path or one too long for sun_path.
Result<std::string> parse_unix_address(std::string_view address);

// A listening, non-blocking, close-on-exec stream socket at `path` with file mode `mode`.
// A stale socket file left by a dead process is replaced; a live one is EADDRINUSE.
// Missing parent directories are created (mode 0755).
Result<int> listen_unix(const std::string& path, mode_t mode, int backlog = 128);

// A connected, blocking, close-on-exec stream socket.
Result<int> connect_unix(const std::string& path);

// mkdir -p with `mode` for the directories it creates.
Status make_directories(const std::string& dir, mode_t mode);

struct PeerCredentials {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};
bool peer_credentials(int fd, PeerCredentials& out);
// The peer's supplementary groups at connect (SO_PEERGROUPS, Linux 4.13); false if the
// kernel cannot tell.
bool peer_groups(int fd, std::vector<gid_t>& out);

}  // namespace dxs
