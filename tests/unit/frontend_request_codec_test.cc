// frontend/request_codec: the shape of every message type's payload, decoded into the
// Request oneof, and the exact wire bytes of replies and watch events (reference §1.2,
// §5.2 items 3 and 13).
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/wire.h"
#include "frontend/request_codec.h"

using dxs::codec::append_event;
using dxs::codec::append_reply;
using dxs::codec::decode_request;
using dxs::pb::Request;
using dxs::wire::kHeaderSize;
using dxs::wire::kPayloadMax;
using dxs::wire::Message;
using dxs::wire::MsgType;
using dxs::wire::to_u32;

namespace {

using namespace std::string_literals;

Request decode(uint32_t type, const std::string& payload, uint32_t req_id = 1, uint32_t tx_id = 0) {
  Message msg;
  msg.header = {type, req_id, tx_id, static_cast<uint32_t>(payload.size())};
  msg.payload = payload;
  Request out;
  decode_request(msg, out);
  return out;
}

Request decode(MsgType type, const std::string& payload) {
  return decode(to_u32(type), payload);
}

std::vector<std::string> strings_of(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return std::vector<std::string>(r.begin(), r.end());
}

using Strings = std::vector<std::string>;

// Which shape the codec gives each message type.
enum class Shape { kPath, kWrite, kSetPerms, kWatch, kStrings, kUnparsed };

Shape shape_of(uint32_t type) {
  switch (type) {
    case 1:   // DIRECTORY
    case 2:   // READ
    case 3:   // GET_PERMS
    case 12:  // MKDIR
    case 13:  // RM
      return Shape::kPath;
    case 11:
      return Shape::kWrite;
    case 14:
      return Shape::kSetPerms;
    case 4:  // WATCH
    case 5:  // UNWATCH
      return Shape::kWatch;
    case 0:   // CONTROL
    case 7:   // TRANSACTION_END
    case 8:   // INTRODUCE
    case 9:   // RELEASE
    case 10:  // GET_DOMAIN_PATH
    case 17:  // IS_DOMAIN_INTRODUCED
    case 18:  // RESUME
    case 19:  // SET_TARGET
    case 22:  // DIRECTORY_PART
    case 23:  // GET_FEATURE
    case 24:  // SET_FEATURE
      return Shape::kStrings;
    default:  // TRANSACTION_START, WATCH_EVENT, ERROR, RESTRICT, RESET_WATCHES, unknown
      return Shape::kUnparsed;
  }
}

// Every type dxs knows (Xen 4.17's and 4.21's GET/SET_FEATURE) and a few it does not.
std::vector<uint32_t> all_types() {
  std::vector<uint32_t> types;
  for (uint32_t t = 0; t < dxs::wire::kTypeCount; ++t) types.push_back(t);
  for (uint32_t t : {25u, 26u, 27u, 0xFFFFu, 0x10000u, 0xFFFFFFFFu}) types.push_back(t);
  return types;
}

// What a decoded request holds, reduced to one comparable description.
std::string describe(const Request& r) {
  auto join = [](const auto& fields) {
    std::string out;
    for (const auto& f : fields) out += "[" + f + "]";
    return out;
  };
  switch (r.args_case()) {
    case Request::kMalformed:
      return "malformed";
    case Request::kPath:
      return "path[" + r.path().path() + "]";
    case Request::kWrite:
      return "write[" + r.write().path() + "][" + r.write().value() + "]";
    case Request::kSetPerms:
      return "set_perms[" + r.set_perms().path() + "]" + join(r.set_perms().perms());
    case Request::kWatch:
      return "watch[" + r.watch().path() + "][" + r.watch().token() + "]" + join(r.watch().extra());
    case Request::kStrings:
      return "strings" + join(r.strings().strings()) + "+[" + r.strings().trailing() + "]";
    case Request::kUnparsed:
      return "unparsed[" + r.unparsed().payload() + "]";
    case Request::ARGS_NOT_SET:
      return "not set";
  }
  return "?";
}

struct Case {
  std::string payload;
  // The expected description for each shape, in the order of Shape.
  std::string path, write, set_perms, watch, strings;
};

std::string expected(const Case& c, Shape s, const std::string& payload) {
  switch (s) {
    case Shape::kPath:
      return c.path;
    case Shape::kWrite:
      return c.write;
    case Shape::kSetPerms:
      return c.set_perms;
    case Shape::kWatch:
      return c.watch;
    case Shape::kStrings:
      return c.strings;
    case Shape::kUnparsed:
      return "unparsed[" + payload + "]";
  }
  return "?";
}

}  // namespace

