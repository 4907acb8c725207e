#include "common/unix_socket.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace dxs {
namespace {

bool fill_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

}  // namespace

Result<std::string> parse_unix_address(std::string_view address) {
  constexpr std::string_view kScheme = "unix:";
  if (address.substr(0, kScheme.size()) != kScheme) {
    return Status::error(EINVAL, fmt::format("'{}' is not a unix:PATH address", address));
  }
  std::string path(address.substr(kScheme.size()));
  sockaddr_un addr;
  if (!fill_address(path, addr)) {
    return Status::error(EINVAL, fmt::format("socket path '{}' is empty or too long", path));
  }
  return path;
}

Status make_directories(const std::string& dir, mode_t mode) {
  if (dir.empty()) return Status::ok();
  size_t pos = 0;
  while (true) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (!part.empty() && mkdir(part.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::error(errno, fmt::format("mkdir {}: {}", part, std::strerror(errno)));
    }
    if (pos == std::string::npos) return Status::ok();
  }
}

Result<int> listen_unix(const std::string& path, mode_t mode, int backlog) {
  sockaddr_un addr;
  if (!fill_address(path, addr)) {
    return Status::error(EINVAL, fmt::format("socket path '{}' is empty or too long", path));
  }
  if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    DXS_RETURN_IF_ERROR(make_directories(path.substr(0, slash), 0755));
  }
  // Replace the file only if nobody answers on it: two daemons must not share a socket.
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::error(EEXIST, fmt::format("{} exists and is not a socket", path));
    }
    Result<int> probe = connect_unix(path);
    if (probe.is_ok()) {
      close(*probe);
      return Status::error(EADDRINUSE, fmt::format("another process is serving {}", path));
    }
    unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(errno, fmt::format("socket: {}", std::strerror(errno)));
  // umask-independent mode: bind with a restrictive umask, then chmod.
  mode_t old = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  umask(old);
  if (rc != 0) {
    close(fd);
    return Status::error(bind_errno, fmt::format("bind {}: {}", path, std::strerror(bind_errno)));
  }
  if (chmod(path.c_str(), mode) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    return Status::error(e, fmt::format("listen {}: {}", path, std::strerror(e)));
  }
  return fd;
}

Result<int> connect_unix(const std::string& path) {
  sockaddr_un addr;
  if (!fill_address(path, addr)) {
    return Status::error(EINVAL, fmt::format("socket path '{}' is empty or too long", path));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(errno, fmt::format("socket: {}", std::strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    return Status::error(e, fmt::format("connect {}: {}", path, std::strerror(e)));
  }
  return fd;
}

bool peer_credentials(int fd, PeerCredentials& out) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  return true;
}

bool peer_groups(int fd, std::vector<gid_t>& out) {
  // Sized by the kernel: ERANGE says how many bytes it needs.
  out.assign(16, 0);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t len = static_cast<socklen_t>(out.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out.data(), &len) == 0) {
      out.resize(len / sizeof(gid_t));
      return true;
    }
    if (errno != ERANGE) break;
    out.assign(len / sizeof(gid_t) + 1, 0);
  }
  out.clear();
  return false;
}

}  // namespace dxs
