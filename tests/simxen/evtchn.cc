// libxenevtchn over Unix datagram sockets (docs/simxen.md, "Event channels").
//
// A handle owns evtchn/server.sock. Each local port is bound to a remote (domid, port) pair,
// or to a VIRQ as ({0xFFFFFFFF, virq}). As on Xen, a port that pending() returned stays
// masked until unmask(); a datagram for a masked port only marks it held, and unmask() of a
// held port queues it again and re-sends the datagram to server.sock so that the fd, which is
// what the daemon polls, becomes readable again.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

extern "C" {
#include <xenevtchn.h>
}

#include "evtchn_message.h"
#include "machine.h"

using simxen::EvtchnMessage;

struct xenevtchn_handle {
  struct Port {
    EvtchnMessage remote;
    bool masked = false;
    bool held = false;
  };

  std::mutex mu;
  std::string dir;
  int fd = -1;
  evtchn_port_t next_port = 1;
  std::map<evtchn_port_t, Port> ports;
  std::map<std::pair<uint32_t, uint32_t>, evtchn_port_t> by_remote;
  // Held ports whose re-sent datagram did not fit in the socket's queue.
  std::deque<evtchn_port_t> ready;
};

namespace {

bool fill_addr(const std::string& path, sockaddr_un* a) {
  std::memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (path.size() >= sizeof a->sun_path) {
    std::fprintf(stderr, "simxen: socket path too long: %s\n", path.c_str());
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(a->sun_path, path.c_str(), path.size());
  return true;
}

// Sends without blocking; the caller decides which failures are drops.
int send_message(int fd, const std::string& path, const EvtchnMessage& m) {
  sockaddr_un a;
  if (!fill_addr(path, &a)) return -1;
  unsigned char buf[8];
  simxen::encode(m, buf);
  ssize_t n = ::sendto(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL,
                       reinterpret_cast<sockaddr*>(&a), sizeof a);
  return n == sizeof buf ? 0 : -1;
}

xenevtchn_handle* make_handle(std::string dir, int fd) {
  auto* h = new (std::nothrow) xenevtchn_handle;
  if (h == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  h->dir = std::move(dir);
  h->fd = fd;
  return h;
}

evtchn_port_t bind_remote(xenevtchn_handle* h, EvtchnMessage remote) {
  auto key = std::make_pair(remote.domid, remote.port);
  if (h->by_remote.count(key)) {
    // Xen refuses to bind a remote port that is no longer unbound.
    errno = EINVAL;
    return static_cast<evtchn_port_t>(-1);
  }
  evtchn_port_t local = h->next_port++;
  h->ports[local] = {remote, false, false};
  h->by_remote[key] = local;
  return local;
}

}  // namespace

extern "C" {

xenevtchn_handle* xenevtchn_open(xentoollog_logger* /*logger*/, unsigned open_flags) {
  auto dir = simxen::machine_dir("xenevtchn_open");
  if (!dir) {
    errno = ENOENT;
    return nullptr;
  }
  std::string evdir = *dir + "/evtchn";
  if (::mkdir(evdir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "simxen: xenevtchn_open: mkdir %s: %s\n", evdir.c_str(),
                 std::strerror(errno));
    return nullptr;
  }
  int type = SOCK_DGRAM | SOCK_NONBLOCK;
  if (!(open_flags & XENEVTCHN_NO_CLOEXEC)) type |= SOCK_CLOEXEC;
  int fd = ::socket(AF_UNIX, type, 0);
  if (fd < 0) return nullptr;
  std::string path = simxen::server_socket_path(*dir);
  sockaddr_un a;
  if (!fill_addr(path, &a)) {
    ::close(fd);
    return nullptr;
  }
  ::unlink(path.c_str());  // a stale socket of a server that died
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int saved = errno;
    std::fprintf(stderr, "simxen: xenevtchn_open: bind %s: %s\n", path.c_str(),
                 std::strerror(saved));
    ::close(fd);
    errno = saved;
    return nullptr;
  }
  xenevtchn_handle* h = make_handle(*dir, fd);
  if (h == nullptr) ::close(fd);
  return h;
}

// Live update hands the new daemon the old one's fd: the socket survives, the bindings (kept
// in the old process) do not, so the caller must bind its ports again.
xenevtchn_handle* xenevtchn_fdopen(xentoollog_logger* /*logger*/, int fd, unsigned /*open_flags*/) {
  auto dir = simxen::machine_dir("xenevtchn_fdopen");
  if (!dir) {
    errno = ENOENT;
    return nullptr;
  }
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return nullptr;
  return make_handle(*dir, fd);
}

int xenevtchn_close(xenevtchn_handle* h) {
  if (h == nullptr) return 0;
  ::close(h->fd);
  delete h;
  return 0;
}

int xenevtchn_fd(xenevtchn_handle* h) {
  return h->fd;
}

int xenevtchn_restrict(xenevtchn_handle* /*h*/, domid_t /*domid*/) {
  return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle* h, uint32_t domid,
                                                     evtchn_port_t remote_port) {
  std::lock_guard lock(h->mu);
  if (!simxen::domain_state(h->dir, domid)) {
    errno = ESRCH;
    return -1;
  }
  return static_cast<xenevtchn_port_or_error_t>(bind_remote(h, {domid, remote_port}));
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle* h, unsigned int virq) {
  std::lock_guard lock(h->mu);
  return static_cast<xenevtchn_port_or_error_t>(bind_remote(h, {simxen::kVirqDomid, virq}));
}

// A port with no remote end: nothing can send to it, so it never fires. Kept for callers that
// allocate one (e.g. to hand it to a guest being built).
xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle* h, uint32_t domid) {
  std::lock_guard lock(h->mu);
  if (!simxen::domain_state(h->dir, domid)) {
    errno = ESRCH;
    return -1;
  }
  evtchn_port_t local = h->next_port++;
  // An impossible remote port keeps it out of by_remote lookups of real datagrams.
  h->ports[local] = {{domid, 0xFFFFFFFF}, false, false};
  return static_cast<xenevtchn_port_or_error_t>(local);
}

int xenevtchn_unbind(xenevtchn_handle* h, evtchn_port_t port) {
  std::lock_guard lock(h->mu);
  auto it = h->ports.find(port);
  if (it == h->ports.end()) {
    errno = EINVAL;
    return -1;
  }
  h->by_remote.erase({it->second.remote.domid, it->second.remote.port});
  h->ports.erase(it);
  return 0;
}

int xenevtchn_notify(xenevtchn_handle* h, evtchn_port_t port) {
  std::lock_guard lock(h->mu);
  auto it = h->ports.find(port);
  if (it == h->ports.end() || it->second.remote.domid == simxen::kVirqDomid) {
    errno = EINVAL;
    return -1;
  }
  const EvtchnMessage& m = it->second.remote;
  if (send_message(h->fd, simxen::guest_socket_path(h->dir, m.domid), m) == 0) return 0;
  // No guest socket, a guest that stopped reading, a full queue: the notification is lost, as
  // one to a masked channel would be; the guest rescans its indices anyway.
  if (errno == ENOENT || errno == ECONNREFUSED || errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  return -1;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle* h) {
  std::lock_guard lock(h->mu);
  while (!h->ready.empty()) {
    evtchn_port_t p = h->ready.front();
    h->ready.pop_front();
    auto it = h->ports.find(p);
    if (it == h->ports.end()) continue;
    if (it->second.masked) {
      it->second.held = true;
      continue;
    }
    it->second.masked = true;
    return static_cast<xenevtchn_port_or_error_t>(p);
  }
  for (;;) {
    unsigned char buf[8];
    ssize_t n = ::recv(h->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Nothing queued (a spurious wake-up, or a datagram consumed earlier): daemons treat -1
      // as fatal, so report "no port".
      return 0;
    }
    if (n != sizeof buf) continue;  // not one of ours: dropped
    EvtchnMessage m = simxen::decode(buf);
    auto key = h->by_remote.find({m.domid, m.port});
    if (key == h->by_remote.end()) continue;  // nobody bound it: dropped
    auto& port = h->ports[key->second];
    if (port.masked) {
      port.held = true;
      continue;
    }
    port.masked = true;
    return static_cast<xenevtchn_port_or_error_t>(key->second);
  }
}

int xenevtchn_unmask(xenevtchn_handle* h, evtchn_port_t port) {
  std::lock_guard lock(h->mu);
  auto it = h->ports.find(port);
  if (it == h->ports.end()) {
    // Daemons unmask whatever pending() returned, including 0 for "nothing".
    return 0;
  }
  it->second.masked = false;
  if (it->second.held) {
    it->second.held = false;
    h->ready.push_back(port);
    // The wake-up for the queued port. If it does not fit, the socket is full and readable.
    const EvtchnMessage wake{0xFFFFFFFF, 0xFFFFFFFF};
    send_message(h->fd, simxen::server_socket_path(h->dir), wake);
  }
  return 0;
}

}  // extern "C"
