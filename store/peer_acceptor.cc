#include "store/peer_acceptor.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace dxs::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool is_frontend_user(const PeerCredentials& peer) {
  return peer.uid == 0 || peer.uid == geteuid();
}

PeerAcceptor::Admit PeerAcceptor::users(std::function<bool(const PeerCredentials&)> allowed) {
  return [allowed = std::move(allowed)](int fd, const PeerCredentials& peer) {
    return allowed(peer) ? fd : -1;
  };
}

PeerAcceptor::PeerAcceptor(std::string what, Admit admit, Logger& log)
    : what_(std::move(what)), admit_(std::move(admit)), log_(log) {}

PeerAcceptor::~PeerAcceptor() {
  stop();
}

Status PeerAcceptor::start(const std::string& path, mode_t mode, grpc::Server* server,
                           gid_t group) {
  server_ = server;
  Result<int> fd = listen_unix(path, mode);
  if (!fd) return fd.status();
  // Connections wait in the backlog until the loop runs: nobody is served before the
  // group is right, and a failure leaves no socket behind.
  if (group != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), group) != 0) {
    int e = errno;
    close(*fd);
    unlink(path.c_str());
    return Status::error(e, fmt::format("chown {} to group {}: {}", path, group, std::strerror(e)));
  }
  listen_fd_ = *fd;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int e = errno;
    close(listen_fd_);
    listen_fd_ = -1;
    return Status::error(e, std::string("eventfd: ") + std::strerror(e));
  }
  thread_ = std::thread([this] { accept_loop(); });
  return Status::ok();
}

void PeerAcceptor::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void PeerAcceptor::accept_loop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log_.error("{}: poll: {}; no longer accepting", what_, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    // The listening socket is non-blocking: take every connection waiting.
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
          break;
        }
        // EMFILE and the like: pause rather than spin, the backlog keeps the caller.
        log_.warn("{}: accept: {}", what_, std::strerror(errno));
        poll(nullptr, 0, 100);
        break;
      }
      PeerCredentials peer;
      const bool known = peer_credentials(fd, peer);
      const int admitted = known ? admit_(fd, peer) : -1;
      if (admitted < 0) {
        refuse(fd, peer, known);
        continue;
      }
      // gRPC owns the descriptor from here, and closes it with the connection.
      grpc::AddInsecureChannelFromFd(server_, admitted);
    }
  }
}

void PeerAcceptor::refuse(int fd, const PeerCredentials& peer, bool known) {
  close(fd);
  ++refused_;
  const int64_t now = now_ms();
  if (now - last_logged_ms_ < 1000) {
    ++refused_unlogged_;
    return;
  }
  last_logged_ms_ = now;
  std::string who = known ? fmt::format("pid {} uid {}", peer.pid, peer.uid) : "an unknown peer";
  if (refused_unlogged_ > 0) {
    log_.warn("{}: refused a connection from {} (and {} more since the last line)", what_, who,
              refused_unlogged_);
  } else {
    log_.warn("{}: refused a connection from {}: not a user allowed here", what_, who);
  }
  refused_unlogged_ = 0;
}

}  // namespace dxs::store
