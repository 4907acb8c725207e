// Commands on watches: WATCH, UNWATCH, RESET_WATCHES (watch_events.h fires them).
#include <fmt/format.h>

#include <cerrno>

#include "common/path.h"
#include "common/wire.h"
#include "store/commands.h"
#include "store/watch_events.h"

namespace dxs::store {

Result<std::string> cmd_watch(StoreState& s, Request& r) {
  const auto& args = r.req.watch();
  if (args.extra_size() != 0) return Status::error(EINVAL, "WATCH takes a path and a token");
  std::string wpath;
  bool relative = false;
  if (path::is_special(args.path())) {
    if (args.path().size() > wire::kRelPathMax)
      return Status::error(EINVAL, "special watch name too long");
    wpath = args.path();
  } else {
    relative = path::is_relative(args.path());
    auto canonical = canonical_path(s, r, args.path());
    if (!canonical) return canonical.status();
    wpath = std::move(*canonical);
  }
  const uint64_t conn = r.conn.record.id();
  if (s.watches.exists(conn, wpath, args.token())) return Status::error(EEXIST);
  DXS_RETURN_IF_ERROR(s.quotas.admit(r.caller, QuotaKind::kWatches,
                                     static_cast<int64_t>(s.watches.count(conn)), 1, r.quota_hits,
                                     [&] { return fmt::format("watching {}", wpath); }));
  s.watches.add(s.ws, Watch{conn, wpath, args.token(), relative});
  // The first event fires at once, whatever exists or is readable: clients rely on it.
  const std::string home = path::home_of(StoreState::home_domid(r.conn));
  queue_event(s, r, conn, relative ? path::strip_home(wpath, home) : std::string_view(wpath),
              args.token(), true);
  return kOkReply;
}

Result<std::string> cmd_unwatch(StoreState& s, Request& r) {
  const auto& args = r.req.watch();
  if (args.extra_size() != 0) return Status::error(EINVAL, "UNWATCH takes a path and a token");
  // As xenstored: resolved, not validated; an invalid path simply matches no watch.
  std::string wpath = args.path();
  if (path::is_relative(wpath)) wpath = path::home_of(StoreState::home_domid(r.conn)) + "/" + wpath;
  if (!s.watches.remove(s.ws, r.conn.record.id(), wpath, args.token())) {
    return Status::error(ENOENT);
  }
  return kOkReply;
}

Result<std::string> cmd_reset_watches(StoreState& s, Request& r) {
  s.drop_connection_state(r.conn.record.id());
  r.txn = nullptr;
  s.connections.save(r.conn);
  return kOkReply;
}

}  // namespace dxs::store
