#include <doctest/doctest.h>

#include "common/wire.h"

TEST_CASE("a header round-trips") {
  uint8_t buf[dxs::wire::kHeaderSize];
  dxs::wire::encode_header({11, 2, 3, 4}, buf);
  auto h = dxs::wire::decode_header(buf);
  CHECK(h.type == 11);
  CHECK(h.req_id == 2);
  CHECK(h.tx_id == 3);
  CHECK(h.len == 4);
}
