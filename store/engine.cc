#include "store/engine.h"

#include <fmt/format.h>

#include <cerrno>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "common/xs_error.h"
#include "store/command_table.h"
#include "store/node_view.h"
#include "store/request.h"
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
  for (const pb::TxnLogEntry& e : r.observations) s.txns.append(s.ws, *t, e);
}

}  // namespace

Engine::Engine(Db& db, const EngineOptions& options, Logger& log)
    : state_(db, options, log), log_(log) {}

Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::open(Db& db, const EngineOptions& options, Logger& log) {
  auto engine = std::make_unique<Engine>(db, options, log);
  DXS_RETURN_IF_ERROR(engine->recover());
  return engine;
}

Status Engine::recover() {
  StoreState& s = state_;
  std::string schema;
  if (s.db.get(Cf::kMeta, meta::kSchemaVersion, &schema) &&
      schema != std::to_string(kSchemaVersion)) {
    return Status::error(EIO, fmt::format("state has schema version {}, this dxs-store reads {}",
                                          schema, kSchemaVersion));
  }
  s.history.load(s.db);
  const size_t conns = s.connections.load(s.db);
  const size_t domains = s.domains.load(s.db);
  const size_t watches = s.watches.load(s.db);
  const size_t txns = s.txns.load(s.db);
  s.connections.for_each([&](Connection& c) { c.open_transactions = s.txns.count(c.record.id()); });
  // Quotas set at run time (control quota set) outlive restarts and win over the config.
  auto it = s.db.iterate(Cf::kMeta, meta::kQuotaPrefix);
  for (it->Seek(meta::kQuotaPrefix);
       it->Valid() && keys::starts_with(it->key(), meta::kQuotaPrefix); it->Next()) {
    QuotaKind kind;
    int64_t value = 0;
    const std::string name = it->key().ToString().substr(meta::kQuotaPrefix.size());
    if (quota_from_name(name, kind) && parse_int(it->value().ToString(), 1, INT32_MAX, value)) {
      s.options.quota.set(kind, value);
    }
  }

  if (s.history.head() == 0) {
    init_tree();
    commit_batch();
    log_.info("initialised a new tree (/, /tool, /tool/xenstored)");
  }
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
  info.summary = "dxs: initial tree";
  s.history.commit_main(s.ws, info, changes, now_ns());
}

void Engine::commit_batch() {
  state_.connections.flush(state_.ws);
  state_.txns.flush(state_.ws);
  state_.ws.commit();
}

pb::Welcome Engine::hello(const pb::Hello& hello, std::vector<pb::Outbound>& out) {
  StoreState& s = state_;
  std::string value;
  uint64_t base = kConnIdStride;
  if (s.db.get(Cf::kMeta, meta::kConnIdBase, &value) && value.size() == 8)
    base = keys::load_be64(value);
  std::string next;
  keys::append_be64(next, base + kConnIdStride);
  s.ws.put(Cf::kMeta, meta::kConnIdBase, next);
  commit_batch();

  pb::Welcome welcome;
  welcome.set_conn_id_base(base);
  s.connections.for_each([&](Connection& c) {
    if (c.record.id() == kOpsConnection) return;
    pb::KnownConnection* k = welcome.add_connections();
    k->set_conn(c.record.id());
    k->set_kind(c.record.kind());
    k->set_domid(c.record.domid());
    k->set_applied_seq(c.record.applied_seq());
    if (c.record.has_ring()) *k->mutable_ring() = c.record.ring();
  });
  // Whatever was sent to the previous frontend and not acknowledged is sent again.
  s.delivery.begin(&out);
  s.connections.for_each([&](Connection& c) { s.delivery.restart(c); });
  s.delivery.end();
  log_.info("frontend attached ({}): connection ids from {}, {} known connections",
            hello.frontend(), base, welcome.connections_size());
  return welcome;
}

void Engine::apply(const google::protobuf::RepeatedPtrField<pb::Inbound>& items,
                   std::vector<pb::Outbound>& out) {
  state_.delivery.begin(&out);
  ++state_.stats.batches;
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
      case pb::Inbound::ITEM_NOT_SET:
        break;
    }
  }
  state_.delivery.end();
  commit_batch();
}

void Engine::ops_request(const pb::Request& request, pb::Reply& reply,
                         std::vector<pb::Outbound>& out) {
  pb::Request req = request;
  req.set_conn(kOpsConnection);
  req.set_seq(0);
  std::vector<pb::Outbound> produced;
  state_.delivery.begin(&produced);
  handle_request(req, false);
  state_.delivery.end();
  commit_batch();
  for (auto& o : produced) {
    if (o.has_reply() && o.reply().conn() == kOpsConnection) {
      reply = o.reply();
    } else if (!(o.has_event() && o.event().conn() == kOpsConnection)) {
      out.push_back(std::move(o));
    }
  }
}

void Engine::open_connection(const pb::OpenConnection& open) {
  if (state_.connections.find(open.conn()) != nullptr || open.conn() < kConnIdStride) {
    log_.warn("frontend opened connection {} twice or with a reserved id; ignored", open.conn());
    return;
  }
  pb::ConnectionRecord r;
  r.set_id(open.conn());
  r.set_kind(open.kind());
  r.set_domid(open.kind() == pb::SOCKET ? 0 : open.domid());
  r.set_next_tx_id(1);
  r.set_peer_pid(open.peer_pid());
  r.set_peer_uid(open.peer_uid());
  r.set_opened_ns(now_ns());
  state_.connections.add(r);
  log_.debug("connection {} opened ({} dom{}, pid {})", open.conn(),
             open.kind() == pb::SOCKET ? "socket" : "ring", r.domid(), open.peer_pid());
}