TEST_CASE("every type and payload shape decodes into the expected oneof") {
  // One row per payload; the columns are what each shape of type makes of it.
  const std::vector<Case> cases = {
      // empty payload
      {"", "malformed", "malformed", "malformed", "malformed", "strings+[]"},
      // no NUL at all
      {"/a", "malformed", "malformed", "malformed", "malformed", "strings+[/a]"},
      // one empty string
      {"\0"s, "path[]", "write[][]", "malformed", "malformed", "strings[]+[]"},
      // one string
      {"/a\0"s, "path[/a]", "write[/a][]", "malformed", "malformed", "strings[/a]+[]"},
      // one string and trailing bytes
      {"/a\0b"s, "malformed", "write[/a][b]", "malformed", "malformed", "strings[/a]+[b]"},
      // two strings
      {"/a\0b\0"s, "malformed", "write[/a][b\0]"s, "set_perms[/a][b]", "watch[/a][b]",
       "strings[/a][b]+[]"},
      // two strings, the second empty
      {"/a\0\0"s, "malformed", "write[/a][\0]"s, "set_perms[/a][]", "watch[/a][]",
       "strings[/a][]+[]"},
      // two strings and trailing bytes (dropped by set_perms and watch, as C's parsers do)
      {"/a\0b\0c"s, "malformed", "write[/a][b\0c]"s, "set_perms[/a][b]", "watch[/a][b]",
       "strings[/a][b]+[c]"},
      // three strings
      {"/a\0b\0c\0"s, "malformed", "write[/a][b\0c\0]"s, "set_perms[/a][b][c]", "watch[/a][b][c]",
       "strings[/a][b][c]+[]"},
      // NULs only
      {"\0\0\0"s, "malformed", "write[][\0\0]"s, "set_perms[][][]", "watch[][][]",
       "strings[][][]+[]"},
      // a NUL then text
      {"\0/a"s, "malformed", "write[][/a]", "malformed", "malformed", "strings[]+[/a]"},
  };
  for (uint32_t type : all_types()) {
    for (const Case& c : cases) {
      CAPTURE(type);
      CAPTURE(c.payload);
      Request r = decode(type, c.payload, 77, 5);
      CHECK(describe(r) == expected(c, shape_of(type), c.payload));
      CHECK(r.type() == type);
      CHECK(r.req_id() == 77);
      CHECK(r.tx_id() == 5);
      // Left to the caller.
      CHECK(r.conn() == 0);
      CHECK(r.seq() == 0);
      CHECK(r.replied_seq() == 0);
    }
  }
}

TEST_CASE("the header fields are copied for every type, whatever the payload") {
  for (uint32_t type : all_types()) {
    CAPTURE(type);
    Request r = decode(type, "", 0xFFFFFFFFu, 0xFFFFFFFEu);
    CHECK(r.type() == type);
    CHECK(r.req_id() == 0xFFFFFFFFu);
    CHECK(r.tx_id() == 0xFFFFFFFEu);
    CHECK(r.args_case() != Request::ARGS_NOT_SET);
  }
}

TEST_CASE("malformed requests say why") {
  CHECK(decode(MsgType::kRead, "").malformed().reason() ==
        "payload is not exactly one NUL-terminated path");
  CHECK(decode(MsgType::kWrite, "/a").malformed().reason() == "no NUL after the path");
  CHECK(decode(MsgType::kSetPerms, "/a\0"s).malformed().reason() ==
        "SET_PERMS needs a path and at least one permission");
  CHECK(decode(MsgType::kWatch, "/a\0"s).malformed().reason() == "watch needs a path and a token");
  CHECK(decode(MsgType::kUnwatch, "/a\0tok"s).malformed().reason() ==
        "watch needs a path and a token");
}

