#include "frontend/request_codec.h"

#include "common/message_table.h"

namespace dxs::codec {
namespace {

// One NUL-terminated string filling the whole payload (xenstored's onearg()).
bool is_one_arg(std::string_view payload) {
  return !payload.empty() && payload.find('\0') == payload.size() - 1;
}

void set_malformed(pb::Request& out, const char* reason) {
  out.mutable_malformed()->set_reason(reason);
}

void set_strings(pb::Request& out, const wire::Strings& s) {
  auto* args = out.mutable_strings();
  for (auto str : s.strings) args->add_strings(str.data(), str.size());
  if (!s.trailing.empty()) args->set_trailing(s.trailing.data(), s.trailing.size());
}

}  // namespace

void decode_request(const wire::Message& msg, pb::Request& out) {
  const std::string_view payload = msg.payload;
  out.set_type(msg.header.type);
  out.set_req_id(msg.header.req_id);
  out.set_tx_id(msg.header.tx_id);

  const wire::MessageSpec* spec = wire::find_message(msg.header.type);
  switch (spec == nullptr ? wire::Payload::kNotRequest : spec->payload) {
    case wire::Payload::kPath:
      if (!is_one_arg(payload)) {
        set_malformed(out, "payload is not exactly one NUL-terminated path");
        return;
      }
      out.mutable_path()->set_path(payload.data(), payload.size() - 1);
      return;

    case wire::Payload::kPathValue: {
      size_t nul = payload.find('\0');
      if (nul == std::string_view::npos) {
        set_malformed(out, "no NUL after the path");
        return;
      }
      auto* w = out.mutable_write();
      w->set_path(payload.data(), nul);
      w->set_value(payload.data() + nul + 1, payload.size() - nul - 1);
      return;
    }

    case wire::Payload::kPathPerms: {
      wire::Strings s = wire::split_strings(payload);
      if (s.strings.size() < 2) {
        set_malformed(out, "SET_PERMS needs a path and at least one permission");
        return;
      }
      auto* sp = out.mutable_set_perms();
      sp->set_path(s.strings[0].data(), s.strings[0].size());
      for (size_t i = 1; i < s.strings.size(); ++i) {
        sp->add_perms(s.strings[i].data(), s.strings[i].size());
      }
      return;
    }

    case wire::Payload::kPathToken: {
      wire::Strings s = wire::split_strings(payload);
      if (s.strings.size() < 2) {
        set_malformed(out, "watch needs a path and a token");
        return;
      }
      auto* w = out.mutable_watch();
      w->set_path(s.strings[0].data(), s.strings[0].size());
      w->set_token(s.strings[1].data(), s.strings[1].size());
      for (size_t i = 2; i < s.strings.size(); ++i) {
        w->add_extra(s.strings[i].data(), s.strings[i].size());
      }
      return;
    }

    case wire::Payload::kStrings:
      // Their number is the store's to check (the message table's arity).
      set_strings(out, wire::split_strings(payload));
      return;

    case wire::Payload::kRaw:
    case wire::Payload::kNotRequest:
      out.mutable_unparsed()->set_payload(payload.data(), payload.size());
      return;
  }
}

void append_reply(std::string& out, const pb::Reply& reply) {
  wire::append_message(out, reply.type(), reply.req_id(), reply.tx_id(), reply.payload());
}

void append_event(std::string& out, const pb::WatchEvent& event) {
  std::string payload;
  payload.reserve(event.path().size() + event.token().size() + 2);
  payload.append(event.path());
  payload.push_back('\0');
  payload.append(event.token());
  payload.push_back('\0');
  wire::append_message(out, wire::to_u32(wire::MsgType::kWatchEvent), 0, 0, payload);
}

}  // namespace dxs::codec
