#include "frontend/request_identity.h"

#include <cstring>

namespace dxs::frontend {

namespace {

// FNV-1a over 64-bit little-endian words, then a final mix (splitmix64's): stable,
// dependency-free, and a few nanoseconds for a typical request. The clients are dom0's
// own tools, so collisions need only be unlikely, not hard to make.
constexpr uint64_t kPrime = 0x100000001b3ULL;

uint64_t mix_bytes(uint64_t h, const unsigned char* p, size_t n) {
  while (n >= 8) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; --i) w = (w << 8) | p[i];
    h = (h ^ w) * kPrime;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  for (size_t i = n; i > 0; --i) w = (w << 8) | p[i - 1];
  return (h ^ w ^ (uint64_t{n} << 56)) * kPrime;
}

uint64_t finish(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace

uint64_t request_digest(const wire::Header& header, std::string_view payload) {
  unsigned char head[wire::kHeaderSize];
  const uint32_t fields[] = {header.type, header.req_id, header.tx_id, header.len};
  for (size_t f = 0; f < 4; ++f) {
    for (size_t b = 0; b < 4; ++b)
      head[f * 4 + b] = static_cast<unsigned char>(fields[f] >> (8 * b));
  }
  uint64_t h = 0xcbf29ce484222325ULL;
  h = mix_bytes(h, head, sizeof head);
  h = mix_bytes(h, reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  return finish(h);
}

uint64_t resume_seq(std::span<const uint64_t> head, uint64_t replied_seq, uint64_t applied_seq,
                    const google::protobuf::RepeatedPtrField<pb::RecordedRequest>& recorded) {
  auto fits = [&](uint64_t s) {
    for (const pb::RecordedRequest& r : recorded) {
      if (r.seq() < s) continue;
      const uint64_t at = r.seq() - s;
      if (at >= head.size() || head[at] != r.digest()) return false;
    }
    return true;
  };
  // Only where a recorded request's digest is found can the head begin before
  // applied_seq: those places, in increasing order of the start they imply.
  uint64_t best = applied_seq + 1;
  for (const pb::RecordedRequest& r : recorded) {
    for (size_t at = 0; at < head.size(); ++at) {
      if (head[at] != r.digest() || r.seq() < at + 1) continue;
      const uint64_t s = r.seq() - at;
      if (s > replied_seq && s < best && fits(s)) best = s;
    }
  }
  return best;
}

size_t answered_at_head(std::string_view pending, std::span<const wire::Header> head) {
  size_t replies = 0;
  size_t at = 0;
  while (at < pending.size()) {
    if (pending.size() - at < wire::kHeaderSize) return 0;
    const wire::Header h =
        wire::decode_header(reinterpret_cast<const uint8_t*>(pending.data()) + at);
    if (h.len > wire::kPayloadMax || pending.size() - at - wire::kHeaderSize < h.len) return 0;
    at += wire::kHeaderSize + h.len;
    if (h.type == wire::to_u32(wire::MsgType::kWatchEvent)) continue;
    if (replies >= head.size()) return 0;
    const wire::Header& req = head[replies];
    if (h.req_id != req.req_id || h.tx_id != req.tx_id ||
        (h.type != req.type && h.type != wire::to_u32(wire::MsgType::kError))) {
      return 0;
    }
    ++replies;
  }
  return replies;
}

}  // namespace dxs::frontend
