#include "common/wire.h"

#include "common/message_table.h"

#include <fmt/format.h>
#include <cstring>

namespace dxs::wire {
namespace {

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store_u32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

std::string type_name(uint32_t type) {
  if (const MessageSpec* spec = find_message(type)) return std::string(spec->name);
  return fmt::format("UNKNOWN({})", type);
}

Header decode_header(const uint8_t* p) {
  return Header{load_u32(p), load_u32(p + 4), load_u32(p + 8), load_u32(p + 12)};
}

void encode_header(const Header& h, uint8_t* p) {
  store_u32(p, h.type);
  store_u32(p + 4, h.req_id);
  store_u32(p + 8, h.tx_id);
  store_u32(p + 12, h.len);
}

void append_message(std::string& out, uint32_t type, uint32_t req_id, uint32_t tx_id,
                    std::string_view payload) {
  uint8_t hdr[kHeaderSize];
  encode_header(Header{type, req_id, tx_id, static_cast<uint32_t>(payload.size())}, hdr);
  out.append(reinterpret_cast<const char*>(hdr), kHeaderSize);
  out.append(payload);
}

size_t MessageAssembler::feed(const uint8_t* data, size_t len) {
  size_t used = 0;
  if (failed_ || complete_) return 0;
  if (header_used_ < kHeaderSize) {
    size_t n = std::min(len, kHeaderSize - header_used_);
    std::memcpy(header_buf_ + header_used_, data, n);
    header_used_ += n;
    used += n;
    if (header_used_ < kHeaderSize) return used;
    current_.header = decode_header(header_buf_);
    if (current_.header.len > kPayloadMax) {
      failed_ = true;
      bad_length_ = current_.header.len;
      return used;
    }
    current_.payload.clear();
    current_.payload.reserve(current_.header.len);
    payload_used_ = 0;
  }
  size_t n = std::min(len - used, static_cast<size_t>(current_.header.len) - payload_used_);
  current_.payload.append(reinterpret_cast<const char*>(data + used), n);
  payload_used_ += n;
  used += n;
  if (payload_used_ == current_.header.len) complete_ = true;
  return used;
}

Message MessageAssembler::take() {
  Message m = std::move(current_);
  current_ = Message{};
  header_used_ = 0;
  payload_used_ = 0;
  complete_ = false;
  return m;
}

Strings split_strings(std::string_view payload) {
  Strings out;
  size_t pos = 0;
  while (pos < payload.size()) {
    size_t nul = payload.find('\0', pos);
    if (nul == std::string_view::npos) break;
    out.strings.push_back(payload.substr(pos, nul - pos));
    pos = nul + 1;
  }
  out.trailing = payload.substr(pos);
  return out;
}

std::string join_strings(const std::vector<std::string>& strings) {
  std::string out;
  for (const auto& s : strings) {
    out.append(s);
    out.push_back('\0');
  }
  return out;
}

}  // namespace dxs::wire
