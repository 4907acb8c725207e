// OpsAuth: who may use the store's operator APIs (Ops, History), and with which role.
//
// Two roles: `read` (the live tree's reads, history) and `admin` (everything, writes and
// quotas included). A caller is identified by the door it came in by:
// - the local socket: the peer's credentials at connect (SO_PEERCRED, SO_PEERGROUPS).
//   Root and the store's own user are admin, members of the admin group are admin,
//   members of the read group (the socket file's group) are read; anyone else is
//   refused at accept (admit_local), before gRPC reads a byte. gRPC knows such a
//   connection as the peer "fd:N", so the caller is kept in a table by descriptor;
//   a closed connection's number may be reused while one of its calls is still queued,
//   so a connection is only ever placed on a number last used by the same caller
//   (place()), and such a call finds its own caller whatever came after.
// - the TCP listener (mutual TLS, ops_server.h): the client certificate's subject CN
//   and subject alternative names, matched against the configured lists.
// A handler's first act is require(ctx, role): OK with the caller, or PERMISSION_DENIED,
// logged (a burst of 20 lines, then a line a second, with a count of those not logged).
//
// Thread-safety: all methods may be called from any thread (the accept thread places,
// gRPC's threads look up).
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "common/unix_socket.h"

namespace dxs::store {

enum class Role { kNone = 0, kRead = 1, kAdmin = 2 };
std::string_view role_name(Role role);

struct OpsCaller {
  Role role = Role::kNone;
  std::string identity;  // "uid 1000", "cert CN=alice": what commits name as their author
  bool operator==(const OpsCaller&) const = default;
};

struct OpsAuthOptions {
  std::optional<gid_t> read_group;   // ops.group
  std::optional<gid_t> admin_group;  // ops.admin-group
  // Certificate identities (a subject CN or a subject alternative name) per role.
  std::set<std::string> tls_admin;
  std::set<std::string> tls_read;
};

class OpsAuth {
 public:
  OpsAuth(OpsAuthOptions options, Logger& log);

  // The role of a local peer with these credentials and supplementary groups.
  OpsCaller local_caller(const PeerCredentials& peer, const std::vector<gid_t>& groups) const;
  // A PeerAcceptor::Admit for the local socket: -1 for a peer with no role, else the
  // descriptor the connection was placed on (see the top of this file).
  int admit_local(int fd, const PeerCredentials& peer);
  // The role of a certificate with these names (subject CN, SANs).
  OpsCaller certificate_caller(const std::vector<std::string>& names, const std::string& cn) const;

  // Who made the call: a local connection's caller, a certificate's, or no role.
  OpsCaller caller(const grpc::ServerContext& ctx) const;
  // OK if the caller has `needed` (admin has read too), with *out (if given) set to the
  // caller; PERMISSION_DENIED otherwise. `what` names the call in the log line.
  grpc::Status require(const grpc::ServerContext& ctx, Role needed, std::string_view what,
                       OpsCaller* out = nullptr);

  uint64_t refused() const;

  // admit_local's second half (public for tests): moves the connection at fd to a
  // number whose table entry is absent or `caller`'s (closing fd if it moved), records
  // it there and returns it; -1 (fd left open) if no descriptor is left.
  int place(int fd, const OpsCaller& caller);
  // The caller last placed at fd, if any.
  std::optional<OpsCaller> placed_at(int fd) const;

 private:
  void log_refusal(const std::string& line);

  OpsAuthOptions options_;
  Logger& log_;
  mutable std::mutex mu_;
  // Bounded by the process's descriptor limit.
  std::unordered_map<int, OpsCaller> by_fd_;
  static constexpr double kLogBurst = 20;
  uint64_t refused_ = 0;
  uint64_t refused_unlogged_ = 0;
  double log_allowance_ = kLogBurst;
  int64_t last_refusal_ms_ = -1;
};

// A group named by name or by number ("dxs", "1001"); ENOENT if there is no such group,
// EINVAL for the overflow group (65534), which every group unmapped in the store's user
// namespace appears as (systemd's PrivateUsers=): it would let in anyone.
Result<gid_t> resolve_group(const std::string& name_or_gid);
// "alice, ops-bot" -> {"alice", "ops-bot"}; empty items are dropped.
std::set<std::string> identity_list(std::string_view text);

}  // namespace dxs::store
