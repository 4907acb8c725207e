// frontend/fd_store: the names client sockets and their outboxes are stored under in systemd's fd
// store, and that without NOTIFY_SOCKET nothing is handed over.
#include <doctest/doctest.h>

#include <cstdlib>

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
