#include "channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "evtchn_message.h"

namespace simguest {

namespace {

sockaddr_un address(const std::string& path) {
  sockaddr_un a;
  std::memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path)
    throw std::system_error(ENAMETOOLONG, std::generic_category(), path);
  std::memcpy(a.sun_path, path.c_str(), path.size());
  return a;
}

void send_datagram(int fd, const std::string& path, uint32_t domid, uint32_t port) {
  sockaddr_un a = address(path);
  unsigned char buf[8];
  simxen::encode({domid, port}, buf);
  // Every failure is a dropped notification: the server rescans when it next wakes.
  (void)::sendto(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&a),
                 sizeof a);
}

}  // namespace

GuestChannel::GuestChannel(const std::string& simxen_dir, uint32_t domid, uint32_t port)
    : server_path_(simxen_dir + "/evtchn/server.sock"),
      own_path_(simxen_dir + "/evtchn/guest-" + std::to_string(domid) + ".sock"),
      domid_(domid),
      port_(port) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_un a = address(own_path_);
  ::unlink(own_path_.c_str());
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int saved = errno;
    ::close(fd_);
    throw std::system_error(saved, std::generic_category(), "bind " + own_path_);
  }
}

GuestChannel::~GuestChannel() {
  ::close(fd_);
  ::unlink(own_path_.c_str());
}

void GuestChannel::notify() {
  send_datagram(fd_, server_path_, domid_, port_);
}

bool GuestChannel::wait(Clock::time_point until, std::chrono::milliseconds slice) {
  auto now = Clock::now();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
  int timeout = static_cast<int>(std::clamp(left, std::chrono::milliseconds(0), slice).count());
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, timeout);
  if (r <= 0) return false;
  bool got = false;
  unsigned char buf[8];
  while (::recv(fd_, buf, sizeof buf, MSG_DONTWAIT) >= 0) got = true;
  return got;
}

void send_to_server(const std::string& simxen_dir, uint32_t domid, uint32_t port) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  send_datagram(fd, simxen_dir + "/evtchn/server.sock", domid, port);
  ::close(fd);
}

}  // namespace simguest
