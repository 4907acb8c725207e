#include "store/ring_stream.h"

#include "common/wire.h"

namespace dxs::store {

uint32_t place_in_ring(Connection& c, size_t payload_size) {
  if (c.record.kind() != pb::RING) return 0;
  // Wraps modulo 2^32, as the ring's indices do.
  const uint32_t end =
      c.record.ring_rsp_end() + static_cast<uint32_t>(wire::kHeaderSize + payload_size);
  c.record.set_ring_rsp_end(end);
  return end;
}

uint64_t ring_delivered(const Connection& c, const pb::Request& req) {
  uint64_t upto = c.record.replied_seq();
  for (const pb::ReplyRecord& r : c.record.replies()) {
    // Ended at or before req_cons, modulo 2^32 (the records are a ring's worth at most).
    if (static_cast<int32_t>(req.ring().consumed() - r.ring().req_end()) < 0) break;
    upto = r.seq();
  }
  return upto;
}

}  // namespace dxs::store
