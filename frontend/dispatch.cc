#include "frontend/dispatch.h"

#include <set>

#include "frontend/request_codec.h"

namespace dxs::frontend {

pb::Inbound Dispatch::open_item(uint64_t id, const Entry& e) const {
  pb::Inbound item;
  pb::OpenConnection* open = item.mutable_open();
  open->set_conn(id);
  open->set_kind(e.who.kind);
  open->set_domid(e.who.domid);
  open->set_peer_pid(e.who.pid);
  open->set_peer_uid(e.who.uid);
  return item;
}

uint64_t Dispatch::open(std::shared_ptr<ClientConnection> conn, const ClientIdentity& who) {
  pb::Inbound item;
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = conn_id_base_ + next_conn_++;
    Entry& e = conns_[id];
    e.conn = std::move(conn);
    e.who = who;
    item = open_item(id, e);
  }
  session_.submit(std::move(item));
  return id;
}

bool Dispatch::on_message(uint64_t conn, wire::Message&& msg) {
  pb::Inbound item;
  bool keep_reading = true;
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(conn);
    if (it == conns_.end()) return false;
    Entry& e = it->second;
    pb::Request* req = item.mutable_request();
    codec::decode_request(msg, *req);
    req->set_conn(conn);
    req->set_seq(e.next_seq++);
    req->set_replied_seq(e.replied_seq);
    e.unanswered.push_back(*req);
    if (e.unanswered.size() >= options_.max_in_flight) {
      e.reading_paused = true;
      keep_reading = false;
    }
  }
  session_.submit(std::move(item));
  return keep_reading;
}

void Dispatch::on_closed(uint64_t conn, std::string_view reason) {
  {
    std::lock_guard lock(mu_);
    if (conns_.erase(conn) == 0) return;
  }
  pb::Inbound item;
  item.mutable_close()->set_conn(conn);
  item.mutable_close()->set_reason(std::string(reason));
  session_.submit(std::move(item));
}

void Dispatch::on_event_written(uint64_t conn, uint64_t event_id) {
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(conn);
    if (it == conns_.end() || event_id <= it->second.acked_event) return;
    it->second.acked_event = event_id;
  }
  pb::Inbound item;
  item.mutable_event_ack()->set_conn(conn);
  item.mutable_event_ack()->set_event_id(event_id);
  session_.submit(std::move(item));
}

std::vector<pb::Inbound> Dispatch::on_attached(const pb::Welcome& welcome) {
  std::vector<pb::Inbound> items;
  std::lock_guard lock(mu_);
  const bool first = conn_id_base_ == 0;
  conn_id_base_ = welcome.conn_id_base();
  next_conn_ = 1;
  std::set<uint64_t> known;
  for (const auto& k : welcome.connections()) {
    known.insert(k.conn());
    if (conns_.count(k.conn()) == 0) {
      // A connection from before this frontend (or closed while the store was away).
      pb::Inbound close;
      close.mutable_close()->set_conn(k.conn());
      close.mutable_close()->set_reason(first ? "not held by this frontend"
                                              : "closed while detached");
      items.push_back(std::move(close));
    }
  }
  for (auto& [id, e] : conns_) {
    if (known.count(id) == 0) items.push_back(open_item(id, e));
    if (e.acked_event != 0) {
      pb::Inbound ack;
      ack.mutable_event_ack()->set_conn(id);
      ack.mutable_event_ack()->set_event_id(e.acked_event);
      items.push_back(std::move(ack));
    }
    for (const pb::Request& r : e.unanswered) {
      pb::Inbound again;
      *again.mutable_request() = r;
      items.push_back(std::move(again));
    }
  }
  if (!first) {
    log_.info("session attached again: {} connections kept, {} closed, requests re-sent",
              conns_.size(), welcome.connections_size() > 0 ? items.size() : 0);
  }
  return items;
}

void Dispatch::on_response(pb::SessionResponse& response) {
  for (pb::Outbound& o : *response.mutable_items()) {
    std::shared_ptr<ClientConnection> conn;
    std::string bytes;
    bool resume = false;
    uint64_t event_id = 0;
    switch (o.item_case()) {
      case pb::Outbound::kReply: {
        const pb::Reply& reply = o.reply();
        std::lock_guard lock(mu_);
        auto it = conns_.find(reply.conn());
        if (it == conns_.end()) continue;  // the client left
        Entry& e = it->second;
        if (e.unanswered.empty() || e.unanswered.front().seq() != reply.seq())
          continue;  // a duplicate
        e.unanswered.pop_front();
        e.replied_seq = reply.seq();
        if (e.reading_paused && e.unanswered.size() < options_.max_in_flight / 2) {
          e.reading_paused = false;
          resume = true;
        }
        conn = e.conn;
        codec::append_reply(bytes, reply);
        break;
      }
      case pb::Outbound::kEvent: {
        std::lock_guard lock(mu_);
        auto it = conns_.find(o.event().conn());
        if (it == conns_.end()) continue;
        conn = it->second.conn;
        event_id = o.event().event_id();
        codec::append_event(bytes, o.event());
        break;
      }
      case pb::Outbound::kCommand: {
        std::lock_guard lock(mu_);
        auto it = conns_.find(o.command().conn());
        if (it == conns_.end()) continue;
        conn = it->second.conn;
        conns_.erase(it);
        break;
      }
      case pb::Outbound::ITEM_NOT_SET:
        continue;
    }
    if (o.has_command()) {
      log_.info("store closes {}: {}", conn->describe(), o.command().reason());
      conn->close(o.command().reason());
      continue;
    }
    conn->send(std::move(bytes), event_id);
    if (resume) conn->resume_reading();
  }
}

size_t Dispatch::connection_count() {
  std::lock_guard lock(mu_);
  return conns_.size();
}

}  // namespace dxs::frontend