TEST_CASE("one-path types take exactly one NUL, at the end (C's onearg)") {
  for (MsgType t :
       {MsgType::kDirectory, MsgType::kRead, MsgType::kGetPerms, MsgType::kMkdir, MsgType::kRm}) {
    CAPTURE(to_u32(t));
    CHECK(decode(t, "/local/domain/1/name\0"s).path().path() == "/local/domain/1/name");
    CHECK(decode(t, "relative/x\0"s).path().path() == "relative/x");
    CHECK(decode(t, "@releaseDomain\0"s).path().path() == "@releaseDomain");
    // Syntax is the store's business: the codec passes any bytes.
    CHECK(decode(t, "bad path \xff\0"s).path().path() == "bad path \xff");
    CHECK(decode(t, "\0"s).path().path() == "");
    // Embedded NULs, a missing NUL, or extra strings.
    for (std::string bad : {""s, "/a"s, "/a\0b\0"s, "/a\0\0"s, "\0\0"s, "/a\0b"s, "\0/a\0"s}) {
      CAPTURE(bad);
      CHECK(decode(t, bad).has_malformed());
    }
  }
  SUBCASE("a path filling the whole 4096-byte payload") {
    std::string p = "/" + std::string(kPayloadMax - 2, 'a');
    Request r = decode(MsgType::kRead, p + '\0');
    REQUIRE(r.has_path());
    CHECK(r.path().path() == p);
  }
}

TEST_CASE("WRITE: the path up to the first NUL, the value is all the rest") {
  SUBCASE("a plain value, no trailing NUL") {
    Request r = decode(MsgType::kWrite, "/local/domain/1/name\0vm1"s);
    REQUIRE(r.has_write());
    CHECK(r.write().path() == "/local/domain/1/name");
    CHECK(r.write().value() == "vm1");
  }
  SUBCASE("a zero-length value") {
    Request r = decode(MsgType::kWrite, "/a\0"s);
    REQUIRE(r.has_write());
    CHECK(r.write().path() == "/a");
    CHECK(r.write().value().empty());
  }
  SUBCASE("NULs inside and at the end of the value are part of it") {
    Request r = decode(MsgType::kWrite, "/a\0x\0y\0\0"s);
    REQUIRE(r.has_write());
    CHECK(r.write().path() == "/a");
    CHECK(r.write().value() == "x\0y\0\0"s);
  }
  SUBCASE("a value of NULs only") {
    Request r = decode(MsgType::kWrite, "/a\0\0\0"s);
    REQUIRE(r.has_write());
    CHECK(r.write().value() == "\0\0"s);
  }
  SUBCASE("binary values are kept byte for byte") {
    std::string value;
    for (int c = 0; c < 256; ++c) value.push_back(static_cast<char>(c));
    Request r = decode(MsgType::kWrite, "/bin\0"s + value);
    REQUIRE(r.has_write());
    CHECK(r.write().path() == "/bin");
    CHECK(r.write().value() == value);
  }
  SUBCASE("an empty path") {
    Request r = decode(MsgType::kWrite, "\0v"s);
    REQUIRE(r.has_write());
    CHECK(r.write().path().empty());
    CHECK(r.write().value() == "v");
  }
  SUBCASE("no NUL is malformed") {
    CHECK(decode(MsgType::kWrite, "").has_malformed());
    CHECK(decode(MsgType::kWrite, "/a").has_malformed());
    CHECK(decode(MsgType::kWrite, std::string(kPayloadMax, 'a')).has_malformed());
  }
  SUBCASE("a full 4096-byte payload") {
    std::string value(kPayloadMax - 3, 'v');
    Request r = decode(MsgType::kWrite, "/a\0"s + value);
    REQUIRE(r.has_write());
    CHECK(r.write().value() == value);
  }
}

