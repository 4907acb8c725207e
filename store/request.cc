#include "store/request.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdint>

#include "common/path.h"
#include "common/printable.h"
#include "store/state.h"

namespace dxs::store {

Result<std::string> canonical_path(StoreState& s, Request& r, std::string_view raw) {
  const uint32_t home = StoreState::home_domid(r.conn);
  const int64_t path_max = s.quotas.limit(r.caller.domid, QuotaKind::kPathMax);
  Result<std::string> p = path::canonicalize(raw, home, static_cast<uint32_t>(path_max));
  if (!p.is_ok() && path::canonicalize(raw, home, UINT32_MAX).is_ok()) {
    // Valid but for its length: a refusal of the path-max quota, logged and counted as
    // any other (the answer is EINVAL all the same).
    return s.quotas.refuse(r.caller.domid, QuotaKind::kPathMax,
                           fmt::format("path of {} bytes {}", raw.size(), printable(raw, 64)),
                           r.quota_hits);
  }
  return p;
}

std::string author(const Request& r) {
  if (r.conn.record.id() == kOpsConnection) return "ops";
  if (r.conn.record.id() == kStoreConnection) return "dxs";
  return fmt::format("dom{}", r.caller.domid);
}

pb::CommitAuthor commit_author(const Request& r, const Connection* conn) {
  pb::CommitAuthor a;
  a.set_domid(r.caller.domid);
  const uint64_t id = r.req.conn();
  if (id == kOpsConnection) {
    a.set_kind(pb::CommitAuthor::OPS);
    a.set_identity(conn != nullptr ? conn->ops_identity : r.conn.ops_identity);
  } else if (id == kStoreConnection) {
    a.set_kind(pb::CommitAuthor::STORE);
  } else if (conn == nullptr || conn->record.kind() == pb::RING) {
    a.set_kind(pb::CommitAuthor::RING);
  } else {
    a.set_kind(pb::CommitAuthor::SOCKET);
    a.set_pid(conn->record.peer_pid());
    a.set_uid(conn->record.peer_uid());
    a.set_command(conn->record.peer_comm());
  }
  return a;
}

}  // namespace dxs::store
