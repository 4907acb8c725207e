#include "store/conflict_guard.h"

#include "common/path.h"

namespace dxs::store {
namespace {

using Paths = std::map<std::string, uint8_t, std::less<>>;
constexpr uint8_t kSeenAny = kSeenNode | kSeenPerms | kSeenChildren;

bool seen(const Paths& paths, std::string_view p, uint8_t what) {
  auto it = paths.find(p);
  return it != paths.end() && (it->second & what) != 0;
}

// Whether `change` can alter something a transaction observed (`paths`): what
// txn_merge.h's check would find changed.
bool touches(const Paths& paths, const PlannedChange& change) {
  const std::string& p = change.path;
  if (!path::is_valid(p)) return false;
  switch (change.reach) {
    case PlannedChange::Reach::kValue:
      return seen(paths, p, kSeenNode);
    case PlannedChange::Reach::kPerms:
      return seen(paths, p, kSeenNode | kSeenPerms);
    case PlannedChange::Reach::kCreate:
      if (seen(paths, p, kSeenAny)) return true;
      for (std::string_view a = p; a != "/";) {
        a = path::parent(a);
        if (seen(paths, a, kSeenChildren)) return true;
      }
      return false;
    case PlannedChange::Reach::kRemove: {
      if (seen(paths, p, kSeenAny)) return true;
      if (p == "/") return !paths.empty();
      if (seen(paths, path::parent(p), kSeenChildren)) return true;
      const std::string below = p + '/';
      auto it = paths.lower_bound(below);
      return it != paths.end() && it->first.starts_with(below);
    }
  }
  return false;
}

}  // namespace

void ConflictGuard::lost(uint64_t conn, bool privileged, const std::vector<Observed>& seen) {
  if (options_.losses == 0) return;
  Entry& e = by_conn_[conn];
  e.losses += 1;
  e.privileged = privileged;
  if (e.losses < options_.losses) return;
  e.armed = true;
  // What the next attempt will most likely read again; what the guarded attempt adds
  // as it goes joins it (observed()).
  if (e.tx == 0) e.paths.clear();
  for (const Observed& o : seen) {
    auto it = e.paths.find(o.path);
    if (it != e.paths.end()) {
      it->second |= o.seen;
    } else if (e.paths.size() < kMaxPaths) {
      e.paths.emplace(o.path, o.seen);
    }
  }
}

void ConflictGuard::won(uint64_t conn) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end()) return;
  lift(it->second);
  by_conn_.erase(it);
}

bool ConflictGuard::began(uint64_t conn, uint32_t tx, int64_t now_ns) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end()) return false;
  Entry& e = it->second;
  if (!e.armed || e.tx != 0) return false;
  e.armed = false;
  e.tx = tx;
  // Seniority is kept from the first guard until a win: a guarded attempt that loses to
  // an older guard's commit is not sent to the back of the line.
  if (e.order == 0) e.order = next_order_++;
  e.until_ns = now_ns + options_.hold_ns;
  ++guarded_;
  return true;
}

void ConflictGuard::observed(uint64_t conn, uint32_t tx, std::string_view path, uint8_t seen) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end() || it->second.tx != tx || tx == 0) return;
  Paths& paths = it->second.paths;
  if (auto at = paths.find(path); at != paths.end()) {
    at->second |= seen;
  } else if (paths.size() < kMaxPaths) {
    paths.emplace(std::string(path), seen);
  }
}

void ConflictGuard::ended(uint64_t conn, uint32_t tx) {
  auto it = by_conn_.find(conn);
  if (it != by_conn_.end() && it->second.tx == tx && tx != 0) lift(it->second);
}

void ConflictGuard::forget(uint64_t conn) {
  won(conn);
}

void ConflictGuard::lift(Entry& e) {
  if (e.tx != 0) {
    e.tx = 0;
    --guarded_;
    ++lifted_;
  }
  // The paths are kept only for a guard still to come (a loss armed it again).
  if (!e.armed) Paths().swap(e.paths);
}

bool ConflictGuard::is_guarded(uint64_t conn, uint32_t tx) const {
  auto it = by_conn_.find(conn);
  return it != by_conn_.end() && tx != 0 && it->second.tx == tx;
}

bool ConflictGuard::must_wait(uint64_t conn, bool privileged,
                              const std::vector<PlannedChange>& changes) const {
  if (guarded_ == 0 || changes.empty()) return false;
  uint64_t own_order = UINT64_MAX;
  if (auto it = by_conn_.find(conn); it != by_conn_.end() && it->second.tx != 0) {
    own_order = it->second.order;
  }
  for (const auto& [guarded_conn, e] : by_conn_) {
    if (e.tx == 0 || guarded_conn == conn || e.order > own_order) continue;
    if (privileged && !e.privileged) continue;
    for (const PlannedChange& c : changes) {
      if (touches(e.paths, c)) return true;
    }
  }
  return false;
}

bool ConflictGuard::expire(int64_t now_ns) {
  if (guarded_ == 0) return false;
  bool any = false;
  for (auto& [conn, e] : by_conn_) {
    if (e.tx != 0 && e.until_ns <= now_ns) {
      lift(e);
      any = true;
    }
  }
  return any;
}

std::optional<int64_t> ConflictGuard::next_expiry() const {
  std::optional<int64_t> next;
  if (guarded_ == 0) return next;
  for (const auto& [conn, e] : by_conn_) {
    if (e.tx != 0 && (!next || e.until_ns < *next)) next = e.until_ns;
  }
  return next;
}

}  // namespace dxs::store
