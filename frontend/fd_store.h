// FdStore: the frontend's side of systemd's file-descriptor store and socket activation
// (sd_listen_fds(3), sd_pid_notify_with_fds(3), "FDSTORE=1" in sd_notify(3)), so that
// dom0's clients keep their connections when the frontend is killed and restarted.
//
// - Every accepted client socket is handed to systemd named after its connection
//   ("conn-<id>"), with its outbox pipe ("out-<id>"), and both are taken back out
//   ("FDSTOREREMOVE=1") when the client goes.
// - At start, what systemd passes (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID) comes back:
//   the listening socket of a socket unit (named "xenstored", or any listening socket
//   not named "conn-<id>"), and the client sockets a previous frontend stored.
// - A listening socket the frontend creates itself is stored too (named "xenstored"),
//   so a client that connects while no frontend runs waits in its backlog.
//
// Without NOTIFY_SOCKET (tests, deploy/up.sh) nothing is stored and no call costs
// anything; without LISTEN_FDS nothing is inherited. Tests play systemd's part with the
// same protocol (tests/lib/fake_systemd.py).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/log.h"

namespace dxs::frontend {

// The names a connection's socket and its outbox pipe (socket_outbox.h) are stored
// under, and back.
std::string connection_fd_name(uint64_t conn);
std::optional<uint64_t> parse_connection_fd_name(std::string_view name);
std::string outbox_fd_name(uint64_t conn);
std::optional<uint64_t> parse_outbox_fd_name(std::string_view name);
inline constexpr std::string_view kListenFdName = "xenstored";

// What systemd passed this process at start.
struct InheritedFds {
  int listen_fd = -1;
  std::map<uint64_t, int> connections;  // connection id -> client socket
  std::map<uint64_t, int> outboxes;     // connection id -> its outbox pipe's read end
};

class FdStore {
 public:
  explicit FdStore(Logger& log);
  ~FdStore();
  FdStore(const FdStore&) = delete;
  FdStore& operator=(const FdStore&) = delete;

  // Takes what systemd passed (once: the environment is cleared), the fds close-on-exec.
  // An fd of a name it does not know is closed, with a warning.
  InheritedFds inherit();

  // Whether anything handed over would be kept (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }
  // Hands fd to systemd under `name`; a failure is logged (the connection then does not
  // outlive this frontend) and otherwise ignored. One sendmsg(2) on a socket connected
  // once: a client accepted and not yet stored dies with this frontend, and the fewer
  // system calls between accept(2) and this one the narrower that window.
  void store(std::string_view name, int fd);
  // Takes the fds stored under `name` out of systemd's store.
  void remove(std::string_view name);

 private:
  // Sends `state` (with `fd` if >= 0) on notify_fd_, connecting it again once should it
  // fail (systemd re-created its socket); libsystemd's sd_notify as the last resort.
  bool send(const std::string& state, int fd);
  bool connect_notify_socket();

  Logger& log_;
  bool enabled_ = false;
  int notify_fd_ = -1;
};

}  // namespace dxs::frontend
