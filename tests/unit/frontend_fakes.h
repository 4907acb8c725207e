// Stand-ins for the frontend's neighbours in unit tests: a SessionLink that records what
// would reach the store, and a ClientConnection that records what the dispatch does to it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frontend/client_connection.h"
#include "frontend/session_link.h"

namespace dxs::testing {

class RecordingLink final : public frontend::SessionLink {
 public:
  void submit(pb::Inbound&& item) override { items.push_back(std::move(item)); }

  // The requests submitted so far, in order.
  std::vector<pb::Request> requests() const {
    std::vector<pb::Request> out;
    for (const auto& i : items) {
      if (i.has_request()) out.push_back(i.request());
    }
    return out;
  }
  size_t count(pb::Inbound::ItemCase which) const {
    size_t n = 0;
    for (const auto& i : items) n += i.item_case() == which;
    return n;
  }

  std::vector<pb::Inbound> items;
};

class RecordingConnection final : public frontend::ClientConnection {
 public:
  void send(frontend::Outgoing&& out) override {
    sent.emplace_back(std::move(out.bytes), out.event_id);
    marks.push_back({out.rsp_end, out.req_end, out.is_reply, out.consume});
  }
  void resume_reading() override { ++resumed; }
  void close(std::string_view reason) override { closed.emplace_back(reason); }
  std::string describe() const override { return "test client"; }

  std::vector<std::pair<std::string, uint64_t>> sent;  // (bytes, event id)
  struct Marks {
    uint32_t rsp_end, req_end;
    bool is_reply;
    uint32_t consume;
  };
  std::vector<Marks> marks;  // ring marks and consumption of each send, in order
  int resumed = 0;
  std::vector<std::string> closed;
};

// A reply from the store to request `seq` of `conn`.
inline pb::Outbound reply_to(uint64_t conn, uint64_t seq, uint32_t req_id, std::string payload) {
  pb::Outbound o;
  pb::Reply* r = o.mutable_reply();
  r->set_conn(conn);
  r->set_seq(seq);
  r->set_type(2);  // READ
  r->set_req_id(req_id);
  r->set_payload(std::move(payload));
  return o;
}

inline pb::Outbound event_for(uint64_t conn, uint64_t event_id, std::string path,
                              std::string token) {
  pb::Outbound o;
  pb::WatchEvent* e = o.mutable_event();
  e->set_conn(conn);
  e->set_event_id(event_id);
  e->set_path(std::move(path));
  e->set_token(std::move(token));
  return o;
}

}  // namespace dxs::testing
