#include "store/engine.h"

#include <fmt/format.h>
#include <cerrno>
#include <chrono>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "common/xs_error.h"
#include "store/engine_request.h"

namespace dxs::store {

using wire::MsgType;

namespace {

constexpr uint64_t kConnIdStride = uint64_t{1} << 32;

bool is_privileged_only(uint32_t type) {
  switch (static_cast<MsgType>(type)) {
    case MsgType::kControl:
    case MsgType::kIntroduce:
    case MsgType::kRelease:
    case MsgType::kIsDomainIntroduced:
    case MsgType::kResume:
    case MsgType::kSetTarget:
      return true;
    default:
      return false;
  }
}

// A request whose reply is not recorded: a read outside a transaction on a socket
// connection changes nothing, and answering it again after a restart is as good as the
// first answer. A ring connection's record also tells a restarted frontend where its
// ring was read up to, so each of its requests is recorded.
bool is_unrecorded_read(const Connection& c, const pb::Request& req) {
  if (c.record.kind() != pb::SOCKET || req.tx_id() != 0) return false;
  switch (static_cast<MsgType>(req.type())) {
    case MsgType::kRead:
    case MsgType::kDirectory:
    case MsgType::kDirectoryPart:
    case MsgType::kGetPerms:
      return true;
    default:
      return false;
  }
}

// Errors that are part of normal operation, not worth a log line above debug.
bool is_routine_error(int err) {
  return err == ENOENT || err == EEXIST || err == EAGAIN || err == EACCES;
}

}  // namespace

Engine::Engine(Db& db, const EngineOptions& options, Logger& log)
    : db_(db), options_(options), logger_(log), ws_(std::make_unique<WriteSet>(db)) {}

Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::open(Db& db, const EngineOptions& options, Logger& log) {
  auto engine = std::make_unique<Engine>(db, options, log);
  DXS_RETURN_IF_ERROR(engine->recover());
  return engine;
}

int64_t Engine::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status Engine::recover() {
  std::string schema;
  if (db_.get(Cf::kMeta, meta::kSchemaVersion, &schema) &&
      schema != std::to_string(kSchemaVersion)) {
    return Status::error(EIO, fmt::format("state has schema version {}, this dxs-store reads {}",
                                          schema, kSchemaVersion));
  }
  history_.load(db_);
  const size_t conns = connections_.load(db_);
  const size_t domains = domains_.load(db_);
  const size_t watches = watches_.load(db_);
  const size_t txns = txns_.load(db_);
  connections_.for_each([&](Connection& c) { c.open_transactions = txns_.count(c.record.id()); });
  // Quotas set at run time (control quota set) outlive restarts and win over the config.
  auto it = db_.iterate(Cf::kMeta, meta::kQuotaPrefix);
  for (it->Seek(meta::kQuotaPrefix);
       it->Valid() && keys::starts_with(it->key(), meta::kQuotaPrefix); it->Next()) {
    QuotaKind kind;
    int64_t value = 0;
    const std::string name = it->key().ToString().substr(meta::kQuotaPrefix.size());
    if (quota_from_name(name, kind) && parse_int(it->value().ToString(), 1, INT32_MAX, value)) {
      options_.quota.set(kind, value);
    }
  }

  if (history_.head() == 0) {
    init_tree();
    DXS_RETURN_IF_ERROR(commit_batch());
    logger_.info("initialised a new tree (/, /tool, /tool/xenstored)");
  }
  logger_.info(
      "recovered: head commit {}, {} connections, {} domains, {} watches, {} open transactions",
      history_.head(), conns, domains, watches, txns);
  return Status::ok();
}

// The tree xenstored starts with: "/", "/tool", "/tool/xenstored", owned by dom0, "n0".
void Engine::init_tree() {
  ws_->put(Cf::kMeta, meta::kSchemaVersion, std::to_string(kSchemaVersion));
  std::string base;
  keys::append_be64(base, kConnIdStride);
  ws_->put(Cf::kMeta, meta::kConnIdBase, base);

  const uint64_t stamp = history_.next();
  MainNodes nodes(*ws_, stamp);
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
  pb::DomainRecord& dom0 = domains_.get_or_create(0);
  dom0.set_introduced(true);
  dom0.set_node_count(3);
  domains_.save(*ws_, 0);

  pb::ConnectionRecord ops;
  ops.set_id(kOpsConnection);
  ops.set_kind(pb::SOCKET);
  ops.set_next_tx_id(1);
  connections_.add(ops);

  CommitInfo info;
  info.summary = "dxs: initial tree";
  history_.commit_main(*ws_, info, changes, now_ns());
}

Result<pb::Welcome> Engine::hello(const pb::Hello& hello, std::vector<pb::Outbound>& out) {
  std::string value;
  uint64_t base = kConnIdStride;
  if (db_.get(Cf::kMeta, meta::kConnIdBase, &value) && value.size() == 8)
    base = keys::load_be64(value);
  std::string next;
  keys::append_be64(next, base + kConnIdStride);
  ws_->put(Cf::kMeta, meta::kConnIdBase, next);
  DXS_RETURN_IF_ERROR(commit_batch());

  pb::Welcome welcome;
  welcome.set_conn_id_base(base);
  connections_.for_each([&](Connection& c) {
    if (c.record.id() == kOpsConnection) return;
    pb::KnownConnection* k = welcome.add_connections();
    k->set_conn(c.record.id());
    k->set_kind(c.record.kind());
    k->set_domid(c.record.domid());
    k->set_applied_seq(c.record.applied_seq());
    if (c.record.has_ring()) *k->mutable_ring() = c.record.ring();
  });
  // Whatever was sent to the previous frontend and not acknowledged is sent again.
  connections_.for_each([&](Connection& c) {
    c.sent_event_id = c.record.acked_event_id();
    c.held.clear();  // the new frontend re-sends those requests
    send_queued_events(c, out);
  });
  logger_.info("frontend attached ({}): connection ids from {}, {} known connections",
               hello.frontend(), base, welcome.connections_size());
  return welcome;
}

Status Engine::apply(const google::protobuf::RepeatedPtrField<pb::Inbound>& items,
                     std::vector<pb::Outbound>& out) {
  out_ = &out;
  ++stats_.batches;
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
  out_ = nullptr;
  return commit_batch();
}

Status Engine::commit_batch() {
  connections_.flush(*ws_);
  txns_.flush(*ws_);
  return ws_->commit();
}

Status Engine::ops_request(const pb::Request& request, pb::Reply& reply,
                           std::vector<pb::Outbound>& out) {
  pb::Request req = request;
  req.set_conn(kOpsConnection);
  req.set_seq(0);
  std::vector<pb::Outbound> produced;
  out_ = &produced;
  handle_request(req, false);
  out_ = nullptr;
  DXS_RETURN_IF_ERROR(commit_batch());
  for (auto& o : produced) {
    if (o.has_reply() && o.reply().conn() == kOpsConnection) {
      reply = o.reply();
    } else if (!(o.has_event() && o.event().conn() == kOpsConnection)) {
      out.push_back(std::move(o));
    }
  }
  return Status::ok();
}

void Engine::open_connection(const pb::OpenConnection& open) {
  if (connections_.find(open.conn()) != nullptr || open.conn() < kConnIdStride) {
    logger_.warn("frontend opened connection {} twice or with a reserved id; ignored", open.conn());
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
  connections_.add(r);
  logger_.debug("connection {} opened ({} dom{}, pid {})", open.conn(),
                open.kind() == pb::SOCKET ? "socket" : "ring", r.domid(), open.peer_pid());
}

void Engine::drop_connection_state(uint64_t conn) {
  watches_.remove_all(*ws_, conn);
  txns_.discard_all(*ws_, conn);
  if (Connection* c = connections_.find(conn)) c->open_transactions = 0;
}

void Engine::close_connection(uint64_t conn, std::string_view reason) {
  if (connections_.find(conn) == nullptr || conn == kOpsConnection) return;
  drop_connection_state(conn);
  connections_.remove(*ws_, conn);
  logger_.debug("connection {} closed ({})", conn, reason);
}

void Engine::ack_events(const pb::EventAck& ack) {
  Connection* c = connections_.find(ack.conn());
  if (c == nullptr) return;
  const uint64_t upto = std::min(ack.event_id(), c->record.next_event_id());
  for (uint64_t id = c->record.acked_event_id() + 1; id <= upto; ++id) {
    ws_->del(Cf::kEvents, keys::event(ack.conn(), id));
  }
  if (upto > c->record.acked_event_id()) {
    c->record.set_acked_event_id(upto);
    connections_.save(*c);
  }
  send_queued_events(*c, *out_);
}

void Engine::send_queued_events(Connection& c, std::vector<pb::Outbound>& out) {
  const uint64_t conn = c.record.id();
  c.sent_event_id = std::max(c.sent_event_id, c.record.acked_event_id());
  for (;;) {
    while (!c.held.empty() && c.held.front().first <= c.sent_event_id) {
      out.push_back(std::move(c.held.front().second));
      c.held.pop_front();
    }
    if (c.sent_event_id >= c.record.next_event_id() ||
        c.sent_event_id - c.record.acked_event_id() >= kEventWindow) {
      break;
    }
    const uint64_t id = c.sent_event_id + 1;
    pb::EventRecord record;
    if (ws_->get_record(Cf::kEvents, keys::event(conn, id), &record)) {
      pb::Outbound o;
      pb::WatchEvent* e = o.mutable_event();
      e->set_conn(conn);
      e->set_event_id(id);
      e->set_path(record.path());
      e->set_token(record.token());
      out.push_back(std::move(o));
    }
    c.sent_event_id = id;
  }
}

Caller Engine::caller_of(const Connection& c) {
  Caller caller;
  if (c.record.kind() != pb::RING) return caller;  // socket clients are dom0
  caller.domid = c.record.domid();
  caller.privileged = is_privileged_domid(caller.domid);
  if (const pb::DomainRecord* d = domains_.find(caller.domid); d && d->has_target()) {
    caller.target = d->target();
  }
  return caller;
}

bool Engine::is_privileged_domid(uint32_t domid) const {
  return domid == 0 || (options_.privileged_domid && *options_.privileged_domid == domid);
}

std::string Engine::author(const Request& r) const {
  if (r.conn.record.id() == kOpsConnection) return "ops";
  return fmt::format("dom{}", r.caller.domid);
}

int64_t Engine::quota_limit(uint32_t domid, QuotaKind kind) {
  if (const pb::DomainRecord* d = domains_.find(domid)) {
    auto it = d->quota().find(std::string(quota_name(kind)));
    if (it != d->quota().end()) return it->second;
  }
  return options_.quota.get(kind);
}

Status Engine::refuse_quota(uint32_t domid, QuotaKind kind, int err, std::string_view what) {
  const int64_t limit = quota_limit(domid, kind);
  logger_.warn("quota: dom{} hit {} (limit {}): {}", domid, quota_name(kind), limit, what);
  return Status::error(
      err, fmt::format("quota {} (limit {}) of dom{}: {}", quota_name(kind), limit, domid, what));
}

void Engine::handle_request(const pb::Request& req, bool record) {
  Connection* conn = connections_.find(req.conn());
  if (conn == nullptr) {
    logger_.warn("request {} for unknown connection {}; answered EIO", wire::type_name(req.type()),
                 req.conn());
    pb::Outbound o;
    pb::Reply* reply = o.mutable_reply();
    reply->set_conn(req.conn());
    reply->set_seq(req.seq());
    reply->set_type(wire::to_u32(MsgType::kError));
    reply->set_req_id(req.req_id());
    reply->set_tx_id(req.tx_id());
    reply->set_payload(std::string(xs_error_name(EIO)) + '\0');
    out_->push_back(std::move(o));
    return;
  }
  record = record && req.seq() != 0;
  const bool unrecorded_read = record && is_unrecorded_read(*conn, req);
  std::optional<uint64_t> as_of;
  if (record && req.seq() <= conn->record.applied_seq()) {
    // Sent again after a restart: answer what was answered, apply nothing.
    for (const pb::ReplyRecord& recorded : conn->record.replies()) {
      if (unrecorded_read && recorded.seq() > req.seq()) {
        // A read from before this recorded request: answer as of just before it.
        as_of = recorded.base();
        break;
      }
      if (recorded.seq() != req.seq()) continue;
      pb::Outbound o;
      pb::Reply* reply = o.mutable_reply();
      reply->set_conn(req.conn());
      reply->set_seq(req.seq());
      reply->set_type(recorded.type());
      reply->set_req_id(recorded.req_id());
      reply->set_tx_id(recorded.tx_id());
      reply->set_payload(recorded.payload());
      out_->push_back(std::move(o));
      return;
    }
    if (!as_of) {
      logger_.warn("connection {} re-sent request {} whose reply was already delivered; ignored",
                   req.conn(), req.seq());
      return;
    }
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

  Request r(req, *conn, caller_of(*conn));
  r.as_of = as_of;
  const uint64_t base = history_.next() - 1;
  pb::Outbound reply_item;
  *reply_item.mutable_reply() = run_request(r);
  if (record) {
    // The reply is recorded in the same batch as the request's effect, in the
    // connection's record, which the request rewrites anyway (applied_seq).
    conn->record.set_applied_seq(req.seq());
    pb::ReplyRecord* rec = conn->record.add_replies();
    rec->set_seq(req.seq());
    rec->set_type(reply_item.reply().type());
    rec->set_req_id(req.req_id());
    rec->set_tx_id(req.tx_id());
    rec->set_payload(reply_item.reply().payload());
    rec->set_base(base);
    connections_.save(*conn);
  }
  // The reply follows every event this connection got so far, except those meant to
  // follow the reply (a WATCH's first event).
  uint64_t preceding = conn->record.next_event_id();
  for (const auto& o : r.after_reply) {
    if (o.has_event() && o.event().conn() == conn->record.id()) --preceding;
  }
  deliver(*conn, std::move(reply_item), preceding);
  for (auto& o : r.after_reply) {
    const uint64_t target = o.has_event()     ? o.event().conn()
                            : o.has_command() ? o.command().conn()
                                              : 0;
    if (Connection* c = connections_.find(target)) {
      deliver(*c, std::move(o), c->record.next_event_id());
    } else {
      out_->push_back(std::move(o));  // a connection just closed (its CLOSE command)
    }
  }
}

void Engine::deliver(Connection& c, pb::Outbound&& item, uint64_t after) {
  if (item.has_event()) {
    const uint64_t id = item.event().event_id();
    if (c.held.empty() && c.sent_event_id + 1 == id &&
        c.sent_event_id - c.record.acked_event_id() < kEventWindow) {
      c.sent_event_id = id;
      out_->push_back(std::move(item));
    }
    return;  // otherwise send_queued_events() reads it back from cf events in its turn
  }
  if (c.held.empty() && c.sent_event_id >= after) {
    out_->push_back(std::move(item));
  } else {
    c.held.emplace_back(after, std::move(item));
  }
}

pb::Reply Engine::run_request(Request& r) {
  ++stats_.requests;
  pb::Reply reply;
  reply.set_conn(r.req.conn());
  reply.set_seq(r.req.seq());
  reply.set_req_id(r.req.req_id());
  reply.set_tx_id(r.req.tx_id());

  const size_t outbound_mark = out_->size();
  ws_->set_savepoint();
  Result<std::string> result = dispatch(r);
  if (result.is_ok() && result->size() > wire::kPayloadMax) {
    result = Status::error(E2BIG, fmt::format("reply of {} bytes", result->size()));
  }
  // What the client was answered depended on what the request observed, failure or not.
  auto log_observations = [&] {
    if (r.observations.empty()) return;
    Transaction* t = txns_.find(r.req.conn(), r.req.tx_id());
    if (t == nullptr) return;
    for (const pb::TxnLogEntry& e : r.observations) txns_.append(*ws_, *t, e);
  };
  if (!result.is_ok()) {
    ws_->rollback_to_savepoint();
    out_->resize(outbound_mark);
    for (auto& fn : r.on_failure) fn();
    log_observations();
    for (const auto& [domid, kind] : r.quota_hits) {
      pb::DomainRecord& d = domains_.get_or_create(domid);
      (*d.mutable_quota_hits())[std::string(quota_name(kind))] += 1;
      domains_.save(*ws_, domid);
    }
    const Status& s = result.status();
    if (is_routine_error(s.err())) {
      logger_.debug("{} conn {}: {} -> {}", author(r), r.req.conn(), wire::type_name(r.req.type()),
                    s.to_string());
    } else {
      logger_.info("{} conn {}: {} refused: {}", author(r), r.req.conn(),
                   wire::type_name(r.req.type()), s.to_string());
    }
    reply.set_type(wire::to_u32(MsgType::kError));
    reply.set_payload(std::string(xs_error_name(s.err())) + '\0');
    r.after_reply.clear();
    return reply;
  }
  ws_->pop_savepoint();
  log_observations();

  if (r.txn != nullptr) {
    for (const auto& [domid, delta] : r.node_delta) {
      if (delta != 0) (*r.txn->record.mutable_node_delta())[domid] += delta;
    }
    if (!r.node_delta.empty()) txns_.save(*r.txn);
  } else {
    for (const auto& [domid, delta] : r.node_delta) {
      if (delta == 0) continue;
      pb::DomainRecord& d = domains_.get_or_create(domid);
      d.set_node_count(d.node_count() + delta);
      domains_.save(*ws_, domid);
    }
  }
  if (r.txn == nullptr && (!r.changes.empty() || r.force_commit)) {
    CommitInfo info;
    info.author_domid = r.caller.domid;
    info.conn = r.req.conn();
    info.req_id = r.req.req_id();
    info.tx_id = r.req.tx_id();
    info.summary = std::move(r.summary);
    info.note = std::move(r.note);
    finish_commit(r, info, r.merged_branch);
  }
  reply.set_type(r.req.type());
  reply.set_payload(std::move(result.value()));
  return reply;
}

void Engine::finish_commit(Request& r, const CommitInfo& info, uint64_t merged) {
  history_.commit_main(*ws_, info, r.changes, now_ns(), merged);
  ++stats_.commits;
  fire_watches(r, r.changes);
  for (std::string_view name : r.specials) fire_special(r, name);
}

Result<std::string> Engine::dispatch(Request& r) {
  const uint32_t type = r.req.type();
  if (type >= wire::kTypeCount || type == wire::to_u32(MsgType::kWatchEvent) ||
      type == wire::to_u32(MsgType::kError) || type == wire::to_u32(MsgType::kRestrict)) {
    return Status::error(ENOSYS, fmt::format("unknown or unsupported message type {}", type));
  }
  if (is_privileged_only(type) && !r.caller.privileged) {
    return Status::error(EACCES,
                         fmt::format("{} is for privileged domains", wire::type_name(type)));
  }
  const bool ignores_tx =
      type == wire::to_u32(MsgType::kWatch) || type == wire::to_u32(MsgType::kUnwatch);
  if (!ignores_tx && r.req.tx_id() != 0) {
    r.txn = txns_.find(r.req.conn(), r.req.tx_id());
    if (r.txn == nullptr)
      return Status::error(ENOENT, fmt::format("no transaction {}", r.req.tx_id()));
  }
  if (r.req.has_malformed()) return Status::error(EINVAL, r.req.malformed().reason());

  switch (static_cast<MsgType>(type)) {
    case MsgType::kControl:
      return do_control(r);
    case MsgType::kDirectory:
      return do_directory(r);
    case MsgType::kRead:
      return do_read(r);
    case MsgType::kGetPerms:
      return do_get_perms(r);
    case MsgType::kWatch:
      return do_watch(r);
    case MsgType::kUnwatch:
      return do_unwatch(r);
    case MsgType::kTransactionStart:
      return do_transaction_start(r);
    case MsgType::kTransactionEnd:
      return do_transaction_end(r);
    case MsgType::kIntroduce:
      return do_introduce(r);
    case MsgType::kRelease:
      return do_release(r);
    case MsgType::kGetDomainPath:
      return do_get_domain_path(r);
    case MsgType::kWrite:
      return do_write(r);
    case MsgType::kMkdir:
      return do_mkdir(r);
    case MsgType::kRm:
      return do_rm(r);
    case MsgType::kSetPerms:
      return do_set_perms(r);
    case MsgType::kIsDomainIntroduced:
      return do_is_domain_introduced(r);
    case MsgType::kResume:
      return do_resume(r);
    case MsgType::kSetTarget:
      return do_set_target(r);
    case MsgType::kResetWatches:
      return do_reset_watches(r);
    case MsgType::kDirectoryPart:
      return do_directory_part(r);
    default:
      return Status::error(ENOSYS);
  }
}

uint32_t Engine::path_max(const Request& r) {
  return static_cast<uint32_t>(quota_limit(r.caller.domid, QuotaKind::kPathMax));
}

Result<std::string> Engine::canonical_path(Request& r, std::string_view raw) {
  const uint32_t home = r.conn.record.kind() == pb::RING ? r.conn.record.domid() : 0;
  Result<std::string> p = path::canonicalize(raw, home, path_max(r));
  if (!p.is_ok() && path::canonicalize(raw, home, UINT32_MAX).is_ok()) {
    // Valid but for its length: a refusal of the path-max quota, logged and counted as
    // any other (the answer is EINVAL all the same).
    r.quota_hits.emplace_back(r.caller.domid, QuotaKind::kPathMax);
    return refuse_quota(r.caller.domid, QuotaKind::kPathMax, EINVAL,
                        fmt::format("path of {} bytes {:.64}...", raw.size(), raw));
  }
  return p;
}

}  // namespace dxs::store
