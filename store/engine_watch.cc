// Engine: watches (WATCH, UNWATCH, RESET_WATCHES) and the events changes fire.
#include <fmt/format.h>
#include <cerrno>
#include <unordered_map>

#include "common/path.h"
#include "common/wire.h"
#include "store/engine.h"
#include "store/engine_request.h"

namespace dxs::store {

namespace {

// What a transaction's commit tells watchers: one event per node it changed, as C fires
// once per node of the transaction (finalize_transaction), not per replayed operation.
// Each node's entry spans its changes: the state before the first, after the last; it
// fires for the watches above it if any change did, else for the watches on it. A node
// the transaction created and removed again fires nothing (C finds neither the node nor
// permissions from before). The permissions before count, as for SET_PERMS: C checks
// each node's permissions as the transaction first found them.
ChangeList events_per_node(const ChangeList& changes) {
  ChangeList merged;
  std::unordered_map<std::string_view, size_t> index;
  for (const Change& c : changes) {
    auto [it, fresh] = index.try_emplace(c.path, merged.size());
    if (fresh) {
      merged.push_back(c);
      continue;
    }
    Change& m = merged[it->second];
    if (c.fire == Change::Fire::kSubtree || m.fire == Change::Fire::kNone) m.fire = c.fire;
    m.after = c.after;
  }
  ChangeList out;
  for (Change& m : merged) {
    if (m.fire == Change::Fire::kNone || (!m.before && !m.after)) continue;
    m.kind = !m.before  ? Change::Kind::kCreated
             : !m.after ? Change::Kind::kDeleted
                        : Change::Kind::kPerms;  // so that the permissions before count
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

Perms Engine::special_perms(std::string_view name) {
  pb::NodeRecord record;
  if (ws_->get_record(Cf::kMeta, std::string(meta::kSpecialPermsPrefix) + std::string(name),
                      &record) &&
      record.perms_size() > 0) {
    return perms_from_packed(record.perms());
  }
  return Perms{PermEntry{0, kAccessNone}};
}

Result<std::string> Engine::do_watch(Request& r) {
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
    auto canonical = canonical_path(r, args.path());
    if (!canonical) return canonical.status();
    wpath = std::move(*canonical);
  }
  const uint64_t conn = r.conn.record.id();
  if (watches_.exists(conn, wpath, args.token())) return Status::error(EEXIST);
  if (!r.caller.privileged) {
    const int64_t limit = quota_limit(r.caller.domid, QuotaKind::kWatches);
    if (limit > 0 && static_cast<int64_t>(watches_.count(conn)) >= limit) {
      r.quota_hits.emplace_back(r.caller.domid, QuotaKind::kWatches);
      return refuse_quota(r.caller.domid, QuotaKind::kWatches, E2BIG,
                          fmt::format("watching {}", wpath));
    }
  }
  watches_.add(*ws_, Watch{conn, wpath, args.token(), relative});
  // The first event fires at once, whatever exists or is readable: clients rely on it.
  const std::string home =
      path::home_of(r.conn.record.kind() == pb::RING ? r.conn.record.domid() : 0);
  queue_event(r, conn, relative ? path::strip_home(wpath, home) : std::string_view(wpath),
              args.token(), true);
  return kOkReply;
}

Result<std::string> Engine::do_unwatch(Request& r) {
  const auto& args = r.req.watch();
  if (args.extra_size() != 0) return Status::error(EINVAL, "UNWATCH takes a path and a token");
  // As xenstored: resolved, not validated; an invalid path simply matches no watch.
  std::string wpath = args.path();
  if (path::is_relative(wpath)) {
    wpath =
        path::home_of(r.conn.record.kind() == pb::RING ? r.conn.record.domid() : 0) + "/" + wpath;
  }
  if (!watches_.remove(*ws_, r.conn.record.id(), wpath, args.token())) return Status::error(ENOENT);
  return kOkReply;
}

Result<std::string> Engine::do_reset_watches(Request& r) {
  drop_connection_state(r.conn.record.id());
  r.txn = nullptr;
  connections_.save(r.conn);
  return kOkReply;
}

void Engine::queue_event(Request& r, uint64_t conn, std::string_view path, std::string_view token,
                         bool after_reply) {
  if (path.size() + token.size() + 2 > wire::kPayloadMax) {
    // XSA-324: an event that cannot be framed is dropped, not sent truncated.
    logger_.info("watch event for {} on connection {} dropped: over {} bytes", path, conn,
                 wire::kPayloadMax);
    return;
  }
  Connection* c = connections_.find(conn);
  if (c == nullptr) return;
  Caller watcher = caller_of(*c);
  const uint64_t pending = c->record.next_event_id() - c->record.acked_event_id();
  const int64_t limit = watcher.privileged ? static_cast<int64_t>(kPrivilegedEventBacklog)
                                           : quota_limit(watcher.domid, QuotaKind::kWatchEvents);
  if (limit > 0 && static_cast<int64_t>(pending) >= limit) {
    // Counted and logged; the event itself is dropped, as xenstored drops stale ones.
    // The request that fired it succeeds, so the refusal is counted here and not with
    // the refusals of failed requests (run_request).
    (void)refuse_quota(
        watcher.domid, QuotaKind::kWatchEvents, ENOSPC,
        fmt::format("event {} for connection {} dropped: {} undelivered", path, conn, pending));
    pb::DomainRecord& d = domains_.get_or_create(watcher.domid);
    (*d.mutable_quota_hits())[std::string(quota_name(QuotaKind::kWatchEvents))] += 1;
    domains_.save(*ws_, watcher.domid);
    return;
  }
  const uint64_t id = c->record.next_event_id() + 1;
  c->record.set_next_event_id(id);
  pb::EventRecord record;
  record.set_path(std::string(path));
  record.set_token(std::string(token));
  ws_->put_record(Cf::kEvents, keys::event(conn, id), record);
  connections_.save(*c);

  pb::Outbound o;
  pb::WatchEvent* e = o.mutable_event();
  e->set_conn(conn);
  e->set_event_id(id);
  e->set_path(std::string(path));
  e->set_token(std::string(token));
  if (after_reply) {
    r.after_reply.push_back(std::move(o));  // delivered once the reply is
  } else {
    deliver(*c, std::move(o));
  }
}

// XSA-115: an unprivileged watcher hears of a change only if it may read the node, or
// its parent, or (for a permission change) could read the node before.
bool Engine::watch_permitted(Request& r, const Connection& watcher, const Change& change) {
  const Caller who = caller_of(watcher);
  if (who.privileged) return true;
  if (change.kind == Change::Kind::kPerms && change.before &&
      has_rights(who, change.before->perms, kRightRead)) {
    return true;
  }
  const Node& node = change.after ? *change.after : *change.before;
  if (has_rights(who, node.perms, kRightRead)) return true;
  if (change.path == "/") return false;
  const std::string_view parent = path::parent(change.path);
  MainNodes live(*ws_, 0);
  if (std::optional<Node> p = live.get(parent)) return has_rights(who, p->perms, kRightRead);
  // The parent went in the same request (a removed subtree): its permissions before.
  for (const Change& c : r.changes) {
    if (c.path == parent && c.before) return has_rights(who, c.before->perms, kRightRead);
  }
  return false;
}

void Engine::fire_watches(Request& r, const ChangeList& all) {
  ChangeList per_node;
  if (r.merged_branch != 0) per_node = events_per_node(all);
  const ChangeList& changes = r.merged_branch != 0 ? per_node : all;
  std::unordered_map<uint64_t, std::string> homes;
  for (const Change& ch : changes) {
    if (ch.fire == Change::Fire::kNone) continue;
    watches_.for_each_match(ch.path, ch.fire == Change::Fire::kExact, [&](const Watch& w) {
      Connection* c = connections_.find(w.conn);
      if (c == nullptr || !watch_permitted(r, *c, ch)) return;
      std::string_view delivered = ch.path;
      if (w.relative) {
        auto [it, inserted] = homes.try_emplace(w.conn);
        if (inserted)
          it->second = path::home_of(c->record.kind() == pb::RING ? c->record.domid() : 0);
        delivered = path::strip_home(ch.path, it->second);
      }
      queue_event(r, w.conn, delivered, w.token);
    });
  }
}

void Engine::fire_special(Request& r, std::string_view name) {
  const Perms perms = special_perms(name);
  watches_.for_each_match(name, true, [&](const Watch& w) {
    Connection* c = connections_.find(w.conn);
    if (c == nullptr || !has_rights(caller_of(*c), perms, kRightRead)) return;
    queue_event(r, w.conn, name, w.token);
  });
}

}  // namespace dxs::store