TEST_CASE("SET_PERMS: a path and one or more permission strings") {
  SUBCASE("no permission is malformed") {
    CHECK(decode(MsgType::kSetPerms, "").has_malformed());
    CHECK(decode(MsgType::kSetPerms, "/a").has_malformed());
    CHECK(decode(MsgType::kSetPerms, "/a\0"s).has_malformed());
    // A permission without its NUL is not a permission (C: xs_count_strings counts NULs).
    CHECK(decode(MsgType::kSetPerms, "/a\0n0"s).has_malformed());
  }
  SUBCASE("one permission") {
    Request r = decode(MsgType::kSetPerms, "/a\0n0\0"s);
    REQUIRE(r.has_set_perms());
    CHECK(r.set_perms().path() == "/a");
    CHECK(strings_of(r.set_perms().perms()) == Strings{"n0"});
  }
  SUBCASE("several permissions, in order") {
    Request r = decode(MsgType::kSetPerms, "/local/domain/3\0n0\0r3\0b7\0w65535\0"s);
    REQUIRE(r.has_set_perms());
    CHECK(r.set_perms().path() == "/local/domain/3");
    CHECK(strings_of(r.set_perms().perms()) == Strings{"n0", "r3", "b7", "w65535"});
  }
  SUBCASE("permission strings are not validated here") {
    Request r = decode(MsgType::kSetPerms, "/a\0x5\0\0r99999999999\0r\0"s);
    REQUIRE(r.has_set_perms());
    CHECK(strings_of(r.set_perms().perms()) == Strings{"x5", "", "r99999999999", "r"});
  }
  SUBCASE("bytes after the last NUL are dropped, as C does") {
    Request r = decode(MsgType::kSetPerms, "/a\0n0\0r5"s);
    REQUIRE(r.has_set_perms());
    CHECK(strings_of(r.set_perms().perms()) == Strings{"n0"});
  }
  SUBCASE("a special path") {
    Request r = decode(MsgType::kSetPerms, "@releaseDomain\0n0\0r5\0"s);
    REQUIRE(r.has_set_perms());
    CHECK(r.set_perms().path() == "@releaseDomain");
    CHECK(r.set_perms().perms_size() == 2);
  }
  SUBCASE("a full payload of permissions") {
    std::string payload = "/a\0"s;
    Strings perms;
    while (payload.size() + 3 <= kPayloadMax) {
      payload += "r1\0"s;
      perms.push_back("r1");
    }
    Request r = decode(MsgType::kSetPerms, payload);
    REQUIRE(r.has_set_perms());
    CHECK(strings_of(r.set_perms().perms()) == perms);
  }
}

TEST_CASE("WATCH and UNWATCH: a path, a token and any extra strings") {
  for (MsgType t : {MsgType::kWatch, MsgType::kUnwatch}) {
    CAPTURE(to_u32(t));
    // One string.
    CHECK(decode(t, "/a\0"s).has_malformed());
    CHECK(decode(t, "").has_malformed());
    CHECK(decode(t, "/a\0tok"s).has_malformed());

    // Two strings.
    Request two = decode(t, "/local/domain/1/device\0FFFF8880A1B2C3D4\0"s);
    REQUIRE(two.has_watch());
    CHECK(two.watch().path() == "/local/domain/1/device");
    CHECK(two.watch().token() == "FFFF8880A1B2C3D4");
    CHECK(two.watch().extra_size() == 0);

    // Three strings: WATCHDEPTH's depth goes to extra; the store decides what it means.
    Request three = decode(t, "@releaseDomain\0tok\0001\0"s);
    REQUIRE(three.has_watch());
    CHECK(three.watch().path() == "@releaseDomain");
    CHECK(three.watch().token() == "tok");
    CHECK(strings_of(three.watch().extra()) == Strings{"1"});

    Request four = decode(t, "/a\0tok\0x\0\0"s);
    REQUIRE(four.has_watch());
    CHECK(strings_of(four.watch().extra()) == Strings{"x", ""});

    // An empty path and an empty token are passed on.
    Request empty = decode(t, "\0\0"s);
    REQUIRE(empty.has_watch());
    CHECK(empty.watch().path().empty());
    CHECK(empty.watch().token().empty());

    // Bytes after the last NUL are dropped (C's get_strings ignores them too).
    Request trailing = decode(t, "/a\0tok\0junk"s);
    REQUIRE(trailing.has_watch());
    CHECK(trailing.watch().token() == "tok");
    CHECK(trailing.watch().extra_size() == 0);
  }
  SUBCASE("a 4000-byte token") {
    std::string token(4000, 't');
    Request r = decode(MsgType::kWatch, "/a\0"s + token + '\0');
    REQUIRE(r.has_watch());
    CHECK(r.watch().token() == token);
  }
}

