// store/snapshot_reads: the Ops API's reads, off the engine's lock, answer exactly what
// the engine answers dom0, and see one committed state.
#include "store/snapshot_reads.h"

#include <doctest/doctest.h>

#include "frontend/request_codec.h"
#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;
namespace pb = dxs::pb;
namespace store = dxs::store;

namespace {

pb::Request request(MsgType type, std::string_view payload, uint32_t tx_id = 0) {
  dxs::wire::Message msg;
  msg.header.type = dxs::wire::to_u32(type);
  msg.header.req_id = 7;
  msg.header.tx_id = tx_id;
  msg.payload = std::string(payload);
  msg.header.len = static_cast<uint32_t>(payload.size());
  pb::Request req;
  dxs::codec::decode_request(msg, req);
  return req;
}

// What the snapshot read answers, as "type:payload", and what the engine answers dom0.
std::pair<std::string, std::string> both(EngineFixture& f, uint64_t conn, MsgType type,
                                         std::string_view payload) {
  const pb::Reply r = store::read_from_snapshot(f.db(), request(type, payload));
  CHECK(r.req_id() == 7);
  const auto a = f.call(conn, type, payload);
  return {std::to_string(r.type()) + ":" + r.payload(), std::to_string(a.type) + ":" + a.payload};
}

}  // namespace

TEST_CASE("the four reads answer from the snapshot what the engine answers dom0") {
  EngineFixture f;
  const uint64_t c = f.open_socket();
  f.write(c, "/a/b", "value");
  f.write(c, "/a/c", std::string(300, 'x'));
  for (int i = 0; i < 400; ++i)
    f.write(c, "/big/child-with-a-longish-name-" + std::to_string(i), "");
  f.set_perms(c, "/a/b", {"b7", "r3"});
  const std::vector<std::pair<MsgType, std::string>> reads = {
      {MsgType::kRead, args({"/a/b"})},
      {MsgType::kRead, args({"/a/c"})},
      {MsgType::kRead, args({"/a"})},
      {MsgType::kRead, args({"/missing"})},
      {MsgType::kRead, args({"/a/missing/deeper"})},
      {MsgType::kRead, args({"no/such/relative"})},
      {MsgType::kRead, args({"/bad//path"})},
      {MsgType::kRead, "/no-nul"},
      {MsgType::kGetPerms, args({"/a/b"})},
      {MsgType::kGetPerms, args({"/"})},
      {MsgType::kDirectory, args({"/"})},
      {MsgType::kDirectory, args({"/a"})},
      {MsgType::kDirectory, args({"/a/b"})},
      {MsgType::kDirectory, args({"/big"})},  // over 4096 bytes: E2BIG
      {MsgType::kDirectoryPart, args({"/big", "0"})},
      {MsgType::kDirectoryPart, args({"/big", "4000"})},
      {MsgType::kDirectoryPart, args({"/big", "999999"})},
      {MsgType::kDirectoryPart, args({"/big", "x"})},
      {MsgType::kDirectoryPart, args({"/big"})},
  };
  for (const auto& [type, payload] : reads) {
    CAPTURE(payload);
    auto [snapshot, engine] = both(f, c, type, payload);
    CHECK(snapshot == engine);
  }
}

TEST_CASE("only reads outside a transaction are snapshot reads") {
  CHECK(store::is_snapshot_read(request(MsgType::kRead, args({"/a"}))));
  CHECK(store::is_snapshot_read(request(MsgType::kDirectoryPart, args({"/a", "0"}))));
  CHECK_FALSE(store::is_snapshot_read(request(MsgType::kRead, args({"/a"}), 3)));
  CHECK_FALSE(store::is_snapshot_read(request(MsgType::kWrite, args({"/a", "v"}))));
  CHECK_FALSE(store::is_snapshot_read(request(MsgType::kWatch, args({"/a", "t"}))));
}

TEST_CASE("a snapshot is one committed state, whatever is committed after it") {
  EngineFixture f;
  const uint64_t c = f.open_socket();
  f.write(c, "/k", "before");
  store::DbSnapshot snapshot(f.db());
  f.write(c, "/k", "after");
  f.write(c, "/new", "");
  store::CurrentNodes then(snapshot);
  REQUIRE(then.get("/k").has_value());
  CHECK(then.get("/k")->value == "before");
  CHECK_FALSE(then.get("/new").has_value());
  const pb::Reply now = store::read_from_snapshot(f.db(), request(MsgType::kRead, args({"/k"})));
  CHECK(now.payload() == "after");
}
