#include "engine_fixture.h"

#include <doctest/doctest.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/xs_error.h"
#include "frontend/request_codec.h"
#include "store/history.h"
#include "store/node.h"

namespace dxs::testing {

std::string args(std::initializer_list<std::string_view> strings) {
  std::string out;
  for (auto s : strings) {
    out.append(s);
    out.push_back('\0');
  }
  return out;
}

std::string write_payload(std::string_view path, std::string_view value) {
  std::string p(path);
  p.push_back('\0');
  p.append(value);
  return p;
}

std::string Answer::error() const {
  if (ok()) return "";
  std::string s = payload;
  if (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

EngineFixture::EngineFixture(store::EngineOptions options)
    : options_(options), next_conn_(uint64_t{1} << 40) {
  const char* base = std::getenv("DXS_TEST_TMP");
  std::string tmpl = std::string(base ? base : "/tmp") + "/dxs-engine.XXXXXX";
  char* made = mkdtemp(tmpl.data());
  REQUIRE(made != nullptr);
  dir_ = made;
  restart();
}

EngineFixture::~EngineFixture() {
  engine_.reset();
  db_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void EngineFixture::restart(const store::EngineOptions& options) {
  options_ = options;
  restart();
}

void EngineFixture::restart() {
  engine_.reset();
  db_.reset();
  store::DbOptions db_options;
  db_options.dir = dir_ + "/state";
  auto db = store::Db::open(db_options, log_);
  REQUIRE(db.is_ok());
  db_ = std::move(db.value());
  auto engine = store::Engine::open(*db_, options_, log_);
  REQUIRE(engine.is_ok());
  engine_ = std::move(engine.value());
}

void EngineFixture::route(std::vector<pb::Outbound>& out, uint64_t conn, Answer* answer,
                          bool fresh) {
  if (fresh) last_outbound_.clear();
  std::vector<uint64_t> to_ack;
  for (auto& o : out) {
    if (o.has_reply()) {
      const pb::Reply& r = o.reply();
      Answer a{r.type(), r.payload()};
      last_outbound_.push_back(
          fmt::format("reply {} {}", r.conn(), a.ok() ? std::string("OK") : a.error()));
      if (answer != nullptr && r.conn() == conn) *answer = std::move(a);
      sent_[r.conn()].push_back(o);
    } else if (o.has_event()) {
      const pb::WatchEvent& e = o.event();
      events_[e.conn()].push_back(e.path() + "|" + e.token());
      last_outbound_.push_back(fmt::format("event {} {}|{}", e.conn(), e.path(), e.token()));
      last_event_id_[e.conn()] = e.event_id();
      sent_[e.conn()].push_back(o);
      if (!no_ack_[e.conn()] && std::find(to_ack.begin(), to_ack.end(), e.conn()) == to_ack.end()) {
        to_ack.push_back(e.conn());
      }
    } else if (o.has_command()) {
      last_outbound_.push_back(
          fmt::format("command {} {}", o.command().conn(),
                      pb::ConnectionCommand::Action_Name(o.command().action())));
      const pb::ConnectionCommand& cmd = o.command();
      commands_[cmd.conn()].push_back(cmd);
      if (cmd.action() == pb::ConnectionCommand::OPEN_RING) {
        ring_of_[cmd.ring().domid()] = cmd.conn();
      } else if (cmd.action() == pb::ConnectionCommand::CLOSE) {
        std::erase_if(ring_of_, [&](const auto& entry) { return entry.second == cmd.conn(); });
      }
    }
  }
  // The frontend acknowledges events once written to the client; the store then sends
  // what it held back beyond its window (store::kEventWindow).
  for (uint64_t c : to_ack) ack_all(c);
}

void EngineFixture::set_auto_ack(uint64_t conn, bool on) {
  no_ack_[conn] = !on;
}

void EngineFixture::ack_all(uint64_t conn) {
  auto it = last_event_id_.find(conn);
  if (it == last_event_id_.end()) return;
  google::protobuf::RepeatedPtrField<pb::Inbound> ack;
  pb::EventAck* a = ack.Add()->mutable_event_ack();
  a->set_conn(conn);
  a->set_event_id(it->second);
  std::vector<pb::Outbound> out;
  engine_->apply(ack, out);
  route(out, 0, nullptr, false);
}

uint64_t EngineFixture::open_socket(int32_t pid, uint32_t uid, std::string_view comm) {
  const uint64_t id = next_conn_++;
  google::protobuf::RepeatedPtrField<pb::Inbound> items;
  pb::OpenConnection* open = items.Add()->mutable_open();
  open->set_conn(id);
  open->set_kind(pb::SOCKET);
  open->set_peer_pid(pid);
  open->set_peer_uid(uid);
  open->set_peer_comm(std::string(comm));
  std::vector<pb::Outbound> out;
  engine_->apply(items, out);
  return id;
}

uint64_t EngineFixture::open_domain(uint32_t domid) {
  if (auto it = ring_of_.find(domid); it != ring_of_.end()) return it->second;
  REQUIRE(introduce(domid) == "");
  auto it = ring_of_.find(domid);
  REQUIRE_MESSAGE(it != ring_of_.end(), "no OPEN_RING for domain ", domid);
  return it->second;
}

void EngineFixture::close(uint64_t conn) {
  pb::Inbound item;
  item.mutable_close()->set_conn(conn);
  inbound(item);
  std::erase_if(ring_of_, [&](const auto& entry) { return entry.second == conn; });
}

void EngineFixture::inbound(const pb::Inbound& item) {
  google::protobuf::RepeatedPtrField<pb::Inbound> items;
  *items.Add() = item;
  std::vector<pb::Outbound> out;
  engine_->apply(items, out);
  route(out, 0, nullptr);
}

void EngineFixture::domain_states(
    std::initializer_list<std::pair<uint32_t, pb::DomainState::State>> domains) {
  pb::Inbound item;
  item.mutable_domain_states();  // an empty list too: no domain exists
  for (const auto& [domid, state] : domains) {
    pb::DomainState* d = item.mutable_domain_states()->add_domains();
    d->set_domid(domid);
    d->set_state(state);
  }
  inbound(item);
}

void EngineFixture::reset_ring(uint64_t conn, uint32_t domid) {
  pb::Inbound item;
  item.mutable_reset_ring()->set_conn(conn);
  item.mutable_reset_ring()->set_domid(domid);
  inbound(item);
}

std::vector<pb::Outbound> EngineFixture::take_sent(uint64_t conn) {
  std::vector<pb::Outbound> out;
  out.swap(sent_[conn]);
  return out;
}

Answer EngineFixture::call(uint64_t conn, wire::MsgType type, std::string_view payload,
                           uint32_t tx_id) {
  std::optional<Answer> answer = send(conn, ++next_seq_[conn], type, payload, tx_id);
  REQUIRE_MESSAGE(answer.has_value(), "no reply");
  return *answer;
}

std::optional<Answer> EngineFixture::submit(uint64_t conn, wire::MsgType type,
                                            std::string_view payload, uint32_t tx_id) {
  return send(conn, ++next_seq_[conn], type, payload, tx_id);
}

void EngineFixture::lift_holds(int64_t now) {
  std::vector<pb::Outbound> out;
  engine_->lift_expired_holds(now, out);
  route(out, 0, nullptr);
}

std::optional<Answer> EngineFixture::resend(uint64_t conn, uint64_t seq, wire::MsgType type,
                                            std::string_view payload, uint32_t tx_id) {
  return send(conn, seq, type, payload, tx_id);
}

std::optional<Answer> EngineFixture::send(uint64_t conn, uint64_t seq, wire::MsgType type,
                                          std::string_view payload, uint32_t tx_id) {
  wire::Message msg;
  msg.header = wire::Header{wire::to_u32(type), 77, tx_id, static_cast<uint32_t>(payload.size())};
  msg.payload.assign(payload);
  google::protobuf::RepeatedPtrField<pb::Inbound> items;
  pb::Request* req = items.Add()->mutable_request();
  codec::decode_request(msg, *req);
  req->set_conn(conn);
  req->set_seq(seq);
  const bool ring = std::any_of(ring_of_.begin(), ring_of_.end(),
                                [&](const auto& entry) { return entry.second == conn; });
  if (ring) {
    auto& ends = req_end_[conn];
    if (!ends.contains(seq)) {
      const uint32_t last = ends.empty() ? 0 : ends.rbegin()->second;
      ends[seq] = last + static_cast<uint32_t>(wire::kHeaderSize + payload.size());
    }
    req->mutable_ring()->set_req_end(ends[seq]);
    // As the frontend reports it: every earlier request consumed, its reply in the ring.
    if (report_delivered_ && ends.contains(seq - 1))
      req->mutable_ring()->set_consumed(ends[seq - 1]);
  }
  if (report_delivered_ && seq > 1) req->set_replied_seq(seq - 1);
  std::vector<pb::Outbound> out;
  engine_->apply(items, out);
  Answer answer;
  answer.type = 0xffffffff;
  route(out, conn, &answer);
  if (answer.type == 0xffffffff) return std::nullopt;
  return answer;
}

std::string EngineFixture::ok(uint64_t conn, wire::MsgType type, std::string_view payload,
                              uint32_t tx_id) {
  Answer a = call(conn, type, payload, tx_id);
  INFO(wire::type_name(wire::to_u32(type)), " ", std::string(payload), " -> ", a.error());
  REQUIRE(a.ok());
  return a.payload;
}

std::string EngineFixture::err(uint64_t conn, wire::MsgType type, std::string_view payload,
                               uint32_t tx_id) {
  Answer a = call(conn, type, payload, tx_id);
  INFO(wire::type_name(wire::to_u32(type)), " ", std::string(payload), " unexpectedly succeeded");
  REQUIRE(!a.ok());
  return a.error();
}

void EngineFixture::write(uint64_t conn, std::string_view path, std::string_view value,
                          uint32_t tx) {
  std::string payload(path);
  payload.push_back('\0');
  payload.append(value);
  ok(conn, wire::MsgType::kWrite, payload, tx);
}

std::string EngineFixture::read(uint64_t conn, std::string_view path, uint32_t tx) {
  return ok(conn, wire::MsgType::kRead, args({path}), tx);
}

std::vector<std::string> EngineFixture::directory(uint64_t conn, std::string_view path,
                                                  uint32_t tx) {
  std::string payload = ok(conn, wire::MsgType::kDirectory, args({path}), tx);
  std::vector<std::string> names;
  wire::Strings s = wire::split_strings(payload);
  for (auto n : s.strings) names.emplace_back(n);
  return names;
}

uint32_t EngineFixture::start(uint64_t conn) {
  std::string id = ok(conn, wire::MsgType::kTransactionStart, args({""}));
  return static_cast<uint32_t>(std::stoul(id));
}

std::string EngineFixture::commit(uint64_t conn, uint32_t tx) {
  return call(conn, wire::MsgType::kTransactionEnd, args({"T"}), tx).error();
}

std::vector<std::string> EngineFixture::events(uint64_t conn) {
  std::vector<std::string> out;
  out.swap(events_[conn]);
  return out;
}

std::vector<pb::ConnectionCommand> EngineFixture::commands(uint64_t conn) {
  std::vector<pb::ConnectionCommand> out;
  out.swap(commands_[conn]);
  return out;
}

}  // namespace dxs::testing

namespace dxs::testing {

uint64_t EngineFixture::admin() {
  if (admin_ == 0) admin_ = open_socket();
  return admin_;
}

std::string EngineFixture::introduce(uint32_t domid) {
  return call(admin(), wire::MsgType::kIntroduce, args({std::to_string(domid), "1", "1"})).error();
}

std::string EngineFixture::control(std::initializer_list<std::string_view> arguments) {
  Answer a = call(admin(), wire::MsgType::kControl, args(arguments));
  if (!a.ok()) return a.error();
  std::string s = a.payload;
  if (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

namespace {

// The figure on the line "<name> : <figure>[ refused]" of `control quota <domid>`.
int64_t quota_figure(const std::string& out, std::string_view name, bool refused) {
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    const std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if ((line.find("refused") != std::string::npos) != refused) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    if (key == name) return std::stoll(line.substr(colon + 1));
  }
  return 0;
}

}  // namespace

int64_t EngineFixture::usage(uint32_t domid, std::string_view name) {
  const std::string out = control({"quota", std::to_string(domid)});
  return out == "ENOENT" ? -1 : quota_figure(out, name, false);
}

int64_t EngineFixture::refusals(uint32_t domid, std::string_view quota) {
  const std::string out = control({"quota", std::to_string(domid)});
  return out == "ENOENT" ? -1 : quota_figure(out, quota, true);
}

std::vector<std::string> EngineFixture::get_perms(uint64_t conn, std::string_view path,
                                                  uint32_t tx) {
  std::string payload = ok(conn, wire::MsgType::kGetPerms, args({path}), tx);
  std::vector<std::string> out;
  for (auto p : wire::split_strings(payload).strings) out.emplace_back(p);
  return out;
}

void EngineFixture::set_perms(uint64_t conn, std::string_view path,
                              std::initializer_list<std::string_view> perms, uint32_t tx) {
  std::string payload(path);
  payload.push_back('\0');
  for (auto p : perms) {
    payload.append(p);
    payload.push_back('\0');
  }
  ok(conn, wire::MsgType::kSetPerms, payload, tx);
}

std::string EngineFixture::tree_dump() {
  std::string out;
  auto it = db_->iterate(store::Cf::kNodes);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::NodeRecord rec;
    REQUIRE(rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    const store::Node n = store::node_from_record(rec);
    out += fmt::format(
        "{} [{}] {} ({} children)\n",
        store::keys::path_of_node_key(std::string_view(it->key().data(), it->key().size())),
        format_perms(n.perms), store::abbreviate_value(n.value), n.child_count);
  }
  return out;
}

std::map<uint64_t, pb::CommitRecord> EngineFixture::commits() {
  std::map<uint64_t, pb::CommitRecord> out;
  auto it = db_->iterate(store::Cf::kCommits);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::CommitRecord rec;
    REQUIRE(rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    out[store::keys::load_be64(std::string_view(it->key().data(), 8))] = std::move(rec);
  }
  return out;
}

}  // namespace dxs::testing