TEST_CASE("string-list types keep every string and any trailing bytes") {
  SUBCASE("DIRECTORY_PART shapes") {
    auto dp = [](const std::string& p) { return decode(MsgType::kDirectoryPart, p); };
    Request ok =
        dp("/local/domain\0"
           "0\0"s);
    REQUIRE(ok.has_strings());
    CHECK(strings_of(ok.strings().strings()) == Strings{"/local/domain", "0"});
    CHECK(ok.strings().trailing().empty());

    Request offset =
        dp("/a\0"
           "4095\0"s);
    CHECK(strings_of(offset.strings().strings()) == Strings{"/a", "4095"});

    Request missing_offset = dp("/a\0"s);
    REQUIRE(missing_offset.has_strings());
    CHECK(strings_of(missing_offset.strings().strings()) == Strings{"/a"});

    Request unterminated =
        dp("/a\0"
           "12"s);
    REQUIRE(unterminated.has_strings());
    CHECK(strings_of(unterminated.strings().strings()) == Strings{"/a"});
    CHECK(unterminated.strings().trailing() == "12");

    Request extra =
        dp("/a\0"
           "0\0x\0"s);
    CHECK(strings_of(extra.strings().strings()) == Strings{"/a", "0", "x"});

    Request junk = dp("/a\0-1x\0"s);  // the offset is not validated here
    CHECK(strings_of(junk.strings().strings()) == Strings{"/a", "-1x"});

    Request empty = dp("");
    REQUIRE(empty.has_strings());
    CHECK(empty.strings().strings_size() == 0);
    CHECK(empty.strings().trailing().empty());
  }
  SUBCASE("INTRODUCE") {
    Request r = decode(MsgType::kIntroduce,
                       "7\0"
                       "123456\0"
                       "9\0"s);
    REQUIRE(r.has_strings());
    CHECK(strings_of(r.strings().strings()) == Strings{"7", "123456", "9"});
  }
  SUBCASE("TRANSACTION_END") {
    CHECK(strings_of(decode(MsgType::kTransactionEnd, "T\0"s).strings().strings()) == Strings{"T"});
    CHECK(strings_of(decode(MsgType::kTransactionEnd, "F\0"s).strings().strings()) == Strings{"F"});
    Request bare = decode(MsgType::kTransactionEnd, "T");
    REQUIRE(bare.has_strings());
    CHECK(bare.strings().strings_size() == 0);
    CHECK(bare.strings().trailing() == "T");
  }
  SUBCASE("CONTROL with arguments") {
    Request r = decode(MsgType::kControl, "print\0hello world\0"s);
    CHECK(strings_of(r.strings().strings()) == Strings{"print", "hello world"});
  }
  SUBCASE("SET_TARGET, RELEASE, RESUME, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED") {
    CHECK(strings_of(decode(MsgType::kSetTarget,
                            "5\0"
                            "6\0"s)
                         .strings()
                         .strings()) == Strings{"5", "6"});
    for (MsgType t : {MsgType::kRelease, MsgType::kResume, MsgType::kGetDomainPath,
                      MsgType::kIsDomainIntroduced}) {
      CAPTURE(to_u32(t));
      CHECK(strings_of(decode(t, "32752\0"s).strings().strings()) == Strings{"32752"});
      CHECK(strings_of(decode(t, "0x10\0"s).strings().strings()) == Strings{"0x10"});
    }
  }
}

TEST_CASE("types without a parsed payload keep it verbatim") {
  for (uint32_t type : {to_u32(MsgType::kTransactionStart), to_u32(MsgType::kResetWatches),
                        to_u32(MsgType::kWatchEvent), to_u32(MsgType::kError),
                        to_u32(MsgType::kRestrict), 25u, 0xFFFFu, 0xFFFFFFFFu}) {
    CAPTURE(type);
    for (std::string p : {""s, "\0"s, "junk"s, "a\0b\0c"s, std::string(kPayloadMax, '\0')}) {
      Request r = decode(type, p);
      REQUIRE(r.has_unparsed());
      CHECK(r.unparsed().payload() == p);
    }
  }
}

