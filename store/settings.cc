#include "store/settings.h"

#include <string>

#include "store/db.h"
#include "store/quota.h"
#include "store/session_service.h"
#include "store/state.h"

namespace dxs::store {
namespace {

using Type = Setting::Type;

std::string boolean(bool b) {
  return b ? "true" : "false";
}

std::vector<Setting> declare() {
  const DbOptions db;
  const SessionServerOptions session;
  const EngineOptions engine;
  std::vector<Setting> s = {
      {"store.sync", Type::kBool, boolean(db.sync), 0, 0,
       "fsync the write-ahead log on every group commit\n"
       "(without it a reply is sent once the change is in the WAL, which survives a crash of\n"
       "either process, though not a power loss, which ends every domain anyway)"},
      {"store.block-cache-mb", Type::kInt, std::to_string(db.block_cache_bytes >> 20), 1, 1 << 20,
       "RocksDB's memory: the block cache, which the memtables are charged to"},
      {"store.write-buffer-mb", Type::kInt, std::to_string(db.write_buffer_bytes >> 20), 1, 1 << 16,
       "a column family's memtable is flushed to disk at this size"},
      {"store.spin-us", Type::kInt, std::to_string(session.spin_us), 0, 100000,
       "poll this long for the next batch before sleeping (0: never poll)"},
      {"store.privileged-domid", Type::kInt, "", 0, 0x7fef,
       "a domain with dom0's rights besides dom0 (xenstored -p)"},
      {"store.keep-orphans", Type::kBool, boolean(engine.keep_orphans), 0, 0,
       "hand a released domain's nodes to dom0 instead of removing them (xenstored -K)"},
      {"store.txn-guard-after", Type::kInt, std::to_string(engine.guard.losses), 0, 1000,
       "after this many commits of one connection in a row answered EAGAIN, its next\n"
       "transaction is guarded: others' changes to what it reads wait until it ends\n"
       "(0: never; docs/design.md, \"A connection that keeps losing\")"},
      {"store.txn-guard-ms", Type::kInt, std::to_string(engine.guard.hold_ns / 1'000'000), 1, 60000,
       "the longest a guarded transaction holds others' changes back, in milliseconds\n"
       "(a guest's guard holds up other guests only, never dom0)"},
      {"store.watcher-behind", Type::kInt, std::to_string(engine.backpressure.behind), 0, 1 << 20,
       "a watcher with this many events unread holds up the connections whose changes\n"
       "feed it, until it catches up or watcher-hold-ms pass (0: never; a guest watcher\n"
       "holds up other guests only, never dom0; docs/design.md, \"A watcher far behind\")"},
      {"store.watcher-hold-ms", Type::kInt, std::to_string(engine.backpressure.hold_ns / 1'000'000),
       1, 60000, "the longest one hold of watcher-behind lasts, in milliseconds"},
      {"ops.group", Type::kString, "", 0, 0,
       "the ops socket's group (a name or a gid): its members get the read role\n"
       "(state and history); empty: the store's own group. Root and the store's user\n"
       "are admin; any other local user is refused at connect"},
      {"ops.admin-group", Type::kString, "", 0, 0,
       "members of this group (a name or a gid) get the admin role on the ops socket\n"
       "(writes, quotas; they must be in ops.group too, to open the socket)"},
      {"ops.tcp-listen", Type::kString, "", 0, 0,
       "tcp:HOST:PORT: an Ops API listener on the network, mutual TLS only (the store\n"
       "does not start without ops.tls-cert, ops.tls-key, ops.tls-client-ca and a role\n"
       "in ops.tls-admin or ops.tls-read); empty: none"},
      {"ops.tls-cert", Type::kString, "", 0, 0, "the TCP listener's certificate (chain), PEM"},
      {"ops.tls-key", Type::kString, "", 0, 0, "the TCP listener's private key, PEM"},
      {"ops.tls-client-ca", Type::kString, "", 0, 0,
       "the CA(s) a client certificate must be signed by, PEM"},
      {"ops.tls-admin", Type::kString, "", 0, 0,
       "client certificates with the admin role: subject CNs or subject alternative\n"
       "names, comma-separated (a certificate with no role is refused every call)"},
      {"ops.tls-read", Type::kString, "", 0, 0,
       "client certificates with the read role (state and history), as ops.tls-admin"},
      {"history.max-commits", Type::kInt, std::to_string(engine.retention.max_commits), 0,
       int64_t{1} << 40,
       "history keeps at most this many commits (0: no limit)\n"
       "(older ones are pruned, except what an open transaction or a recorded reply still\n"
       "reads; docs/design.md, \"Retention\")"},
      // At most 68 years, so that it is a number of nanoseconds too.
      {"history.max-age-s", Type::kInt, std::to_string(engine.retention.max_age_s), 0, INT32_MAX,
       "history keeps no commit older than this, in seconds (0: no limit)"},
      {"history.private-paths", Type::kString, "", 0, 0,
       "paths whose values history never keeps, only a keyed digest (space-separated)\n"
       "(absolute paths with fnmatch wildcards per component, and `**` last for everything\n"
       "below: /local/domain/*/data/* /local/domain/*/vm-data/**; docs/design.md, \"Privacy\")"},
  };
  for (size_t i = 0; i < static_cast<size_t>(QuotaKind::kCount); ++i) {
    const auto kind = static_cast<QuotaKind>(i);
    std::string help(quota_description(kind));
    if (i == 0) {
      help +=
          "\n(quotas bind unprivileged domains, with xenstored's defaults and errors;\n"
          "`xenstore-control quota set NAME VALUE [DOMID]` changes one at run time, and the\n"
          "change outlives restarts)";
    }
    s.push_back(Setting{"quota." + std::string(quota_name(kind)), Type::kInt,
                        std::to_string(engine.quota.get(kind)), 0, INT32_MAX, help});
  }
  return s;
}

}  // namespace

const Settings& store_settings() {
  static const Settings settings("dxs-store", declare());
  return settings;
}

}  // namespace dxs::store
