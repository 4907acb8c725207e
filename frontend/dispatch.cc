#include "frontend/dispatch.h"

#include <set>

#include "frontend/request_codec.h"
#include "frontend/request_identity.h"

namespace dxs::frontend {

pb::Inbound Dispatch::open_item(uint64_t id, const Entry& e) const {
  pb::Inbound item;
  pb::OpenConnection* open = item.mutable_open();
  open->set_conn(id);
  open->set_kind(e.who.kind);
  open->set_domid(e.who.domid);
  open->set_peer_pid(e.who.pid);
  open->set_peer_uid(e.who.uid);
  open->set_peer_comm(e.who.comm);
  return item;
}

uint64_t Dispatch::new_connection_id() {
  std::lock_guard lock(mu_);
  return conn_id_base_ + next_conn_++;
}

void Dispatch::open(uint64_t id, std::shared_ptr<ClientConnection> conn,
                    const ClientIdentity& who) {
  pb::Inbound item;
  {
    std::lock_guard lock(mu_);
    Entry& e = conns_[id];
    e.conn = std::move(conn);
    e.who = who;
    item = open_item(id, e);
  }
  session_.submit(std::move(item));
}

void Dispatch::adopt(uint64_t id, std::shared_ptr<ClientConnection> conn,
                     const ClientIdentity& who) {
  std::lock_guard lock(mu_);
  Entry& e = conns_[id];
  e = Entry{};
  e.conn = std::move(conn);
  e.who = who;
  // A connection from before this frontend goes on from where the store is: its next
  // request is not mistaken for one the store has applied already.
  if (auto it = adoptable_.find(id); it != adoptable_.end()) {
    const pb::KnownConnection& k = it->second;
    e.next_seq = k.applied_seq() + 1;
    e.acked_event = k.acked_event_id();
    if (k.kind() == pb::SOCKET) {
      // Its recorded replies stay at the store until the requests after them report
      // them delivered: one may be needed again (resume_at()).
      e.replied_seq = k.replied_seq();
      e.resume = k;
    } else {
      e.replied_seq = k.applied_seq();
      for (const pb::RecordedRequest& r : k.recorded())
        e.ring_recorded.emplace_back(r.req_end(), r.seq());
    }
    adoptable_.erase(it);
  }
}

void Dispatch::resume_at(uint64_t conn, std::span<const uint64_t> head, size_t answered) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end() || !it->second.resume) return;
  Entry& e = it->second;
  const pb::KnownConnection& k = *e.resume;
  const uint64_t first = resume_seq(head, k.replied_seq(), k.applied_seq(), k.recorded());
  if (first + answered <= k.applied_seq()) {
    log_.info("{}: {} requests unconsumed, the first recorded as request {}", e.conn->describe(),
              head.size() - answered, first + answered);
  }
  // The answered ones were consumed: their replies are on their way (the outbox).
  e.next_seq = first + answered;
  if (answered > 0) e.replied_seq = e.next_seq - 1;
  e.resume.reset();
}

bool Dispatch::on_message(uint64_t conn, wire::Message&& msg, const pb::RingMark* ring) {
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
    req->set_seq(e.next_seq);
    if (e.who.kind == pb::RING && ring != nullptr) {
      *req->mutable_ring() = *ring;
      // Applied before the frontend was killed, its reply maybe already in the ring:
      // its own number, so that the store answers from the record.
      while (!e.ring_recorded.empty() &&
             static_cast<int32_t>(e.ring_recorded.front().first - ring->req_end()) < 0) {
        e.ring_recorded.pop_front();
      }
      if (!e.ring_recorded.empty() && e.ring_recorded.front().first == ring->req_end()) {
        req->set_seq(e.ring_recorded.front().second);
        e.ring_recorded.pop_front();
      }
    }
    if (req->seq() == e.next_seq) ++e.next_seq;
    req->set_replied_seq(e.replied_seq);
    if (e.who.kind != pb::RING) {
      req->set_digest(request_digest(msg.header, msg.payload));
    }
    e.unanswered.push_back(
        Unanswered{*req, static_cast<uint32_t>(wire::kHeaderSize + msg.payload.size())});
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
  on_open_failed(conn, reason);
}