TEST_CASE("append_reply frames the reply's type, req_id, tx_id and payload") {
  dxs::pb::Reply reply;
  reply.set_conn(99);  // not on the wire
  reply.set_seq(12);   // not on the wire
  reply.set_type(to_u32(MsgType::kRead));
  reply.set_req_id(0x01020304);
  reply.set_tx_id(7);
  reply.set_payload("va\0lue"s);

  std::string out = "before";
  append_reply(out, reply);
  REQUIRE(out.size() == 6 + kHeaderSize + 6);
  CHECK(out.substr(0, 6) == "before");
  auto h = dxs::wire::decode_header(reinterpret_cast<const uint8_t*>(out.data() + 6));
  CHECK(h.type == 2);
  CHECK(h.req_id == 0x01020304u);
  CHECK(h.tx_id == 7);
  CHECK(h.len == 6);
  CHECK(out.substr(6 + kHeaderSize) == "va\0lue"s);

  SUBCASE("exact bytes of an error reply on a little-endian host") {
    if constexpr (std::endian::native != std::endian::little) return;
    dxs::pb::Reply err;
    err.set_type(to_u32(MsgType::kError));
    err.set_req_id(5);
    err.set_tx_id(0x100);
    err.set_payload("ENOENT\0"s);
    std::string bytes;
    append_reply(bytes, err);
    CHECK(bytes == "\x10\0\0\0\x05\0\0\0\0\x01\0\0\x07\0\0\0ENOENT\0"s);
  }
  SUBCASE("an empty payload") {
    dxs::pb::Reply empty;
    empty.set_type(to_u32(MsgType::kDirectory));
    std::string bytes;
    append_reply(bytes, empty);
    REQUIRE(bytes.size() == kHeaderSize);
    auto e = dxs::wire::decode_header(reinterpret_cast<const uint8_t*>(bytes.data()));
    CHECK(e.type == 1);
    CHECK(e.req_id == 0);
    CHECK(e.tx_id == 0);
    CHECK(e.len == 0);
  }
  SUBCASE("replies reassemble through the MessageAssembler") {
    std::string bytes;
    append_reply(bytes, reply);
    append_reply(bytes, reply);
    dxs::wire::MessageAssembler a;
    size_t used = a.feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    REQUIRE(a.has_message());
    Message m = a.take();
    CHECK(m.header.req_id == 0x01020304u);
    CHECK(m.payload == reply.payload());
    a.feed(reinterpret_cast<const uint8_t*>(bytes.data()) + used, bytes.size() - used);
    REQUIRE(a.has_message());
    CHECK(a.take().payload == reply.payload());
  }
}

TEST_CASE("append_event frames a WATCH_EVENT with req_id and tx_id 0") {
  dxs::pb::WatchEvent ev;
  ev.set_conn(3);       // not on the wire
  ev.set_event_id(41);  // not on the wire
  ev.set_path("/local/domain/1/device");
  ev.set_token("tok");

  std::string out = "x";
  append_event(out, ev);
  const std::string payload = "/local/domain/1/device\0tok\0"s;
  REQUIRE(out.size() == 1 + kHeaderSize + payload.size());
  CHECK(out[0] == 'x');
  auto h = dxs::wire::decode_header(reinterpret_cast<const uint8_t*>(out.data() + 1));
  CHECK(h.type == 15);
  CHECK(h.req_id == 0);
  CHECK(h.tx_id == 0);
  CHECK(h.len == payload.size());
  CHECK(out.substr(1 + kHeaderSize) == payload);

  SUBCASE("exact bytes on a little-endian host") {
    if constexpr (std::endian::native != std::endian::little) return;
    dxs::pb::WatchEvent rel;
    rel.set_path("name");
    rel.set_token("t");
    std::string bytes;
    append_event(bytes, rel);
    CHECK(bytes == "\x0f\0\0\0\0\0\0\0\0\0\0\0\x07\0\0\0name\0t\0"s);
  }
  SUBCASE("empty path and token are two NULs") {
    dxs::pb::WatchEvent empty;
    std::string bytes;
    append_event(bytes, empty);
    REQUIRE(bytes.size() == kHeaderSize + 2);
    CHECK(bytes.substr(kHeaderSize) == "\0\0"s);
  }
  SUBCASE("the event splits back into exactly two strings") {
    std::string bytes;
    append_event(bytes, ev);
    Message m;
    m.header = dxs::wire::decode_header(reinterpret_cast<const uint8_t*>(bytes.data()));
    m.payload = bytes.substr(kHeaderSize);
    dxs::wire::Strings s = dxs::wire::split_strings(m.payload);
    REQUIRE(s.strings.size() == 2);
    CHECK(s.strings[0] == "/local/domain/1/device");
    CHECK(s.strings[1] == "tok");
    CHECK(s.trailing.empty());
  }
}
