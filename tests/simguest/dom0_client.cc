#include "dom0_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace simguest {

Dom0Client::Dom0Client(const std::string& socket_path) {
  sockaddr_un a;
  std::memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof a.sun_path)
    throw std::system_error(ENAMETOOLONG, std::generic_category(), socket_path);
  std::memcpy(a.sun_path, socket_path.c_str(), socket_path.size());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int saved = errno;
    ::close(fd_);
    throw std::system_error(saved, std::generic_category(), "connect " + socket_path);
  }
}

Dom0Client::~Dom0Client() {
  ::close(fd_);
}

Message Dom0Client::request(uint32_t type, const std::string& payload,
                            std::chrono::milliseconds timeout, uint32_t tx_id) {
  uint32_t id = next_req_id_++;
  std::string out = encode({type, id, tx_id, payload});
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "send");
    }
    done += static_cast<size_t>(n);
  }
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool bad = false;
    while (auto m = take_message(in_, &bad)) {
      if (m->type == kWatchEvent) continue;  // this client is not a watcher
      if (m->req_id == id) return *m;
    }
    if (bad) throw std::runtime_error("dom0 socket: oversized reply header");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("dom0 socket: timed out");
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) throw std::runtime_error("dom0 socket: closed by the server");
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "recv");
    }
    in_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace simguest
