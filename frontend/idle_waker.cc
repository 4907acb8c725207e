#include "frontend/idle_waker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dxs::frontend {

IdleWaker::~IdleWaker() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Status IdleWaker::start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || stop_fd_ < 0) return Status::error(errno, "idle waker: epoll/eventfd");
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.fd = stop_fd_;
  // Registered disarmed: a one-shot entry without EPOLLIN reports nothing until arm().
  epoll_event watched{};
  watched.events = EPOLLONESHOT;
  watched.data.fd = watched_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &stop) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, watched_fd_, &watched) != 0) {
    return Status::error(errno, std::string("idle waker: epoll_ctl: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

void IdleWaker::arm() {
  epoll_event watched{};
  watched.events = EPOLLIN | EPOLLONESHOT;
  watched.data.fd = watched_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, watched_fd_, &watched) != 0) {
    log_.error("idle waker: epoll_ctl: {}", std::strerror(errno));
  }
}

void IdleWaker::run() {
  for (;;) {
    epoll_event events[2];
    const int n = epoll_wait(epoll_fd_, events, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Cannot happen with fds of its own; were it to, a loop asleep would never wake.
      // The frontend is crash-only: stopping is safe, serving no one is not.
      log_.error("idle waker: epoll_wait: {}; stopping", std::strerror(errno));
      std::abort();
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == stop_fd_) return;
    }
    if (n > 0) wake_();
  }
}

}  // namespace dxs::frontend
