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
