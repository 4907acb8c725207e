// frontend/fd_store: the names client sockets and their outboxes are stored under in systemd's fd
// store, and that without NOTIFY_SOCKET nothing is handed over.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "frontend/fd_store.h"

using dxs::frontend::connection_fd_name;
using dxs::frontend::FdStore;
using dxs::frontend::outbox_fd_name;
using dxs::frontend::parse_connection_fd_name;
using dxs::frontend::parse_outbox_fd_name;

TEST_CASE("a connection's socket is stored as conn-<id> and found again by that name") {
  CHECK(connection_fd_name(4294967297ULL) == "conn-4294967297");
  for (uint64_t id :
       {uint64_t{0}, uint64_t{1}, uint64_t{1} << 32, uint64_t{18446744073709551615ULL}}) {
    CHECK(parse_connection_fd_name(connection_fd_name(id)) == id);
  }
}

TEST_CASE("a connection's outbox pipe is stored as out-<id>, apart from its socket") {
  CHECK(outbox_fd_name(4294967297ULL) == "out-4294967297");
  CHECK(parse_outbox_fd_name(outbox_fd_name(7)) == 7);
  CHECK_FALSE(parse_outbox_fd_name(connection_fd_name(7)).has_value());
  CHECK_FALSE(parse_connection_fd_name(outbox_fd_name(7)).has_value());
  CHECK_FALSE(parse_outbox_fd_name("out-").has_value());
  CHECK_FALSE(parse_outbox_fd_name("out-07").has_value());
}

TEST_CASE("names that are not a connection's are not taken for one") {
  for (const char* name : {"", "xenstored", "conn-", "conn-x", "conn-12a", "conn--1", "conn-012",
                           "Conn-12", "conn-18446744073709551616", " conn-1", "conn-1 "}) {
    CAPTURE(name);
    CHECK_FALSE(parse_connection_fd_name(name).has_value());
  }
}

namespace {

// systemd's end of the notification socket: a datagram socket at `path` ('@': abstract).
int bind_notify_socket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size())) == 0);
  return fd;
}

// One notification: its text, and the descriptor it carried (-1 if none).
std::pair<std::string, int> receive(int sock) {
  char buf[512];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT);
  REQUIRE(n > 0);
  int fd = -1;
  if (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr && c->cmsg_type == SCM_RIGHTS) {
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  }
  return {std::string(buf, static_cast<size_t>(n)), fd};
}

bool same_file(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

TEST_CASE("stored and removed descriptors reach the notification socket, even a new one") {
  for (const std::string& path : {std::string("/tmp/dxs-fdstore-test-") + std::to_string(getpid()),
                                  std::string("@dxs-fdstore-test-") + std::to_string(getpid())}) {
    CAPTURE(path);
    if (path[0] == '/') unlink(path.c_str());
    int sock = bind_notify_socket(path);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
    dxs::CapturingLogger log;
    FdStore store(log);
    REQUIRE(store.enabled());
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);

    store.store("conn-7", pipe_fds[0]);
    auto [text, fd] = receive(sock);
    CHECK(text == "FDSTORE=1\nFDNAME=conn-7");
    REQUIRE(fd >= 0);
    CHECK(same_file(fd, pipe_fds[0]));
    close(fd);
    store.remove("conn-7");
    auto [removed, none] = receive(sock);
    CHECK(removed == "FDSTOREREMOVE=1\nFDNAME=conn-7");
    CHECK(none == -1);

    // systemd made its socket anew (a re-execution): the next message still arrives.
    close(sock);
    if (path[0] == '/') unlink(path.c_str());
    sock = bind_notify_socket(path);
    store.store("out-7", pipe_fds[1]);
    auto [again, fd2] = receive(sock);
    CHECK(again == "FDSTORE=1\nFDNAME=out-7");
    CHECK(same_file(fd2, pipe_fds[1]));
    CHECK_FALSE(log.contains({"failed"}));
    close(fd2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(sock);
    if (path[0] == '/') unlink(path.c_str());
    unsetenv("NOTIFY_SOCKET");
  }
}

TEST_CASE("without NOTIFY_SOCKET the fd store is off and nothing is inherited") {
  unsetenv("NOTIFY_SOCKET");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_PID");
  dxs::CapturingLogger log;
  FdStore store(log);
  CHECK_FALSE(store.enabled());
  const auto fds = store.inherit();
  CHECK(fds.listen_fd == -1);
  CHECK(fds.connections.empty());
}
