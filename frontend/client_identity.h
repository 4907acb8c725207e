// ClientIdentity: who is at the other end of a connection, whatever carries its bytes.
//
// The store decides everything that follows from it (privilege, home path, quotas); the
// frontend only reports it: the kind and domain of the connection and, for a socket
// client, the peer credentials the kernel gave (for logs and the history's authors).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "proto/session.pb.h"

namespace dxs::frontend {

struct ClientIdentity {
  pb::ConnectionKind kind = pb::SOCKET;
  uint32_t domid = 0;
  // Socket clients only; -1 where unknown (a ring, or SO_PEERCRED failed).
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  // The peer's command name (/proc/PID/comm, at most 15 bytes, any bytes), for the
  // history's authors; empty where unknown.
  std::string comm = {};

  static ClientIdentity socket_peer(pid_t pid, uid_t uid, std::string comm = {}) {
    return ClientIdentity{pb::SOCKET, 0, pid, uid, std::move(comm)};
  }
  static ClientIdentity ring(uint32_t domid) { return ClientIdentity{pb::RING, domid}; }
};

}  // namespace dxs::frontend
