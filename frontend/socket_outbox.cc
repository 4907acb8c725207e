#include "frontend/socket_outbox.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <string>

#include "common/wire.h"

namespace dxs::frontend {

namespace {

constexpr size_t kChunk = 64 * 1024;

// Every message fits the pipe whole, so it is never written in pieces.
constexpr size_t kLargestMessage = wire::kHeaderSize + wire::kPayloadMax;

}  // namespace

SocketOutbox::~SocketOutbox() {
  close_pipe();
}

void SocketOutbox::close_pipe() {
  if (pipe_ >= 0) ::close(pipe_);
  pipe_ = -1;
  pipe_capacity_ = 0;
  in_pipe_ = 0;
}

namespace {

// The same pipe, through one descriptor open for both (proc_pid_fd(5)).
int reopen_read_write(int fd) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  return ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

}  // namespace

Status SocketOutbox::open_pipe() {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) return Status::error(errno, "pipe2");
  const int fd = reopen_read_write(ends[0]);
  const int err = errno;
  ::close(ends[0]);
  ::close(ends[1]);
  if (fd < 0) return Status::error(err, "reopening a pipe through /proc/self/fd");
  // Shrinking is always allowed; a pipe the per-user budget cut to less than a message
  // is not used (the kernel gives at least two pages, so this is a guard).
  fcntl(fd, F_SETPIPE_SZ, static_cast<int>(kPipeBytes));
  if (Status s = adopt_pipe(fd); !s) return s;
  return Status::ok();
}

Status SocketOutbox::adopt_pipe(int fd) {
  close_pipe();
  if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) {
    ::close(fd);
    return Status::error(EBADF, "an outbox pipe not open for reading and writing");
  }
  const int capacity = fcntl(fd, F_GETPIPE_SZ);
  if (capacity < static_cast<int>(kLargestMessage)) {
    ::close(fd);
    return Status::error(capacity < 0 ? errno : ENOSPC, "a pipe with room for a whole message");
  }
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int pending = 0;
  if (ioctl(fd, FIONREAD, &pending) != 0) pending = 0;
  pipe_ = fd;
  pipe_capacity_ = static_cast<size_t>(capacity);
  in_pipe_ = static_cast<size_t>(pending);
  return Status::ok();
}

Result<std::string> SocketOutbox::peek_pipe(int fd) {
  int unread = 0;
  if (ioctl(fd, FIONREAD, &unread) != 0) return Status::error(errno, "FIONREAD on a pipe");
  std::string bytes;
  if (unread == 0) return bytes;
  int scratch[2];
  if (pipe2(scratch, O_CLOEXEC | O_NONBLOCK) != 0) return Status::error(errno, "pipe2");
  const int size = fcntl(fd, F_GETPIPE_SZ);
  if (size > 0) fcntl(scratch[1], F_SETPIPE_SZ, size);
  ssize_t copied;
  do {
    copied = tee(fd, scratch[1], static_cast<size_t>(unread), SPLICE_F_NONBLOCK);
  } while (copied < 0 && errno == EINTR);
  Status s = Status::ok();
  if (copied != unread) {
    s = Status::error(copied < 0 ? errno : ENOSPC, "tee from a pipe");
  } else {
    bytes.resize(static_cast<size_t>(unread));
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = ::read(scratch[0], bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        s = Status::error(n < 0 ? errno : EIO, "reading a pipe's copy");
        break;
      }
      got += static_cast<size_t>(n);
    }
  }
  ::close(scratch[0]);
  ::close(scratch[1]);
  if (!s) return s;
  return bytes;
}

void SocketOutbox::queue(std::string_view bytes, uint32_t consume, uint64_t event_id) {
  out_.append(bytes);
  queued_.push_back(Message{bytes.size(), consume, event_id});
}

bool SocketOutbox::consume(int sock, size_t bytes) {
  while (bytes > 0) {
    char sink[kChunk];
    const ssize_t n = ::recv(sock, sink, std::min(bytes, sizeof sink), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

SocketOutbox::Progress SocketOutbox::deliver(uint64_t& acked_event) {
  if (pipe_ < 0) return deliver_direct(acked_event);
  for (;;) {
    if (in_pipe_ > 0) {
      const ssize_t n = splice(pipe_, nullptr, sock_, nullptr, in_pipe_, SPLICE_F_NONBLOCK);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN ? Progress::kBlocked : Progress::kBroken;
      }
      if (n == 0) return Progress::kBroken;  // it held less than it said: not ours
      in_pipe_ -= static_cast<size_t>(n);
      continue;
    }
    if (queued_.empty()) return Progress::kDone;
    deliver_through_pipe(acked_event);
    if (in_pipe_ == 0) return Progress::kBroken;
  }
}

// One write of whole messages into the empty pipe, then the requests they answer
// consumed; the caller's loop splices them on. in_pipe_ stays 0 if either fails.
void SocketOutbox::deliver_through_pipe(uint64_t& acked_event) {
  size_t count = 0;
  size_t total = 0;
  size_t answered = 0;
  uint64_t event = 0;
  while (count < queued_.size() && total + queued_[count].size <= pipe_capacity_) {
    total += queued_[count].size;
    answered += queued_[count].consume;
    event = std::max(event, queued_[count].event_id);
    ++count;
  }
  // The pipe is empty and has room for the whole write: the kernel takes it whole.
  ssize_t n;
  do {
    n = ::write(pipe_, out_.data(), total);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(total) || !consume(sock_, answered)) return;  // in_pipe_ stays 0
  acked_event = std::max(acked_event, event);
  out_.erase(0, total);
  queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(count));
  in_pipe_ = total;
}

// Without a pipe the socket does not outlive this frontend, so nothing needs to be
// known after a crash: requests consumed, then as much written as the socket takes.
SocketOutbox::Progress SocketOutbox::deliver_direct(uint64_t& acked_event) {
  size_t answered = 0;
  for (Message& m : queued_) {
    answered += m.consume;
    m.consume = 0;
  }
  if (!consume(sock_, answered)) return Progress::kBroken;
  while (sent_ < out_.size()) {
    const ssize_t n =
        ::send(sock_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Progress::kBroken;
      break;
    }
    sent_ += static_cast<size_t>(n);
  }
  size_t done = 0;
  while (!queued_.empty() && queued_.front().size <= sent_ - done) {
    done += queued_.front().size;
    acked_event = std::max(acked_event, queued_.front().event_id);
    queued_.pop_front();
  }
  out_.erase(0, done);
  sent_ -= done;
  return out_.empty() ? Progress::kDone : Progress::kBlocked;
}

}  // namespace dxs::frontend