void Dispatch::on_open_failed(uint64_t conn, std::string_view reason) {
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

void Dispatch::on_ring_reset(uint64_t conn, uint32_t domid) {
  pb::Inbound item;
  item.mutable_reset_ring()->set_conn(conn);
  item.mutable_reset_ring()->set_domid(domid);
  session_.submit(std::move(item));
}

void Dispatch::on_domain_states(pb::DomainStates&& states) {
  pb::Inbound item;
  *item.mutable_domain_states() = std::move(states);
  session_.submit(std::move(item));
}

std::vector<pb::Inbound> Dispatch::on_attached(const pb::Welcome& welcome) {
  std::vector<pb::Inbound> items;
  std::vector<const pb::KnownConnection*> rings;    // to serve, once unlocked
  std::vector<const pb::KnownConnection*> sockets;  // to resume, once unlocked
  std::vector<std::shared_ptr<ClientConnection>> forgotten;
  auto close_item = [](uint64_t conn, const char* reason) {
    pb::Inbound close;
    close.mutable_close()->set_conn(conn);
    close.mutable_close()->set_reason(reason);
    return close;
  };
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = conn_id_base_ == 0;
    conn_id_base_ = welcome.conn_id_base();
    next_conn_ = 1;
    std::set<uint64_t> known;
    for (const auto& k : welcome.connections()) {
      known.insert(k.conn());
      if (conns_.count(k.conn()) != 0) continue;
      if (k.kind() == pb::RING && ring_host_ != nullptr) {
        // A guest's ring from before this frontend: the ring is still there; serve it.
        rings.push_back(&k);
        adoptable_[k.conn()] = k;
      } else if (k.kind() == pb::SOCKET && first && socket_host_ != nullptr) {
        // A client of the previous frontend, whose socket may have come back.
        sockets.push_back(&k);
        adoptable_[k.conn()] = k;
      } else {
        // A connection from before this frontend (or closed while the store was away).
        items.push_back(
            close_item(k.conn(), first ? "not held by this frontend" : "closed while detached"));
      }
    }
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->second.who.kind == pb::RING && known.count(it->first) == 0) {
        // The store dropped this ring while detached (the domain went): so does the host.
        forgotten.push_back(std::move(it->second.conn));
        it = conns_.erase(it);
      } else {
        ++it;
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
      for (const Unanswered& u : e.unanswered) {
        pb::Inbound again;
        *again.mutable_request() = u.request;
        items.push_back(std::move(again));
      }
    }
    if (!first) {
      const size_t closed = static_cast<size_t>(std::count_if(
          items.begin(), items.end(), [](const pb::Inbound& i) { return i.has_close(); }));
      log_.info("session attached again: {} connections kept, {} closed, requests re-sent",
                conns_.size(), closed);
    }
  }
  for (auto& conn : forgotten) conn->close("unknown to the store");
  for (const pb::KnownConnection* k : rings)
    ring_host_->open_ring(k->conn(), k->ring(), false, k->features(), &k->ring_end());
  if (!rings.empty())
    log_.info("{} guest rings of the previous frontend served again", rings.size());
  size_t resumed = 0;
  for (const pb::KnownConnection* k : sockets) {
    if (socket_host_->resume_socket(k->conn())) {
      ++resumed;
      continue;
    }
    {
      std::lock_guard lock(mu_);
      adoptable_.erase(k->conn());
    }
    items.push_back(close_item(k->conn(), "client gone while no frontend ran"));
  }
  if (first && socket_host_ != nullptr) {
    const std::vector<uint64_t> unopened =
        socket_host_->release_unclaimed(welcome.last_socket_conn());
    std::lock_guard lock(mu_);
    for (uint64_t id : unopened) {
      if (auto it = conns_.find(id); it != conns_.end()) items.push_back(open_item(id, it->second));
    }
  }
  if (!sockets.empty()) {
    log_.info("{} socket connections of the previous frontend resumed, {} gone", resumed,
              sockets.size() - resumed);
  }
  // Domains may have died while no frontend was attached: the store hears of every one.
  if (ring_host_ != nullptr) {
    if (std::optional<pb::DomainStates> states = ring_host_->domain_states()) {
      pb::Inbound item;
      *item.mutable_domain_states() = std::move(*states);
      items.push_back(std::move(item));
    }
  }
  return items;
}

void Dispatch::run_command(const pb::ConnectionCommand& command) {
  switch (command.action()) {
    case pb::ConnectionCommand::OPEN_RING:
      if (ring_host_ != nullptr) {
        ring_host_->open_ring(command.conn(), command.ring(), command.reset(), command.features(),
                              nullptr);
        return;
      }
      log_.warn(
          "the store asks to serve the ring of domain {}, but this frontend serves no rings "
          "(start it with --xen)",
          command.ring().domid());
      on_open_failed(command.conn(), "this frontend serves no rings");
      return;
    case pb::ConnectionCommand::CLOSE: {
      std::shared_ptr<ClientConnection> conn;
      {
        std::lock_guard lock(mu_);
        auto it = conns_.find(command.conn());
        if (it == conns_.end()) return;
        conn = std::move(it->second.conn);
        conns_.erase(it);
      }
      log_.info("store closes {}: {}", conn->describe(), command.reason());
      conn->close(command.reason());
      return;
    }
    default:
      log_.warn("unknown command {} from the store for connection {}; ignored",
                static_cast<int>(command.action()), command.conn());
  }
}

void Dispatch::on_response(pb::SessionResponse& response) {
  for (pb::Outbound& o : *response.mutable_items()) {
    std::shared_ptr<ClientConnection> conn;
    Outgoing out;
    bool resume = false;
    switch (o.item_case()) {
      case pb::Outbound::kReply: {
        const pb::Reply& reply = o.reply();
        std::lock_guard lock(mu_);
        auto it = conns_.find(reply.conn());
        if (it == conns_.end()) continue;  // the client left
        Entry& e = it->second;
        if (e.unanswered.empty() || e.unanswered.front().request.seq() != reply.seq())
          continue;  // a duplicate
        out.req_end = e.unanswered.front().request.ring().req_end();
        if (e.who.kind == pb::SOCKET) out.consume = e.unanswered.front().wire_size;
        e.unanswered.pop_front();
        e.replied_seq = reply.seq();
        if (e.reading_paused && e.unanswered.size() < options_.max_in_flight / 2) {
          e.reading_paused = false;
          resume = true;
        }
        conn = e.conn;
        out.is_reply = true;
        out.rsp_end = reply.rsp_end();
        codec::append_reply(out.bytes, reply);
        break;
      }
      case pb::Outbound::kEvent: {
        std::lock_guard lock(mu_);
        auto it = conns_.find(o.event().conn());
        if (it == conns_.end()) continue;
        conn = it->second.conn;
        out.event_id = o.event().event_id();
        out.rsp_end = o.event().rsp_end();
        codec::append_event(out.bytes, o.event());
        break;
      }
      case pb::Outbound::kCommand:
        run_command(o.command());
        continue;
      case pb::Outbound::ITEM_NOT_SET:
        continue;
    }
    conn->send(std::move(out));
    if (resume) conn->resume_reading();
  }
}

size_t Dispatch::connection_count() {
  std::lock_guard lock(mu_);
  return conns_.size();
}

}  // namespace dxs::frontend
