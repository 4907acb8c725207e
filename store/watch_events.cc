#include "store/watch_events.h"

#include <fmt/format.h>

#include <string>
#include <unordered_map>

#include "common/path.h"
#include "common/wire.h"
#include "store/node_view.h"
#include "store/ring_stream.h"
#include "store/special_nodes.h"

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

bool watch_permitted(StoreState& s, const Request& r, const Connection& watcher,
                     const Change& change) {
  const Caller who = s.caller_of(watcher);
  if (who.privileged) return true;
  if (change.kind == Change::Kind::kPerms && change.before &&
      has_rights(who, change.before->perms, kRightRead)) {
    return true;
  }
  const Node& node = change.after ? *change.after : *change.before;
  if (has_rights(who, node.perms, kRightRead)) return true;
  if (change.path == "/") return false;
  const std::string_view parent = path::parent(change.path);
  CurrentNodes live(s.ws);
  if (std::optional<Node> p = live.get(parent)) return has_rights(who, p->perms, kRightRead);
  // The parent went in the same request (a removed subtree): its permissions before.
  for (const Change& c : r.changes) {
    if (c.path == parent && c.before) return has_rights(who, c.before->perms, kRightRead);
  }
  return false;
}

void fire_changes(StoreState& s, Request& r, const ChangeList& changes) {
  std::unordered_map<uint64_t, std::string> homes;
  for (const Change& ch : changes) {
    if (ch.fire == Change::Fire::kNone) continue;
    s.watches.for_each_match(ch.path, ch.fire == Change::Fire::kExact, [&](const Watch& w) {
      Connection* c = s.connections.find(w.conn);
      if (c == nullptr || !watch_permitted(s, r, *c, ch)) return;
      std::string_view delivered = ch.path;
      if (w.relative) {
        auto [it, inserted] = homes.try_emplace(w.conn);
        if (inserted) it->second = path::home_of(StoreState::home_domid(*c));
        delivered = path::strip_home(ch.path, it->second);
      }
      queue_event(s, r, w.conn, delivered, w.token);
    });
  }
}

void fire_special(StoreState& s, Request& r, std::string_view name) {
  const Perms perms = special_perms(s.ws, name);
  s.watches.for_each_match(name, true, [&](const Watch& w) {
    Connection* c = s.connections.find(w.conn);
    if (c == nullptr || !has_rights(s.caller_of(*c), perms, kRightRead)) return;
    queue_event(s, r, w.conn, name, w.token);
  });
}

}  // namespace

void fire_watches(StoreState& s, Request& r) {
  if (r.merged_branch != 0) {
    fire_changes(s, r, events_per_node(r.changes));
  } else {
    fire_changes(s, r, r.changes);
  }
  for (std::string_view name : r.specials) fire_special(s, r, name);
}

void queue_event(StoreState& s, Request& r, uint64_t conn, std::string_view path,
                 std::string_view token, bool after_reply) {
  Connection* c = s.connections.find(conn);
  if (c == nullptr) return;
  const Caller watcher = s.caller_of(*c);
  if (path.size() + token.size() + 2 > wire::kPayloadMax) {
    // XSA-324: an event that cannot be framed is dropped, not sent truncated.
    s.refusals.note(LogLevel::kInfo, watcher.domid,
                    fmt::format("watch event of {} bytes for connection {} dropped: over {}",
                                path.size() + token.size() + 2, conn, wire::kPayloadMax));
    return;
  }
  const uint64_t pending = c->record.next_event_id() - c->record.acked_event_id();
  if (!s.quotas.admit_event(s.ws, watcher, pending, [&] {
        return fmt::format("event {} for connection {} dropped", path, conn);
      })) {
    return;
  }
  // Not saved: the event log holds the new id (event_log.h).
  const uint64_t id = c->record.next_event_id() + 1;
  c->record.set_next_event_id(id);
  // A watcher this far behind holds its feeder up (backpressure.h); the ops API's
  // requests and the store's own are never held.
  const uint64_t source = r.conn.record.id();
  if (s.backpressure.behind(pending + 1) && source != kOpsConnection &&
      source != kStoreConnection &&
      s.backpressure.fed(source, r.caller.privileged, conn, watcher.privileged, pending + 1,
                         steady_ns())) {
    ++s.stats.backpressure_holds;
  }

  pb::Outbound o;
  pb::WatchEvent* e = o.mutable_event();
  e->set_conn(conn);
  e->set_event_id(id);
  e->set_path(std::string(path));
  e->set_token(std::string(token));
  if (after_reply) {
    r.after_reply.push_back(std::move(o));  // settled and delivered once the reply is
  } else {
    settle_event(s, *c, o);
    s.delivery.event(*c, std::move(o));
  }
}

void settle_event(StoreState& s, Connection& c, pb::Outbound& event) {
  pb::WatchEvent& e = *event.mutable_event();
  e.set_rsp_end(place_in_ring(c, e.path().size() + e.token().size() + 2));
  s.events.append(c, e);
}

}  // namespace dxs::store
