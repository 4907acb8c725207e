#include "frontend/fd_store.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#ifdef DXS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace dxs::frontend {

namespace {

constexpr std::string_view kConnPrefix = "conn-";
constexpr std::string_view kOutboxPrefix = "out-";

std::optional<uint64_t> parse_id_after(std::string_view prefix, std::string_view name) {
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 20 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  uint64_t id = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(ch - '0');
    if (id > (UINT64_MAX - d) / 10) return std::nullopt;
    id = id * 10 + d;
  }
  return id;
}

bool is_listening_socket(int fd) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting != 0;
}

}  // namespace

std::string connection_fd_name(uint64_t conn) {
  return fmt::format("{}{}", kConnPrefix, conn);
}

std::optional<uint64_t> parse_connection_fd_name(std::string_view name) {
  return parse_id_after(kConnPrefix, name);
}

std::string outbox_fd_name(uint64_t conn) {
  return fmt::format("{}{}", kOutboxPrefix, conn);
}

std::optional<uint64_t> parse_outbox_fd_name(std::string_view name) {
  return parse_id_after(kOutboxPrefix, name);
}

FdStore::FdStore(Logger& log) : log_(log) {
  const char* notify = std::getenv("NOTIFY_SOCKET");
  enabled_ = notify != nullptr && *notify != '\0';
#ifndef DXS_HAVE_SYSTEMD
  enabled_ = false;
#endif
  if (enabled_) connect_notify_socket();
}

FdStore::~FdStore() {
  if (notify_fd_ >= 0) ::close(notify_fd_);
}

// NOTIFY_SOCKET is a path or, with a leading '@', an abstract name (sd_notify(3)).
bool FdStore::connect_notify_socket() {
  if (notify_fd_ >= 0) ::close(notify_fd_);
  notify_fd_ = -1;
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len == 0 || len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), size) != 0) {
    ::close(fd);
    return false;
  }
  notify_fd_ = fd;
  return true;
}

bool FdStore::send(const std::string& state, int fd) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (notify_fd_ < 0 && !connect_notify_socket()) break;
    iovec iov{const_cast<char*>(state.data()), state.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do {
      n = sendmsg(notify_fd_, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(state.size())) return true;
    ::close(notify_fd_);
    notify_fd_ = -1;
  }
#ifdef DXS_HAVE_SYSTEMD
  return fd >= 0 ? sd_pid_notify_with_fds(0, 0, state.c_str(), &fd, 1) > 0
                 : sd_notify(0, state.c_str()) > 0;
#else
  return false;
#endif
}

InheritedFds FdStore::inherit() {
  InheritedFds fds;
#ifdef DXS_HAVE_SYSTEMD
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) {
    log_.warn("LISTEN_FDS: {}; starting without inherited sockets", std::strerror(-n));
    return fds;
  }
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    const std::string_view name = names != nullptr && names[i] != nullptr ? names[i] : "";
    if (std::optional<uint64_t> conn = parse_connection_fd_name(name)) {
      if (fds.connections.emplace(*conn, fd).second) continue;
      log_.warn("two sockets stored for connection {}; closing one", *conn);
    } else if (std::optional<uint64_t> out = parse_outbox_fd_name(name)) {
      if (fds.outboxes.emplace(*out, fd).second) continue;
      log_.warn("two outboxes stored for connection {}; closing one", *out);
    } else if ((name == kListenFdName || is_listening_socket(fd)) && fds.listen_fd < 0) {
      fds.listen_fd = fd;
      continue;
    } else {
      log_.warn("inherited fd {} named '{}' is nothing dxs-frontend stores; closing it", fd, name);
    }
    ::close(fd);
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  if (n > 0) {
    log_.info("inherited from systemd: {}, {} client connections",
              fds.listen_fd >= 0 ? "the listening socket" : "no listening socket",
              fds.connections.size());
  }
#endif
  return fds;
}

void FdStore::store(std::string_view name, int fd) {
  if (!enabled_) return;
#ifdef DXS_HAVE_SYSTEMD
  if (!send(fmt::format("FDSTORE=1\nFDNAME={}", name), fd)) {
    log_.warn(
        "handing {} to systemd's fd store failed: the connection will not outlive this "
        "frontend",
        name);
  }
#else
  (void)name;
  (void)fd;
#endif
}

void FdStore::remove(std::string_view name) {
  if (!enabled_) return;
#ifdef DXS_HAVE_SYSTEMD
  if (!send(fmt::format("FDSTOREREMOVE=1\nFDNAME={}", name), -1)) {
    log_.warn("removing {} from systemd's fd store failed", name);
  }
#else
  (void)name;
#endif
}

}  // namespace dxs::frontend
