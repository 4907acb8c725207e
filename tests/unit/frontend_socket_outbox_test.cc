// frontend/socket_outbox over a real socketpair and real pipes: requests consumed as
// their replies leave, direct and through the pipe; a pipe read without being emptied;
// and a frontend "killed" with bytes in its pipe (the outbox destroyed, its pipe's read
// end kept as systemd's fd store keeps it): the next outbox delivers them, each byte
// once, before its own.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "common/wire.h"
#include "frontend/socket_outbox.h"

namespace wire = dxs::wire;
using dxs::frontend::SocketOutbox;
using Progress = SocketOutbox::Progress;

namespace {

struct Pair {
  int server = -1;  // the outbox's end
  int client = -1;
  Pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    server = fds[0];
    client = fds[1];
    REQUIRE(fcntl(server, F_SETFL, O_NONBLOCK) == 0);
  }
  ~Pair() {
    ::close(server);
    ::close(client);
  }
  size_t unread_at_server() const {
    int n = 0;
    ioctl(server, FIONREAD, &n);
    return static_cast<size_t>(n);
  }
  // Everything the client has been sent so far.
  std::string drain_client() const {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
};

std::string message(wire::MsgType type, uint32_t req_id, const std::string& payload) {
  std::string out;
  wire::append_message(out, wire::to_u32(type), req_id, 0, payload);
  return out;
}

// A request the client sent and the transport peeked at; returns its wire size.
uint32_t client_sends(const Pair& p, uint32_t req_id) {
  const std::string req = message(wire::MsgType::kRead, req_id, std::string("/a\0", 3));
  REQUIRE(::write(p.client, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  return static_cast<uint32_t>(req.size());
}

int dup_fd(int fd) {
  const int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  REQUIRE(d >= 0);
  return d;
}

}  // namespace

TEST_CASE("a direct outbox consumes a reply's request, then writes it") {
  Pair p;
  SocketOutbox out(p.server);
  const uint32_t size = client_sends(p, 1);
  const std::string reply = message(wire::MsgType::kRead, 1, "v");
  const std::string event = message(wire::MsgType::kWatchEvent, 0, std::string("/a\0t\0", 5));
  out.queue(event, 0, 7);
  out.queue(reply, size, 0);
  CHECK(out.backlog() == event.size() + reply.size());
  uint64_t acked = 0;
  CHECK(out.deliver(acked) == Progress::kDone);
  CHECK(acked == 7);
  CHECK(out.backlog() == 0);
  CHECK(p.unread_at_server() == 0);
  CHECK(p.drain_client() == event + reply);
}

TEST_CASE("a durable outbox passes whole messages through its pipe, each request consumed once") {
  Pair p;
  SocketOutbox out(p.server);
  REQUIRE(out.open_pipe());
  REQUIRE(out.pipe_fd() >= 0);
  std::string expected;
  // More than the pipe holds at once, in messages as large as Xenstore's.
  for (uint32_t i = 1; i <= 12; ++i) {
    const uint32_t size = client_sends(p, i);
    const std::string reply = message(wire::MsgType::kRead, i, std::string(4000, 'x'));
    expected += reply;
    out.queue(reply, size, 0);
  }
  REQUIRE(12 * 4016 > SocketOutbox::kPipeBytes);
  uint64_t acked = 0;
  CHECK(out.deliver(acked) == Progress::kDone);
  CHECK(p.unread_at_server() == 0);
  CHECK(p.drain_client() == expected);
  int in_pipe = -1;
  ioctl(out.pipe_fd(), FIONREAD, &in_pipe);
  CHECK(in_pipe == 0);
}

TEST_CASE("peeking at a pipe leaves its bytes in it") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
  const std::string bytes = message(wire::MsgType::kWrite, 3, std::string("OK\0", 3));
  REQUIRE(::write(fds[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  auto seen = SocketOutbox::peek_pipe(fds[0]);
  REQUIRE(seen);
  CHECK(*seen == bytes);
  auto again = SocketOutbox::peek_pipe(fds[0]);
  REQUIRE(again);
  CHECK(*again == bytes);
  ::close(fds[1]);
  auto empty_pipe = SocketOutbox::peek_pipe(fds[0]);
  REQUIRE(empty_pipe);
  CHECK(*empty_pipe == bytes);  // no writer left: still there
  ::close(fds[0]);
}

TEST_CASE("what a killed frontend left in its pipe reaches the client once, before anything new") {
  Pair p;
  // The client does not read: the socket fills and part of the output stays in the pipe.
  int small = 4096;
  setsockopt(p.server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(p.client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string expected;
  int kept = -1;  // the pipe as the fd store keeps it
  {
    SocketOutbox old(p.server);
    REQUIRE(old.open_pipe());
    for (uint32_t i = 1; i <= 40; ++i) {
      const std::string reply = message(wire::MsgType::kRead, i, std::string(1000, 'a' + i % 26));
      expected += reply;
      old.queue(reply, client_sends(p, i), 0);
    }
    uint64_t acked = 0;
    REQUIRE(old.deliver(acked) == Progress::kBlocked);
    kept = dup_fd(old.pipe_fd());
  }  // killed: its own ends of the pipe are gone
  auto left = SocketOutbox::peek_pipe(kept);
  REQUIRE(left);
  REQUIRE(!left->empty());

  SocketOutbox next(p.server);
  REQUIRE(next.adopt_pipe(kept));
  const std::string later = message(wire::MsgType::kRead, 99, "new");
  next.queue(later, 0, 0);
  std::string got;
  uint64_t acked = 0;
  for (int round = 0; round < 1000; ++round) {
    Progress progress = next.deliver(acked);
    REQUIRE(progress != Progress::kBroken);
    got += p.drain_client();
    if (progress == Progress::kDone) break;
  }
  got += p.drain_client();
  // What the socket took from the killed outbox, what its pipe kept, then the new: a
  // prefix of what it was given (the rest never left it, and its requests are still in
  // the socket, for the next frontend to answer), nothing twice, nothing reordered.
  REQUIRE(got.size() > later.size() + left->size());
  const size_t delivered = got.size() - later.size();
  CHECK(got == expected.substr(0, delivered) + later);
  const size_t reply_size = 16 + 1000;
  REQUIRE(delivered % reply_size == 0);
  CHECK(p.unread_at_server() == (40 - delivered / reply_size) * 19);
}

TEST_CASE("an outbox's pipe never reads as hung up, so systemd keeps it when the frontend dies") {
  int kept = -1;
  {
    SocketOutbox out(-1);
    REQUIRE(out.open_pipe());
    kept = dup_fd(out.pipe_fd());
  }
  pollfd pfd{kept, POLLIN, 0};
  CHECK(poll(&pfd, 1, 0) == 0);
  // A plain read end does, once its writers are gone.
  int ends[2];
  REQUIRE(pipe2(ends, O_CLOEXEC) == 0);
  ::close(ends[1]);
  pollfd plain{ends[0], POLLIN, 0};
  CHECK(poll(&plain, 1, 0) == 1);
  CHECK((plain.revents & POLLHUP) != 0);
  ::close(ends[0]);
  // And a descriptor that is not an outbox's pipe is refused.
  SocketOutbox other(-1);
  REQUIRE(pipe2(ends, O_CLOEXEC) == 0);
  ::close(ends[1]);
  CHECK_FALSE(other.adopt_pipe(ends[0]));
  CHECK(other.adopt_pipe(kept));
}
