// store/command_table and common/message_table: every message type has one entry, every
// request type a handler, and the entry's rules decide what the handlers never see.
#include "store/command_table.h"

#include <doctest/doctest.h>

#include "common/message_table.h"
#include "common/wire.h"
#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;
namespace wire = dxs::wire;
namespace store = dxs::store;

TEST_CASE("the message table has an entry per type, in type order, with xs_wire.h's names") {
  for (uint32_t t = 0; t < wire::kTypeCount; ++t) {
    const wire::MessageSpec* spec = wire::find_message(t);
    REQUIRE(spec != nullptr);
    CHECK(wire::to_u32(spec->type) == t);
    CHECK(wire::type_name(t) == spec->name);
  }
  CHECK(wire::find_message(wire::kTypeCount) == nullptr);
  CHECK(wire::type_name(11) == "WRITE");
  CHECK(wire::type_name(22) == "DIRECTORY_PART");
  CHECK(wire::type_name(99) == "UNKNOWN(99)");
}

TEST_CASE("every request type has a handler; the others have none") {
  for (uint32_t t = 0; t < wire::kTypeCount; ++t) {
    const bool request = wire::find_message(t)->payload != wire::Payload::kNotRequest;
    CAPTURE(wire::type_name(t));
    CHECK((store::find_command(t) != nullptr) == request);
  }
  CHECK(store::find_command(wire::to_u32(MsgType::kWatchEvent)) == nullptr);
  CHECK(store::find_command(wire::to_u32(MsgType::kError)) == nullptr);
  CHECK(store::find_command(wire::to_u32(MsgType::kRestrict)) == nullptr);
  CHECK(store::find_command(1000) == nullptr);
}

TEST_CASE("arity: too few, too many, and bytes after the last NUL where onearg() refuses them") {
  const wire::MessageSpec& end = *wire::find_message(wire::to_u32(MsgType::kTransactionEnd));
  CHECK(wire::arity_error(end, 1, false) == std::nullopt);
  CHECK(wire::arity_error(end, 0, false).has_value());
  CHECK(wire::arity_error(end, 2, false).has_value());
  CHECK(wire::arity_error(end, 1, true).has_value());
  const wire::MessageSpec& introduce = *wire::find_message(wire::to_u32(MsgType::kIntroduce));
  CHECK(wire::arity_error(introduce, 2, false).has_value());
  CHECK(wire::arity_error(introduce, 3, true) == std::nullopt);
  CHECK(wire::arity_error(introduce, 9, false) == std::nullopt);
}

TEST_CASE("the table's rules answer before any handler, in C's order") {
  EngineFixture f;
  const uint64_t guest = f.open_domain(7);
  const uint64_t dom0 = f.open_socket();
  // Not a request: ENOSYS, even from the privileged.
  CHECK(f.err(dom0, MsgType::kRestrict, args({"7"})) == "ENOSYS");
  // Privileged-only before the transaction and the arity.
  CHECK(f.err(guest, MsgType::kIntroduce, "", 99) == "EACCES");
  // A tx_id naming nothing before the arity; WATCH ignores tx_id.
  CHECK(f.err(dom0, MsgType::kTransactionEnd, "", 99) == "ENOENT");
  CHECK(f.ok(dom0, MsgType::kWatch, args({"/w", "t"}), 99) == std::string("OK\0", 3));
  // Then the arity, for every type that takes strings.
  CHECK(f.err(dom0, MsgType::kRelease, args({"1", "2"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kSetTarget, args({"1"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kDirectoryPart, args({"/"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kGetDomainPath, std::string("1\0x", 3)) == "EINVAL");
}

TEST_CASE("recovery: only a socket's reads outside a transaction go unrecorded") {
  dxs::store::Connection socket;
  socket.record.set_kind(dxs::pb::SOCKET);
  dxs::store::Connection ring;
  ring.record.set_kind(dxs::pb::RING);
  auto req = [](MsgType type, uint32_t tx) {
    dxs::pb::Request r;
    r.set_type(wire::to_u32(type));
    r.set_tx_id(tx);
    return r;
  };
  for (MsgType read :
       {MsgType::kRead, MsgType::kDirectory, MsgType::kDirectoryPart, MsgType::kGetPerms}) {
    CHECK_FALSE(store::is_recorded(socket, req(read, 0)));
    CHECK(store::is_recorded(socket, req(read, 5)));
    CHECK(store::is_recorded(ring, req(read, 0)));
  }
  for (MsgType change :
       {MsgType::kWrite, MsgType::kWatch, MsgType::kTransactionStart, MsgType::kControl}) {
    CHECK(store::is_recorded(socket, req(change, 0)));
  }
  CHECK(store::is_recorded(socket, req(MsgType::kRestrict, 0)));
}
