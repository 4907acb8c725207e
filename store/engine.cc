#include "store/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "common/xs_error.h"
#include "store/command_table.h"
#include "store/domain_nodes.h"
#include "store/node_view.h"
#include "store/planned_changes.h"
#include "store/request.h"
#include "store/ring_connection.h"
#include "store/ring_stream.h"
#include "store/txn_merge.h"
#include "store/watch_events.h"

namespace dxs::store {

using wire::MsgType;

namespace {

constexpr uint64_t kConnIdStride = uint64_t{1} << 32;

// Errors that are part of normal operation, not worth a log line above debug.
bool is_routine_error(int err) {
  return err == ENOENT || err == EEXIST || err == EAGAIN || err == EACCES;
}

pb::Reply make_reply(const pb::Request& req, uint32_t type, std::string payload) {
  pb::Reply reply;
  reply.set_conn(req.conn());
  reply.set_seq(req.seq());
  reply.set_type(type);
  reply.set_req_id(req.req_id());
  reply.set_tx_id(req.tx_id());
  reply.set_payload(std::move(payload));
  return reply;
}

pb::Outbound reply_to(const pb::Request& req, uint32_t type, std::string payload) {
  pb::Outbound o;
  *o.mutable_reply() = make_reply(req, type, std::move(payload));
  return o;
}

std::string error_payload(int err) {
  return std::string(xs_error_name(err)) + '\0';
}

// What the client was answered depended on what the request observed, failure or not.
void log_observations(StoreState& s, Request& r) {
  if (r.observations.empty()) return;
  Transaction* t = s.txns.find(r.req.conn(), r.req.tx_id());
  if (t == nullptr) return;
  for (const pb::TxnLogEntry& e : r.observations) {
    s.txns.append(s.ws, *t, e);
    if (s.guard.any_guarded()) {
      s.guard.observed(t->conn, t->record.id(), e.path(), seen_of(e.observed()));
    }
  }
}

}  // namespace

Engine::Engine(Db& db, const EngineOptions& options, Logger& log)
    : state_(db, options, log), log_(log) {
  store_self_.record.set_id(kStoreConnection);
  store_self_.record.set_kind(pb::SOCKET);
}

Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::open(Db& db, const EngineOptions& options, Logger& log) {
  auto engine = std::make_unique<Engine>(db, options, log);
  DXS_RETURN_IF_ERROR(engine->recover());
  return engine;
}

Status Engine::recover() {
  StoreState& s = state_;
  std::string schema;
  const bool has_schema = s.db.get(Cf::kMeta, meta::kSchemaVersion, &schema);
  if (has_schema && schema == "1") {
    // Schema 1 is schema 2 without the index of the nodes naming each domain. The index
    // and the new version are one write: a crash before it leaves schema 1 to upgrade.
    const size_t entries = domain_nodes::build(s.ws);
    s.ws.put(Cf::kMeta, meta::kSchemaVersion, std::to_string(kSchemaVersion));
    s.ws.commit();
    log_.info(
        "upgraded the state from schema 1 to {}: indexed {} permission entries naming "
        "domains",
        kSchemaVersion, entries);
  } else if (has_schema && schema != std::to_string(kSchemaVersion)) {
    return Status::error(EIO, fmt::format("state has schema version {}, this dxs-store reads {}",
                                          schema, kSchemaVersion));
  }
  s.history.load(s.db);
  DXS_RETURN_IF_ERROR(s.privacy.load_key(s.db, s.ws));
  keeper_.load(s.db, s.privacy);
  const size_t conns = s.connections.load(s.db);
  s.events.load(s.db, s.connections, s.ws);
  const size_t domains = s.domains.load(s.db);
  const size_t watches = s.watches.load(s.db);
  const size_t txns = s.txns.load(s.db, s.ws);
  s.connections.for_each([&](Connection& c) { c.open_transactions = s.txns.count(c.record.id()); });
  s.txns.for_each([&](Transaction& t) {
    if (t.view_pending) rebuild_view(s, t);
  });
  // Quotas set at run time (control quota set) outlive restarts and win over the config.
  for_each_entry(s.db, Cf::kMeta, meta::kQuotaPrefix,
                 [&](std::string_view key, std::string_view v) {
                   QuotaKind kind;
                   int64_t value = 0;
                   const std::string name(key.substr(meta::kQuotaPrefix.size()));
                   if (quota_from_name(name, kind) && parse_int(v, 1, INT32_MAX, value)) {
                     s.options.quota.set(kind, value);
                   }
                 });

  if (s.history.head() == 0) {
    init_tree();
    log_.info("initialised a new tree (/, /tool, /tool/xenstored)");
  }
  if (!s.ws.empty()) commit_batch();
  log_.info(
      "recovered: head commit {}, {} connections, {} domains, {} watches, {} open transactions",
      s.history.head(), conns, domains, watches, txns);
  return Status::ok();
}

// The tree xenstored starts with: "/", "/tool", "/tool/xenstored", owned by dom0, "n0".
void Engine::init_tree() {
  StoreState& s = state_;
  s.ws.put(Cf::kMeta, meta::kSchemaVersion, std::to_string(kSchemaVersion));
  std::string base;
  keys::append_be64(base, kConnIdStride);
  s.ws.put(Cf::kMeta, meta::kConnIdBase, base);

  const uint64_t stamp = s.history.next();
  MainNodes nodes(s.ws, stamp);
  ChangeList changes;
  const char* paths[] = {"/", "/tool", "/tool/xenstored"};
  for (size_t i = 0; i < std::size(paths); ++i) {
    Node n;
    n.perms = {PermEntry{0, kAccessNone}};
    n.modified = n.perms_modified = n.children_modified = n.created = stamp;
    if (i + 1 < std::size(paths)) {
      n.child_count = 1;
      n.children_bytes = static_cast<uint32_t>(path::basename(paths[i + 1]).size() + 1);
    }
    nodes.put(paths[i], n);
    changes.push_back(
        Change{paths[i], Change::Kind::kCreated, Change::Fire::kNone, std::nullopt, n});
  }
  pb::DomainRecord& dom0 = s.domains.get_or_create(0);
  dom0.set_introduced(true);
  dom0.set_node_count(3);
  s.domains.save(s.ws, 0);

  pb::ConnectionRecord ops;
  ops.set_id(kOpsConnection);
  ops.set_kind(pb::SOCKET);
  ops.set_next_tx_id(1);
  s.connections.add(ops);

  CommitInfo info;
  info.author.set_kind(pb::CommitAuthor::STORE);
  info.summary = "dxs: initial tree";
  domain_nodes::record(s.ws, changes);
  s.history.commit_main(s.ws, info, changes, now_ns());
}

bool Engine::maintain(size_t budget) {
  const bool more = keeper_.run(state_, state_.options.retention, now_ns(), budget);
  state_.txns.flush(state_.ws);  // the transactions it outdated
  if (!state_.ws.empty()) state_.ws.commit();
  return more;
}

void Engine::commit_batch() {
  state_.events.write(state_.ws, state_.connections);
  state_.connections.flush(state_.ws, state_.events.batch());
  state_.txns.flush(state_.ws);
  state_.ws.commit();
  state_.events.advance();
  if (commit_feed_) commit_feed_->publish(state_.history.next() - 1);
}

void Engine::set_commit_feed(CommitFeed* feed) {
  commit_feed_ = feed;
  if (feed) feed->publish(state_.history.next() - 1);
}

Result<pb::Welcome> Engine::hello(const pb::Hello& hello, std::vector<pb::Outbound>& out) {
  StoreState& s = state_;
  std::string value;
  // The generation fences a frontend out once another attached after it: one stopped
  // (SIGSTOP, a hung host thread) or started by hand beside systemd's must not take the
  // connections back, or two frontends would serve one client in turn.
  uint64_t generation = 0;
  if (s.db.get(Cf::kMeta, meta::kFrontendGeneration, &value) && value.size() == 8)
    generation = keys::load_be64(value);
  if (hello.generation() != 0 && hello.generation() != generation) {
    log_.warn("frontend ({}) of generation {} refused: generation {} attached since",
              hello.frontend(), hello.generation(), generation);
    return Status::error(ESTALE, fmt::format("frontend generation {} was replaced by generation {}",
                                             hello.generation(), generation));
  }
  // What the previous frontend sent and the store held back was not applied: the new
  // one sends it again (every request after each connection's applied_seq).
  held_.clear();
  if (hello.generation() == 0) {
    ++generation;
    std::string encoded;
    keys::append_be64(encoded, generation);
    s.ws.put(Cf::kMeta, meta::kFrontendGeneration, encoded);
  }
  uint64_t base = kConnIdStride;
  if (s.db.get(Cf::kMeta, meta::kConnIdBase, &value) && value.size() == 8)
    base = keys::load_be64(value);
  std::string next;
  keys::append_be64(next, base + kConnIdStride);
  s.ws.put(Cf::kMeta, meta::kConnIdBase, next);
  std::vector<pb::Outbound> commands;
  if (hello.dom0_ring_port() != 0) dom0_ring(hello.dom0_ring_port(), commands);
  commit_batch();

  pb::Welcome welcome;
  welcome.set_generation(generation);
  if (s.ws.get(Cf::kMeta, meta::kLastSocketConn, &value) && value.size() == 8)
    welcome.set_last_socket_conn(keys::load_be64(value));
  welcome.set_conn_id_base(base);
  s.connections.for_each([&](Connection& c) {
    if (c.record.id() == kOpsConnection) return;
    // A ring opened just now is the frontend's to open (OPEN_RING), not to re-adopt.
    if (std::any_of(commands.begin(), commands.end(), [&](const pb::Outbound& o) {
          return o.command().action() == pb::ConnectionCommand::OPEN_RING &&
                 o.command().conn() == c.record.id();
        })) {
      return;
    }
    pb::KnownConnection* k = welcome.add_connections();
    k->set_conn(c.record.id());
    k->set_kind(c.record.kind());
    k->set_domid(c.record.domid());
    k->set_applied_seq(c.record.applied_seq());
    k->set_replied_seq(c.record.replied_seq());
    k->set_acked_event_id(c.record.acked_event_id());
    for (const pb::ReplyRecord& r : c.record.replies()) {
      pb::RecordedRequest* rec = k->add_recorded();
      rec->set_seq(r.seq());
      if (c.record.kind() == pb::SOCKET) rec->set_digest(r.request_digest());
      if (c.record.kind() == pb::RING) rec->set_req_end(r.ring().req_end());
    }
    if (c.record.has_ring()) *k->mutable_ring() = c.record.ring();
    if (c.record.kind() == pb::RING) {
      k->mutable_ring_end()->set_req_end(c.record.ring_req_end());
      k->mutable_ring_end()->set_rsp_end(c.record.ring_rsp_end());
      k->mutable_ring_end()->set_rsp_base(c.record.ring_rsp_base());
      k->set_features(ring_features(s, c.record.domid()));
    }
  });
  // Whatever was sent to the previous frontend and not acknowledged is sent again.
  s.delivery.begin(&out);
  s.connections.for_each([&](Connection& c) { s.delivery.restart(c); });
  for (pb::Outbound& o : commands) s.delivery.send(std::move(o));
  s.delivery.end();
  log_.info("frontend attached ({}, generation {}): connection ids from {}, {} known connections",
            hello.frontend(), generation, base, welcome.connections_size());
  return welcome;
}

// dom0's kernel talks to the store over a ring of its own, which the frontend finds at
// start. Its connection is kept across frontends while the port is the same (the
// frontend re-adopts it from the Welcome); another port is another ring.
void Engine::dom0_ring(uint32_t port, std::vector<pb::Outbound>& commands) {
  StoreState& s = state_;
  bool kept = false;
  for (uint64_t conn : ring_connections_of(s, 0)) {
    const Connection* c = s.connections.find(conn);
    if (!kept && c->record.ring().remote_port() == port) {
      kept = true;
      continue;
    }
    commands.push_back(close_ring(s, conn, "dom0's ring is on another port"));
  }
  if (kept) return;
  pb::DomainRecord& dom0 = s.domains.get_or_create(0);
  pb::RingAddress* ring = dom0.mutable_ring();
  ring->set_domid(0);
  ring->set_remote_port(port);
  ring->set_gfn(0);
  s.domains.save(s.ws, 0);
  commands.push_back(open_ring(s, *ring, false));
  log_.info("dom0's ring on port {} is connection {}", port, commands.back().command().conn());
}

void Engine::apply(const google::protobuf::RepeatedPtrField<pb::Inbound>& items,
                   std::vector<pb::Outbound>& out) {
  state_.delivery.begin(&out);
  ++state_.stats.batches;
  expire_holds(steady_ns());
  release_held();
  for (const pb::Inbound& item : items) {
    switch (item.item_case()) {
      case pb::Inbound::kOpen:
        open_connection(item.open());
        break;
      case pb::Inbound::kRequest:
        handle_request(item.request(), true);
        break;
      case pb::Inbound::kClose:
        close_connection(item.close().conn(), item.close().reason());
        break;
      case pb::Inbound::kEventAck:
        ack_events(item.event_ack());
        break;
      case pb::Inbound::kDomainStates:
        domain_states(item.domain_states());
        break;
      case pb::Inbound::kResetRing:
        reset_ring(item.reset_ring());
        break;
      case pb::Inbound::ITEM_NOT_SET:
        break;
    }
    release_held();
  }
  state_.delivery.end();
  commit_batch();
}

std::optional<int64_t> Engine::hold_deadline() const {
  const std::optional<int64_t> guard = state_.guard.next_expiry();
  const std::optional<int64_t> behind = state_.backpressure.next_expiry();
  if (guard && behind) return std::min(*guard, *behind);
  return guard ? guard : behind;
}

bool Engine::expire_holds(int64_t now) {
  const bool guards = state_.guard.expire(now);
  const bool behind = state_.backpressure.expire(now);
  return guards || behind;
}

void Engine::lift_expired_holds(int64_t now, std::vector<pb::Outbound>& out) {
  if (!expire_holds(now)) return;
  state_.delivery.begin(&out);
  release_held();
  state_.delivery.end();
  commit_batch();
}

uint64_t Engine::lifted() const {
  return state_.guard.lifted() + state_.backpressure.lifted();
}

void Engine::release_held() {
  while (!held_.empty() && lifted() != lifted_seen_) {
    lifted_seen_ = lifted();
    for (uint64_t conn : held_.connections()) {
      Connection* c = state_.connections.find(conn);
      if (c == nullptr) {
        held_.drop(conn);  // gone meanwhile: nobody waits for its answers
        continue;
      }
      while (held_.holds(conn)) {
        if (state_.backpressure.holds(conn) || waits_for_guard(*c, held_.front(conn))) break;
        serve_request(held_.pop(conn), true);
        // Serving it may have closed its connection (a privileged domain released
        // itself).
        c = state_.connections.find(conn);
        if (c == nullptr) {
          held_.drop(conn);
          break;
        }
      }
    }
  }
}

void Engine::ops_request(const pb::Request& request, std::string_view identity, pb::Reply& reply,
                         std::vector<pb::Outbound>& out) {
  pb::Request req = request;
  req.set_conn(kOpsConnection);
  req.set_seq(0);
  Connection* ops = state_.connections.find(kOpsConnection);
  if (ops) ops->ops_identity.assign(identity);
  std::vector<pb::Outbound> produced;
  state_.delivery.begin(&produced);
  handle_request(req, false);
  state_.delivery.end();
  commit_batch();
  if (ops) ops->ops_identity.clear();
  for (auto& o : produced) {
    if (o.has_reply() && o.reply().conn() == kOpsConnection) {
      reply = o.reply();
    } else if (!(o.has_event() && o.event().conn() == kOpsConnection)) {
      out.push_back(std::move(o));
    }
  }
}

void Engine::open_connection(const pb::OpenConnection& open) {
  if (open.kind() != pb::SOCKET) {
    // Ring connections are the store's to open (INTRODUCE): a frontend that opens one
    // does not follow the protocol, and a guest's rights must not follow its word.
    log_.warn("frontend opened connection {} of kind {} (only sockets are its to open); ignored",
              open.conn(), pb::ConnectionKind_Name(open.kind()));
    return;
  }
  if (state_.connections.find(open.conn()) != nullptr || open.conn() < kConnIdStride ||
      open.conn() >= kFirstRingConnection) {
    log_.warn("frontend opened connection {} twice or with a reserved id; ignored", open.conn());
    return;
  }
  pb::ConnectionRecord r;
  r.set_id(open.conn());
  r.set_kind(pb::SOCKET);
  r.set_domid(0);
  r.set_next_tx_id(1);
  r.set_peer_pid(open.peer_pid());
  r.set_peer_uid(open.peer_uid());
  r.set_peer_comm(open.peer_comm());
  r.set_opened_ns(now_ns());
  state_.connections.add(r);
  std::string value;
  if (!state_.ws.get(Cf::kMeta, meta::kLastSocketConn, &value) || value.size() != 8 ||
      keys::load_be64(value) < open.conn()) {
    state_.ws.put(Cf::kMeta, meta::kLastSocketConn, keys::be64(open.conn()));
  }
  log_.debug("connection {} opened (socket, pid {})", open.conn(), open.peer_pid());
}

// A ring connection closed by the frontend (a broken ring) goes with all it holds; its
// domain stays introduced, so that its death or RELEASE still fires @releaseDomain and
// a reset of the ring (ResetRing) gets it a new connection.
void Engine::close_connection(uint64_t conn, std::string_view reason) {
  const Connection* c = state_.connections.find(conn);
  if (c == nullptr || conn == kOpsConnection) return;
  held_.drop(conn);
  if (c->record.kind() == pb::RING) {
    log_.info("ring connection {} of domain {} closed by the frontend ({})", conn,
              c->record.domid(), reason);
  } else {
    log_.debug("connection {} closed ({})", conn, reason);
  }
  state_.forget_connection(conn);
}

void Engine::domain_states(const pb::DomainStates& states) {
  std::map<uint32_t, pb::DomainState::State> reported;
  for (const pb::DomainState& d : states.domains()) reported[d.domid()] = d.state();
  // Decided over a copy: a gone domain leaves the table meanwhile.
  std::vector<std::pair<uint32_t, std::string>> gone, shut_down;
  state_.domains.for_each([&](pb::DomainRecord& d) {
    if (d.domid() == 0) return;
    auto it = reported.find(d.domid());
    if (!d.introduced()) {
      // SET_FEATURE's choice for a domain that went before it was introduced: a new
      // domain given the same domid starts with the defaults.
      if (it == reported.end() && d.has_features()) {
        d.clear_features();
        state_.domains.save(state_.ws, d.domid());
      }
      return;
    }
    if (it == reported.end()) {
      gone.emplace_back(d.domid(), "no longer exists");
    } else if (it->second == pb::DomainState::DYING) {
      gone.emplace_back(d.domid(), "dying");
    } else if (it->second == pb::DomainState::SHUTDOWN && !d.shutdown_reported()) {
      shut_down.emplace_back(d.domid(), "");
    }
  });
  for (const auto& [domid, why] : shut_down) {
    act_as_store(MsgType::kRelease, {std::to_string(domid)}, cmd_domain_shut_down);
  }
  for (const auto& [domid, why] : gone) {
    act_as_store(MsgType::kRelease, {std::to_string(domid), why}, cmd_domain_gone);
  }
}

// The guest reset its ring: the connection it had goes, and a new one starts at offset
// 0. A reset that names a connection other than the domain's present one comes from
// before that one was opened (a re-introduction, which reset the ring already): ignored.
void Engine::reset_ring(const pb::ResetRing& reset) {
  StoreState& s = state_;
  const pb::DomainRecord* d = s.domains.find(reset.domid());
  if (!s.domains.is_introduced(reset.domid()) || d == nullptr || !d->has_ring()) {
    log_.warn(
        "reset of the ring of domain {} (connection {}), which has no ring introduced; ignored",
        reset.domid(), reset.conn());
    return;
  }
  const std::vector<uint64_t> present = ring_connections_of(s, reset.domid());
  const bool named = std::find(present.begin(), present.end(), reset.conn()) != present.end();
  if (!present.empty() && !named) {
    log_.warn("reset of connection {} of domain {}, whose ring is connection {}; ignored",
              reset.conn(), reset.domid(), present.front());
    return;
  }
  for (uint64_t conn : present) {
    s.delivery.send(close_ring(s, conn, fmt::format("domain {} reset its ring", reset.domid())));
  }
  s.delivery.send(open_ring(s, d->ring(), true));
  log_.info("domain {} reset its ring (connection {})", reset.domid(), reset.conn());
}

void Engine::act_as_store(MsgType type, std::initializer_list<std::string> strings,
                          Handler handler) {
  pb::Request req;
  req.set_conn(kStoreConnection);
  req.set_type(wire::to_u32(type));
  for (const std::string& arg : strings) req.mutable_strings()->add_strings(arg);
  Request r(req, store_self_, Caller{});
  pb::Reply reply = run_request(r, handler);
  if (reply.type() == wire::to_u32(MsgType::kError)) {
    log_.warn("the store's own {} {} failed: {}", wire::type_name(req.type()),
              req.strings().strings(0), reply.payload().c_str());
  }
  deliver_after_reply(r);
}

void Engine::ack_events(const pb::EventAck& ack) {
  Connection* c = state_.connections.find(ack.conn());
  if (c == nullptr) return;
  const uint64_t upto = std::min(ack.event_id(), c->record.next_event_id());
  if (upto > c->record.acked_event_id()) state_.events.acknowledge(state_.ws, *c, upto);
  state_.backpressure.acknowledged(ack.conn(),
                                   c->record.next_event_id() - c->record.acked_event_id());
  state_.delivery.pump(*c);
}

bool Engine::answer_resent(Connection& c, const pb::Request& req, bool unrecorded_read,
                           std::optional<uint64_t>& as_of) {
  for (const pb::ReplyRecord& recorded : c.record.replies()) {
    if (unrecorded_read && recorded.seq() > req.seq()) {
      // A read from before this recorded request: answer as of just before it. Once
      // that base is below the history horizon (pruned, or being), from the current
      // tree: a later state is a valid answer to a read whose reply was lost, as if
      // it had been delayed.
      if (recorded.base() >= keeper_.horizon()) as_of = recorded.base();
      return false;
    }
    if (recorded.seq() != req.seq()) continue;
    pb::Outbound o = reply_to(req, recorded.type(), recorded.payload());
    o.mutable_reply()->set_req_id(recorded.req_id());
    o.mutable_reply()->set_tx_id(recorded.tx_id());
    o.mutable_reply()->set_rsp_end(recorded.ring().rsp_end());
    // Behind the events that preceded it the first time: after a frontend restart they
    // are sent again, and may still be waiting for the event window.
    state_.delivery.follow(c, std::move(o), recorded.events_before());
    return true;
  }
  log_.warn("connection {} re-sent request {} whose reply was already delivered; ignored",
            req.conn(), req.seq());
  return true;
}

void Engine::handle_request(const pb::Request& req, bool record) {
  // The ops API's requests are answered at once (and are dom0's); a re-sent request is
  // answered as it was the first time.
  if (record && (!held_.empty() || state_.guard.any_guarded() || state_.backpressure.any()) &&
      req.conn() != kOpsConnection) {
    if (Connection* c = state_.connections.find(req.conn())) {
      // One already applied is answered as it was, whatever it would wait for now.
      const bool fresh = req.seq() > c->record.applied_seq();
      const bool behind = fresh && state_.backpressure.holds(req.conn());
      const bool guarded = fresh && !behind && waits_for_guard(*c, req);
      if (held_.holds(req.conn()) || behind || guarded) {
        held_.hold(req);
        ++(state_.backpressure.holds(req.conn()) ? state_.stats.held_behind : state_.stats.held);
        return;
      }
    }
  }
  serve_request(req, record);
}

bool Engine::waits_for_guard(const Connection& c, const pb::Request& req) {
  return state_.guard.any_guarded() &&
         state_.guard.must_wait(c.record.id(), state_.caller_of(c).privileged,
                                planned_changes(state_, c, req));
}

void Engine::serve_request(const pb::Request& req, bool record) {
  Connection* conn = state_.connections.find(req.conn());
  if (conn == nullptr) {
    log_.warn("request {} for unknown connection {}; answered EIO", wire::type_name(req.type()),
              req.conn());
    state_.delivery.send(reply_to(req, wire::to_u32(MsgType::kError), error_payload(EIO)));
    return;
  }
  record = record && req.seq() != 0;
  const bool unrecorded_read = record && !is_recorded(*conn, req);
  std::optional<uint64_t> as_of;
  // Sent again after a restart: answer what was answered, apply nothing.
  if (record && req.seq() <= conn->record.applied_seq() &&
      answer_resent(*conn, req, unrecorded_read, as_of)) {
    return;
  }
  // A read changes nothing, so it need not be recorded (reads are most requests, and
  // recording one costs a RocksDB write). If it is re-sent, it is answered again.
  record = record && !unrecorded_read;
  // The frontend has delivered these replies: forget them. A ring's are delivered once
  // their requests are consumed (a reply is in the ring before req_cons passes it).
  const uint64_t delivered =
      conn->record.kind() == pb::RING ? ring_delivered(*conn, req) : req.replied_seq();
  if (record && delivered > conn->record.replied_seq()) {
    const uint64_t upto = std::min(delivered, conn->record.applied_seq());
    auto* replies = conn->record.mutable_replies();
    int keep = 0;
    while (keep < replies->size() && replies->Get(keep).seq() <= upto) ++keep;
    replies->DeleteSubrange(0, keep);
    conn->record.set_replied_seq(upto);
  }

  Request r(req, *conn, state_.caller_of(*conn));
  r.as_of = as_of;
  const uint64_t base = state_.history.next() - 1;
  pb::Reply reply = run_request(r);
  if (state_.connections.find(req.conn()) == nullptr) {
    // The request closed its own connection (a privileged domain released itself): the
    // reply goes out before the CLOSE, and nothing is recorded for a connection gone.
    pb::Outbound o;
    *o.mutable_reply() = std::move(reply);
    state_.delivery.send(std::move(o));
    deliver_after_reply(r);
    return;
  }
  if (conn->record.kind() == pb::RING) {
    // Its place follows every event the request fired, and precedes those that follow
    // it (events_preceding).
    reply.set_rsp_end(place_in_ring(*conn, reply.payload().size()));
    state_.connections.save(*conn);
  }
  const uint64_t preceding = events_preceding(*conn, r);
  if (record) record_reply(*conn, req, reply, base, preceding);
  pb::Outbound reply_item;
  *reply_item.mutable_reply() = std::move(reply);
  state_.delivery.follow(*conn, std::move(reply_item), preceding);
  deliver_after_reply(r);
}

// The reply follows every event this connection got so far, except those meant to
// follow the reply (a WATCH's first event).
uint64_t Engine::events_preceding(const Connection& c, const Request& r) const {
  uint64_t preceding = c.record.next_event_id();
  for (const auto& o : r.after_reply) {
    if (o.has_event() && o.event().conn() == c.record.id()) --preceding;
  }
  return preceding;
}

// The reply is recorded in the same batch as the request's effect, in the connection's
// record, which the request rewrites anyway (applied_seq).
void Engine::record_reply(Connection& c, const pb::Request& req, const pb::Reply& reply,
                          uint64_t base, uint64_t events_before) {
  c.record.set_applied_seq(req.seq());
  pb::ReplyRecord* rec = c.record.add_replies();
  rec->set_seq(req.seq());
  rec->set_type(reply.type());
  rec->set_req_id(req.req_id());
  rec->set_tx_id(req.tx_id());
  rec->set_payload(reply.payload());
  rec->set_base(base);
  rec->set_request_digest(req.digest());
  rec->set_events_before(events_before);
  if (c.record.kind() == pb::RING) {
    // How far the ring was read and written, in the batch that applies the request: a
    // restarted frontend compares them with the ring's indices.
    c.record.set_ring_req_end(req.ring().req_end());
    c.record.set_ring_rsp_base(req.ring().rsp_base());
    rec->mutable_ring()->set_req_end(req.ring().req_end());
    rec->mutable_ring()->set_rsp_end(reply.rsp_end());
  }
  state_.connections.save(c);
}

void Engine::deliver_after_reply(Request& r) {
  for (auto& o : r.after_reply) {
    const uint64_t target = o.has_event()     ? o.event().conn()
                            : o.has_command() ? o.command().conn()
                                              : 0;
    Connection* t = state_.connections.find(target);
    if (t != nullptr && o.has_event()) {
      settle_event(state_, *t, o);
      state_.delivery.event(*t, std::move(o));
    } else if (t != nullptr) {
      state_.delivery.follow(*t, std::move(o), t->record.next_event_id());
    } else {
      state_.delivery.send(std::move(o));  // a connection just closed (its CLOSE command)
    }
  }
}

pb::Reply Engine::run_request(Request& r, Handler handler) {
  ++state_.stats.requests;
  const size_t outbound_mark = state_.delivery.mark();
  state_.ws.set_savepoint();
  Result<std::string> result = handler != nullptr ? handler(state_, r) : run_command(state_, r);
  if (result.is_ok() && result->size() > wire::kPayloadMax) {
    result = Status::error(E2BIG, fmt::format("reply of {} bytes", result->size()));
  }
  pb::Reply reply = make_reply(r.req, r.req.type(), {});
  if (!result.is_ok()) {
    state_.ws.rollback_to_savepoint();
    state_.delivery.rollback(outbound_mark);
    fail_request(r, result.status());
    reply.set_type(wire::to_u32(MsgType::kError));
    reply.set_payload(error_payload(result.status().err()));
    return reply;
  }
  state_.ws.pop_savepoint();
  take_effect(r);
  reply.set_payload(std::move(result.value()));
  return reply;
}

void Engine::fail_request(Request& r, const Status& status) {
  for (auto& fn : r.on_failure) fn();
  log_observations(state_, r);
  state_.quotas.count(state_.ws, r.quota_hits);
  state_.refusals.refused(is_routine_error(status.err()) ? LogLevel::kDebug : LogLevel::kInfo,
                          r.caller.domid, wire::type_name(r.req.type()), status.err(),
                          status.detail());
  r.after_reply.clear();
}

void Engine::take_effect(Request& r) {
  StoreState& s = state_;
  log_observations(s, r);
  if (r.txn != nullptr) {
    for (const auto& [domid, delta] : r.node_delta) {
      if (delta != 0) (*r.txn->record.mutable_node_delta())[domid] += delta;
    }
    if (!r.node_delta.empty()) s.txns.save(*r.txn);
    // A request in a transaction changes its view, not main; only a special node's
    // permissions, which no view holds, are set at once, and that is a commit on main.
    if (r.changes.empty()) return;
  } else {
    for (const auto& [domid, delta] : r.node_delta) {
      if (delta == 0) continue;
      pb::DomainRecord& d = s.domains.get_or_create(domid);
      d.set_node_count(d.node_count() + delta);
      s.domains.save(s.ws, domid);
    }
  }
  if (r.changes.empty() && r.state_changes.empty() && !r.force_commit) return;
  CommitInfo info;
  // Not r.conn: the request may have closed its own connection (commit_author).
  info.author = commit_author(r, s.connections.find(r.req.conn()));
  info.conn = r.req.conn();
  info.req_id = r.req.req_id();
  info.tx_id = r.req.tx_id();
  info.summary = std::move(r.summary);
  info.note = std::move(r.note);
  info.state = std::move(r.state_changes);
  domain_nodes::record(s.ws, r.changes);
  s.history.commit_main(s.ws, info, r.changes, now_ns(), r.merged_branch);
  ++s.stats.commits;
  fire_watches(s, r);
}

}  // namespace dxs::store