void Engine::close_connection(uint64_t conn, std::string_view reason) {
  if (state_.connections.find(conn) == nullptr || conn == kOpsConnection) return;
  state_.drop_connection_state(conn);
  state_.connections.remove(state_.ws, conn);
  log_.debug("connection {} closed ({})", conn, reason);
}

void Engine::ack_events(const pb::EventAck& ack) {
  Connection* c = state_.connections.find(ack.conn());
  if (c == nullptr) return;
  const uint64_t upto = std::min(ack.event_id(), c->record.next_event_id());
  for (uint64_t id = c->record.acked_event_id() + 1; id <= upto; ++id) {
    state_.ws.del(Cf::kEvents, keys::event(ack.conn(), id));
  }
  if (upto > c->record.acked_event_id()) {
    c->record.set_acked_event_id(upto);
    state_.connections.save(*c);
  }
  state_.delivery.pump(*c);
}

bool Engine::answer_resent(Connection& c, const pb::Request& req, bool unrecorded_read,
                           std::optional<uint64_t>& as_of) {
  for (const pb::ReplyRecord& recorded : c.record.replies()) {
    if (unrecorded_read && recorded.seq() > req.seq()) {
      // A read from before this recorded request: answer as of just before it.
      as_of = recorded.base();
      return false;
    }
    if (recorded.seq() != req.seq()) continue;
    pb::Outbound o = reply_to(req, recorded.type(), recorded.payload());
    o.mutable_reply()->set_req_id(recorded.req_id());
    o.mutable_reply()->set_tx_id(recorded.tx_id());
    state_.delivery.send(std::move(o));
    return true;
  }
  log_.warn("connection {} re-sent request {} whose reply was already delivered; ignored",
            req.conn(), req.seq());
  return true;
}

void Engine::handle_request(const pb::Request& req, bool record) {
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
  if (record && req.replied_seq() > conn->record.replied_seq()) {
    // The frontend has delivered these replies: forget them.
    const uint64_t upto = std::min(req.replied_seq(), conn->record.applied_seq());
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
  if (record) record_reply(*conn, req, reply, base);
  deliver_results(*conn, r, std::move(reply));
}

// The reply is recorded in the same batch as the request's effect, in the connection's
// record, which the request rewrites anyway (applied_seq).
void Engine::record_reply(Connection& c, const pb::Request& req, const pb::Reply& reply,
                          uint64_t base) {
  c.record.set_applied_seq(req.seq());
  pb::ReplyRecord* rec = c.record.add_replies();
  rec->set_seq(req.seq());
  rec->set_type(reply.type());
  rec->set_req_id(req.req_id());
  rec->set_tx_id(req.tx_id());
  rec->set_payload(reply.payload());
  rec->set_base(base);
  state_.connections.save(c);
}

void Engine::deliver_results(Connection& c, Request& r, pb::Reply&& reply) {
  // The reply follows every event this connection got so far, except those meant to
  // follow the reply (a WATCH's first event).
  uint64_t preceding = c.record.next_event_id();
  for (const auto& o : r.after_reply) {
    if (o.has_event() && o.event().conn() == c.record.id()) --preceding;
  }
  pb::Outbound reply_item;
  *reply_item.mutable_reply() = std::move(reply);
  state_.delivery.follow(c, std::move(reply_item), preceding);
  for (auto& o : r.after_reply) {
    const uint64_t target = o.has_event()     ? o.event().conn()
                            : o.has_command() ? o.command().conn()
                                              : 0;
    Connection* t = state_.connections.find(target);
    if (t != nullptr && o.has_event()) {
      state_.delivery.event(*t, std::move(o));
    } else if (t != nullptr) {
      state_.delivery.follow(*t, std::move(o), t->record.next_event_id());
    } else {
      state_.delivery.send(std::move(o));  // a connection just closed (its CLOSE command)
    }
  }
}

pb::Reply Engine::run_request(Request& r) {
  ++state_.stats.requests;
  const size_t outbound_mark = state_.delivery.mark();
  state_.ws.set_savepoint();
  Result<std::string> result = run_command(state_, r);
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
    return;
  }
  for (const auto& [domid, delta] : r.node_delta) {
    if (delta == 0) continue;
    pb::DomainRecord& d = s.domains.get_or_create(domid);
    d.set_node_count(d.node_count() + delta);
    s.domains.save(s.ws, domid);
  }
  if (r.changes.empty() && !r.force_commit) return;
  CommitInfo info;
  info.author_domid = r.caller.domid;
  info.conn = r.req.conn();
  info.req_id = r.req.req_id();
  info.tx_id = r.req.tx_id();
  info.summary = std::move(r.summary);
  info.note = std::move(r.note);
  s.history.commit_main(s.ws, info, r.changes, now_ns(), r.merged_branch);
  ++s.stats.commits;
  fire_watches(s, r);
}

}  // namespace dxs::store
