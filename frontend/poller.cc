#include "frontend/poller.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

namespace dxs::frontend {

Poller::~Poller() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Poller::open() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) return Status::error(errno, "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = this;  // the wake-up; handlers are never the Poller itself
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return Status::error(errno, fmt::format("epoll_ctl: {}", std::strerror(errno)));
  }
  return Status::ok();
}

Status Poller::add(int fd, uint32_t events, FdHandler& handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Status::error(errno, fmt::format("epoll_ctl add: {}", std::strerror(errno)));
  }
  return Status::ok();
}

Status Poller::modify(int fd, uint32_t events, FdHandler& handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return Status::error(errno, fmt::format("epoll_ctl mod: {}", std::strerror(errno)));
  }
  return Status::ok();
}

void Poller::remove(int fd, FdHandler& handler) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // Only a removal in the middle of a round pays for this scan, never a request.
  for (int i = round_next_; i < round_size_; ++i) {
    if (round_[i].data.ptr == &handler) round_[i].data.ptr = nullptr;
  }
}

int Poller::wait(int timeout_ms) {
  epoll_event events[kMaxEvents];
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
  if (n < 0 && errno != EINTR) log_.error("epoll_wait: {}", std::strerror(errno));
  if (n <= 0) return 0;
  round_ = events;
  round_size_ = n;
  int handled = 0;
  for (round_next_ = 0; round_next_ < n;) {
    const epoll_event& ev = events[round_next_++];
    if (ev.data.ptr == this) {
      uint64_t value;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &value, sizeof value);
    } else if (ev.data.ptr != nullptr) {
      static_cast<FdHandler*>(ev.data.ptr)->on_fd_ready(ev.events);
      ++handled;
    }
  }
  round_ = nullptr;
  round_next_ = round_size_ = 0;
  return handled;
}

void Poller::wake_up() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace dxs::frontend
