#include "store/ops_auth.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <grpcpp/security/auth_context.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "common/config.h"
#include "common/printable.h"

namespace dxs::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool has_group(gid_t group, const PeerCredentials& peer, const std::vector<gid_t>& groups) {
  return peer.gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

// "fd:12" -> 12.
std::optional<int> fd_of_peer(const std::string& peer) {
  constexpr std::string_view kPrefix = "fd:";
  if (peer.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  int64_t fd = 0;
  if (!parse_int(std::string_view(peer).substr(kPrefix.size()), 0, INT32_MAX, fd)) {
    return std::nullopt;
  }
  return static_cast<int>(fd);
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kRead:
      return "read";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

OpsAuth::OpsAuth(OpsAuthOptions options, Logger& log) : options_(std::move(options)), log_(log) {}

OpsCaller OpsAuth::local_caller(const PeerCredentials& peer,
                                const std::vector<gid_t>& groups) const {
  OpsCaller c;
  c.identity = fmt::format("uid {}", peer.uid);
  if (peer.uid == 0 || peer.uid == geteuid()) {
    c.role = Role::kAdmin;
  } else if (options_.admin_group && has_group(*options_.admin_group, peer, groups)) {
    c.role = Role::kAdmin;
  } else if (options_.read_group && has_group(*options_.read_group, peer, groups)) {
    c.role = Role::kRead;
  }
  return c;
}

int OpsAuth::admit_local(int fd, const PeerCredentials& peer) {
  std::vector<gid_t> groups;
  // Without SO_PEERGROUPS only the primary group counts: a refusal, never a wrong grant.
  peer_groups(fd, groups);
  const OpsCaller c = local_caller(peer, groups);
  if (c.role == Role::kNone) return -1;
  return place(fd, c);
}

int OpsAuth::place(int fd, const OpsCaller& caller) {
  std::lock_guard lock(mu_);
  // Numbers tried and found taken by another caller's entry stay open (as copies of
  // this connection) while the search goes on, so F_DUPFD does not offer them again.
  std::vector<int> passed;
  int at = fd;
  for (;;) {
    auto it = by_fd_.find(at);
    if (it == by_fd_.end() || it->second == caller) break;
    const int next = fcntl(at, F_DUPFD_CLOEXEC, at + 1);
    if (next < 0) {
      for (int p : passed) close(p);
      if (at != fd) close(at);
      return -1;
    }
    if (at != fd) passed.push_back(at);
    at = next;
  }
  for (int p : passed) close(p);
  if (at != fd) close(fd);
  by_fd_[at] = caller;
  return at;
}

OpsCaller OpsAuth::certificate_caller(const std::vector<std::string>& names,
                                      const std::string& cn) const {
  OpsCaller c;
  c.identity =
      cn.empty() ? (names.empty() ? "cert (no name)" : "cert " + names.front()) : "cert CN=" + cn;
  for (const std::string& n : names) {
    if (options_.tls_admin.count(n)) c.role = Role::kAdmin;
    if (c.role == Role::kNone && options_.tls_read.count(n)) c.role = Role::kRead;
  }
  c.identity = printable(c.identity, 128);
  return c;
}

OpsCaller OpsAuth::caller(const grpc::ServerContext& ctx) const {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth && auth->IsPeerAuthenticated()) {
    // Only the TLS listener authenticates peers, and it requires a verified certificate.
    std::vector<std::string> names;
    std::string cn;
    for (const auto& v : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
      cn.assign(v.data(), v.size());
      names.push_back(cn);
    }
    for (const auto& v : auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
      names.emplace_back(v.data(), v.size());
    }
    return certificate_caller(names, cn);
  }
  if (std::optional<int> fd = fd_of_peer(ctx.peer())) {
    if (std::optional<OpsCaller> c = placed_at(*fd)) return *c;
  }
  return OpsCaller{Role::kNone, printable(ctx.peer(), 64)};
}

grpc::Status OpsAuth::require(const grpc::ServerContext& ctx, Role needed, std::string_view what,
                              OpsCaller* out) {
  OpsCaller c = caller(ctx);
  if (static_cast<int>(c.role) >= static_cast<int>(needed)) {
    if (out) *out = std::move(c);
    return grpc::Status::OK;
  }
  log_refusal(fmt::format("ops API: refused {} from {} (role {}, needs {})", what, c.identity,
                          role_name(c.role), role_name(needed)));
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      fmt::format("{} needs the {} role; {} has {}", what, role_name(needed),
                                  c.identity, role_name(c.role)));
}

void OpsAuth::log_refusal(const std::string& line) {
  std::lock_guard lock(mu_);
  ++refused_;
  // A burst of lines, then one a second: any local reader may call in a loop.
  const int64_t now = now_ms();
  if (last_refusal_ms_ >= 0) {
    log_allowance_ =
        std::min<double>(kLogBurst, log_allowance_ + (now - last_refusal_ms_) / 1000.0);
  }
  last_refusal_ms_ = now;
  if (log_allowance_ < 1) {
    ++refused_unlogged_;
    return;
  }
  log_allowance_ -= 1;
  if (refused_unlogged_ > 0) {
    log_.warn("{} (and {} more refusals since the last line)", line, refused_unlogged_);
  } else {
    log_.warn("{}", line);
  }
  refused_unlogged_ = 0;
}

std::optional<OpsCaller> OpsAuth::placed_at(int fd) const {
  std::lock_guard lock(mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

uint64_t OpsAuth::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

Result<gid_t> resolve_group(const std::string& name_or_gid) {
  constexpr gid_t kOverflowGid = 65534;
  int64_t number = 0;
  gid_t gid = 0;
  if (parse_int(name_or_gid, 0, INT32_MAX, number)) {
    gid = static_cast<gid_t>(number);
  } else {
    group g;
    group* found = nullptr;
    std::vector<char> buf(16384);
    const int rc = getgrnam_r(name_or_gid.c_str(), &g, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) {
      return Status::error(rc != 0 ? rc : ENOENT, fmt::format("no group '{}'", name_or_gid));
    }
    gid = found->gr_gid;
  }
  if (gid == kOverflowGid) {
    return Status::error(EINVAL, fmt::format("group '{}' is the overflow group {}, which any "
                                             "unmapped group appears as",
                                             name_or_gid, kOverflowGid));
  }
  return gid;
}

std::set<std::string> identity_list(std::string_view text) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find(',', start), text.size());
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace(item);
    start = end + 1;
  }
  return out;
}

}  // namespace dxs::store
