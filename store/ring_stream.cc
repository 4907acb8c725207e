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

}  // namespace dxs::store
