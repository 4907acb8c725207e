#include "xs_connection.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xsbench {

namespace {

constexpr size_t kHeaderSize = 16;
constexpr size_t kReadChunk = 64 * 1024;

void put_u32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // the wire is host byte order (little endian on x86 and Arm)
  out->append(b, 4);
}

uint32_t get_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

std::string Message::error() const {
  if (type != kError) return {};
  return std::string(payload.c_str());
}

void die(const std::string& message) {
  std::fprintf(stderr, "xsbench: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

std::string path_payload(std::string_view path) {
  std::string p(path);
  p.push_back('\0');
  return p;
}

std::string write_payload(std::string_view path, std::string_view value) {
  std::string p(path);
  p.push_back('\0');
  p.append(value);
  return p;
}

int Connection::try_connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

Connection::Connection(const std::string& socket_path) : in_(kReadChunk * 2) {
  fd_ = try_connect(socket_path);
  if (fd_ < 0) die("connect " + socket_path + ": " + std::strerror(errno));
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Connection::queue(uint32_t type, std::string_view payload, uint32_t tx_id) {
  if (payload.size() > kPayloadMax) die("request payload over 4096 bytes");
  put_u32(&out_, type);
  put_u32(&out_, next_req_id_++);
  put_u32(&out_, tx_id);
  put_u32(&out_, static_cast<uint32_t>(payload.size()));
  out_.append(payload);
}

void Connection::flush() {
  size_t done = 0;
  while (done < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die(std::string("send: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  out_.clear();
}

void Connection::fill() {
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
  } else if (in_.size() - in_end_ < kReadChunk) {
    std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
    in_end_ -= in_start_;
    in_start_ = 0;
    if (in_.size() - in_end_ < kReadChunk) in_.resize(in_end_ + kReadChunk);
  }
  for (;;) {
    ssize_t n = ::read(fd_, in_.data() + in_end_, in_.size() - in_end_);
    if (n > 0) {
      in_end_ += static_cast<size_t>(n);
      return;
    }
    if (n == 0) die("the server closed the connection");
    if (errno != EINTR) die(std::string("read: ") + std::strerror(errno));
  }
}

bool Connection::parse(Message* m) {
  const size_t have = in_end_ - in_start_;
  if (have < kHeaderSize) return false;
  const char* h = in_.data() + in_start_;
  const uint32_t len = get_u32(h + 12);
  if (len > kPayloadMax * 4) die("reply with a payload of " + std::to_string(len) + " bytes");
  if (have < kHeaderSize + len) return false;
  m->type = get_u32(h);
  m->req_id = get_u32(h + 4);
  m->tx_id = get_u32(h + 8);
  m->payload.assign(h + kHeaderSize, len);
  in_start_ += kHeaderSize + len;
  return true;
}

Message Connection::receive() {
  Message m;
  while (!parse(&m)) fill();
  return m;
}

Message Connection::call(uint32_t type, std::string_view payload, uint32_t tx_id) {
  queue(type, payload, tx_id);
  flush();
  for (;;) {
    Message m = receive();
    if (m.type != kWatchEvent) return m;
    ++events_seen_;
  }
}

Message Connection::call_ok(uint32_t type, std::string_view payload, uint32_t tx_id) {
  Message m = call(type, payload, tx_id);
  if (m.is_error()) {
    die("request type " + std::to_string(type) + " on " +
        std::string(payload.substr(0, payload.find('\0'))) + " failed: " + m.error());
  }
  if (m.type != type)
    die("reply of type " + std::to_string(m.type) + " to type " + std::to_string(type));
  return m;
}

size_t Connection::drain_events() {
  size_t messages = 0;
  size_t events = 0;
  Message m;
  for (int pass = 0; pass < 2 && messages == 0; ++pass) {
    if (pass == 1) fill();
    while (parse(&m)) {
      ++messages;
      if (m.type == kWatchEvent) ++events;
    }
  }
  events_seen_ += events;
  return events;
}

}  // namespace xsbench
