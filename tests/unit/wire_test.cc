// common/wire: the 16-byte header, message framing from a byte stream of any shape, and
// the NUL-separated strings of a payload (reference §1.1, §5.2 items 1 and 3).
#include <doctest/doctest.h>

#include <bit>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/wire.h"

using dxs::wire::append_message;
using dxs::wire::decode_header;
using dxs::wire::encode_header;
using dxs::wire::Header;
using dxs::wire::join_strings;
using dxs::wire::kHeaderSize;
using dxs::wire::kPayloadMax;
using dxs::wire::Message;
using dxs::wire::MessageAssembler;
using dxs::wire::MsgType;
using dxs::wire::split_strings;
using dxs::wire::type_name;

namespace {

using namespace std::string_literals;

// The wire bytes of one message.
std::string frame(uint32_t type, uint32_t req_id, uint32_t tx_id, std::string_view payload) {
  std::string out;
  append_message(out, type, req_id, tx_id, payload);
  return out;
}

// A bare header announcing `len` payload bytes (the payload itself is not appended).
std::string header_only(uint32_t type, uint32_t len) {
  std::string out(kHeaderSize, '\0');
  encode_header(Header{type, 1, 0, len}, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

size_t feed(MessageAssembler& a, std::string_view bytes) {
  return a.feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Feeds every byte of `bytes` in pieces of at most `piece` bytes, taking each complete
// message; stops early if the assembler fails.
std::vector<Message> feed_all(MessageAssembler& a, std::string_view bytes, size_t piece) {
  std::vector<Message> out;
  while (!bytes.empty() && !a.failed()) {
    std::string_view chunk = bytes.substr(0, piece);
    while (!chunk.empty()) {
      size_t used = feed(a, chunk);
      chunk.remove_prefix(used);
      bytes.remove_prefix(used);
      if (a.has_message()) out.push_back(a.take());
      if (a.failed()) break;
      if (used == 0) break;
    }
  }
  return out;
}

// split_strings() with its views copied, so that it may be given a temporary.
struct OwnedStrings {
  std::vector<std::string> strings;
  std::string trailing;
};
OwnedStrings split(std::string_view payload) {
  dxs::wire::Strings s = split_strings(payload);
  return OwnedStrings{std::vector<std::string>(s.strings.begin(), s.strings.end()),
                      std::string(s.trailing)};
}

}  // namespace

TEST_CASE("protocol constants match xs_wire.h") {
  CHECK(kHeaderSize == 16);
  CHECK(kPayloadMax == 4096);
  CHECK(dxs::wire::kAbsPathMax == 3072);
  CHECK(dxs::wire::kRelPathMax == 2048);
  CHECK(dxs::wire::kTypeCount == 25);
  CHECK(dxs::wire::to_u32(MsgType::kGetFeature) == 23);
  CHECK(dxs::wire::to_u32(MsgType::kSetFeature) == 24);
  CHECK(dxs::wire::kDomidSelf == 0x7FF0);
  CHECK(dxs::wire::to_u32(MsgType::kDirectoryPart) == 22);
  CHECK(dxs::wire::to_u32(MsgType::kWatchEvent) == 15);
  CHECK(dxs::wire::to_u32(MsgType::kError) == 16);
}

TEST_CASE("a header round-trips") {
  uint8_t buf[kHeaderSize];
  encode_header({11, 2, 3, 4}, buf);
  auto h = decode_header(buf);
  CHECK(h.type == 11);
  CHECK(h.req_id == 2);
  CHECK(h.tx_id == 3);
  CHECK(h.len == 4);
}

TEST_CASE("a header with extreme values round-trips") {
  uint8_t buf[kHeaderSize];
  encode_header({0xFFFFFFFFu, 0xFFFFFFFEu, 0x80000000u, 0xFFFFFFFFu}, buf);
  auto h = decode_header(buf);
  CHECK(h.type == 0xFFFFFFFFu);
  CHECK(h.req_id == 0xFFFFFFFEu);
  CHECK(h.tx_id == 0x80000000u);
  CHECK(h.len == 0xFFFFFFFFu);

  encode_header({}, buf);
  h = decode_header(buf);
  CHECK(h.type == 0);
  CHECK(h.req_id == 0);
  CHECK(h.tx_id == 0);
  CHECK(h.len == 0);
}

TEST_CASE("the header is four little-endian u32 in the order type, req_id, tx_id, len") {
  if constexpr (std::endian::native != std::endian::little) return;
  uint8_t buf[kHeaderSize];
  encode_header({0x04030201u, 0x08070605u, 0x0C0B0A09u, 0x100F0E0Du}, buf);
  for (uint8_t i = 0; i < kHeaderSize; ++i) CHECK(buf[i] == i + 1);

  const uint8_t raw[kHeaderSize] = {11, 0, 0, 0, 0x2A, 0, 0, 0, 0, 1, 0, 0, 0, 0x10, 0, 0};
  auto h = decode_header(raw);
  CHECK(h.type == 11);
  CHECK(h.req_id == 42);
  CHECK(h.tx_id == 256);
  CHECK(h.len == 4096);
}

TEST_CASE("decode_header reads an unaligned buffer") {
  uint8_t storage[kHeaderSize + 1] = {};
  encode_header({1, 2, 3, 4}, storage + 1);
  auto h = decode_header(storage + 1);
  CHECK(h.type == 1);
  CHECK(h.req_id == 2);
  CHECK(h.tx_id == 3);
  CHECK(h.len == 4);
}

TEST_CASE("append_message frames the payload after the header and appends to out") {
  std::string out = "prefix";
  append_message(out, 2, 7, 9, "/a\0"s);
  REQUIRE(out.size() == 6 + kHeaderSize + 3);
  CHECK(out.substr(0, 6) == "prefix");
  auto h = decode_header(reinterpret_cast<const uint8_t*>(out.data() + 6));
  CHECK(h.type == 2);
  CHECK(h.req_id == 7);
  CHECK(h.tx_id == 9);
  CHECK(h.len == 3);
  CHECK(out.substr(6 + kHeaderSize) == "/a\0"s);

  SUBCASE("an empty payload is a bare header") {
    std::string empty;
    append_message(empty, 6, 1, 0, "");
    REQUIRE(empty.size() == kHeaderSize);
    CHECK(decode_header(reinterpret_cast<const uint8_t*>(empty.data())).len == 0);
  }

  SUBCASE("a payload with NULs and high bytes is copied verbatim") {
    std::string payload = "\0\xff\x80zz\0"s;
    std::string b;
    append_message(b, 11, 0, 0, payload);
    CHECK(decode_header(reinterpret_cast<const uint8_t*>(b.data())).len == payload.size());
    CHECK(b.substr(kHeaderSize) == payload);
  }

  SUBCASE("exact bytes on a little-endian host") {
    if constexpr (std::endian::native != std::endian::little) return;
    std::string b;
    append_message(b, 4, 0x0102, 3, "p\0t\0"s);
    CHECK(b == "\x04\0\0\0\x02\x01\0\0\x03\0\0\0\x04\0\0\0p\0t\0"s);
  }
}

TEST_CASE("type_name names every type dxs knows and marks others unknown") {
  const std::vector<std::string> names = {
      "CONTROL",
      "DIRECTORY",
      "READ",
      "GET_PERMS",
      "WATCH",
      "UNWATCH",
      "TRANSACTION_START",
      "TRANSACTION_END",
      "INTRODUCE",
      "RELEASE",
      "GET_DOMAIN_PATH",
      "WRITE",
      "MKDIR",
      "RM",
      "SET_PERMS",
      "WATCH_EVENT",
      "ERROR",
      "IS_DOMAIN_INTRODUCED",
      "RESUME",
      "SET_TARGET",
      "RESTRICT",
      "RESET_WATCHES",
      "DIRECTORY_PART",
      "GET_FEATURE",
      "SET_FEATURE",
  };
  REQUIRE(names.size() == dxs::wire::kTypeCount);
  for (uint32_t t = 0; t < names.size(); ++t) {
    CAPTURE(t);
    CHECK(type_name(t) == names[t]);
  }
  CHECK(type_name(dxs::wire::to_u32(MsgType::kWrite)) == "WRITE");
  CHECK(type_name(25) == "UNKNOWN(25)");
  CHECK(type_name(26) == "UNKNOWN(26)");
  CHECK(type_name(0xffff) == "UNKNOWN(65535)");
  CHECK(type_name(0xFFFFFFFFu) == "UNKNOWN(4294967295)");
}

TEST_CASE("the assembler frames one whole message") {
  MessageAssembler a;
  CHECK_FALSE(a.has_message());
  CHECK_FALSE(a.failed());
  CHECK(a.partial_bytes() == 0);

  std::string bytes = frame(2, 5, 6, "/local\0"s);
  CHECK(feed(a, bytes) == bytes.size());
  REQUIRE(a.has_message());
  CHECK(a.partial_bytes() == bytes.size());
  Message m = a.take();
  CHECK(m.header.type == 2);
  CHECK(m.header.req_id == 5);
  CHECK(m.header.tx_id == 6);
  CHECK(m.header.len == 7);
  CHECK(m.payload == "/local\0"s);
  CHECK_FALSE(a.has_message());
  CHECK(a.partial_bytes() == 0);
}

TEST_CASE("the assembler takes one byte at a time") {
  std::string payload = "/local/domain/1/name\0vm1"s;
  std::string bytes = frame(11, 77, 3, payload) + frame(2, 78, 0, "/x\0"s);
  MessageAssembler a;
  std::vector<Message> got;
  for (size_t i = 0; i < bytes.size(); ++i) {
    CAPTURE(i);
    CHECK(feed(a, std::string_view(bytes).substr(i, 1)) == 1);
    CHECK_FALSE(a.failed());
    if (a.has_message()) {
      got.push_back(a.take());
      CHECK(a.partial_bytes() == 0);
    } else {
      // Bytes of the current message so far, counted from its first header byte.
      size_t first = got.empty() ? 0 : kHeaderSize + payload.size();
      CHECK(a.partial_bytes() == i + 1 - first);
    }
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].header.type == 11);
  CHECK(got[0].header.req_id == 77);
  CHECK(got[0].header.tx_id == 3);
  CHECK(got[0].payload == payload);
  CHECK(got[1].header.type == 2);
  CHECK(got[1].header.req_id == 78);
  CHECK(got[1].payload == "/x\0"s);
}

TEST_CASE("the assembler stops after each message in a buffer holding several") {
  std::string bytes = frame(1, 1, 0, "/\0"s) + frame(6, 2, 0, "\0"s) + frame(21, 3, 0, "") +
                      frame(2, 4, 9, "/a\0"s);
  MessageAssembler a;
  std::string_view rest = bytes;

  size_t used = feed(a, rest);
  CHECK(used == kHeaderSize + 2);  // exactly the first message, nothing of the next
  REQUIRE(a.has_message());
  CHECK(a.take().header.req_id == 1);
  rest.remove_prefix(used);

  SUBCASE("feeding again before take() consumes nothing") {
    used = feed(a, rest);
    REQUIRE(a.has_message());
    CHECK(feed(a, rest.substr(used)) == 0);
    CHECK(a.take().header.req_id == 2);
  }

  SUBCASE("all messages come out in order") {
    std::vector<uint32_t> ids;
    std::vector<std::string> payloads;
    while (!rest.empty()) {
      used = feed(a, rest);
      REQUIRE(used > 0);
      rest.remove_prefix(used);
      REQUIRE(a.has_message());
      Message m = a.take();
      ids.push_back(m.header.req_id);
      payloads.push_back(m.payload);
    }
    CHECK(ids == std::vector<uint32_t>{2, 3, 4});
    CHECK(payloads == std::vector<std::string>{"\0"s, "", "/a\0"s});
  }
}

TEST_CASE("the assembler reassembles a header split across feeds") {
  std::string bytes = frame(4, 0x01020304, 0, "/a\0tok\0"s);
  for (size_t split = 1; split < kHeaderSize; ++split) {
    CAPTURE(split);
    MessageAssembler a;
    CHECK(feed(a, std::string_view(bytes).substr(0, split)) == split);
    CHECK_FALSE(a.has_message());
    CHECK_FALSE(a.failed());
    CHECK(a.partial_bytes() == split);
    CHECK(feed(a, std::string_view(bytes).substr(split)) == bytes.size() - split);
    REQUIRE(a.has_message());
    Message m = a.take();
    CHECK(m.header.type == 4);
    CHECK(m.header.req_id == 0x01020304u);
    CHECK(m.payload == "/a\0tok\0"s);
  }
}

TEST_CASE("the assembler reassembles a message in pieces of every size") {
  std::string payload(300, 'v');
  payload[0] = '\0';
  std::string bytes;
  for (uint32_t i = 0; i < 5; ++i) bytes += frame(11, i, 0, payload.substr(0, i * 70));
  for (size_t piece : {1u, 2u, 3u, 7u, 15u, 16u, 17u, 64u, 4096u}) {
    CAPTURE(piece);
    MessageAssembler a;
    std::vector<Message> got = feed_all(a, bytes, piece);
    CHECK_FALSE(a.failed());
    CHECK(a.partial_bytes() == 0);
    REQUIRE(got.size() == 5);
    for (uint32_t i = 0; i < 5; ++i) {
      CHECK(got[i].header.req_id == i);
      CHECK(got[i].payload == payload.substr(0, i * 70));
    }
  }
}

TEST_CASE("a zero-length payload completes with the header") {
  MessageAssembler a;
  std::string bytes = frame(6, 9, 0, "");
  CHECK(feed(a, std::string_view(bytes).substr(0, 15)) == 15);
  CHECK_FALSE(a.has_message());
  CHECK(feed(a, std::string_view(bytes).substr(15)) == 1);
  REQUIRE(a.has_message());
  Message m = a.take();
  CHECK(m.header.len == 0);
  CHECK(m.payload.empty());
}

TEST_CASE("a header alone leaves the message incomplete until its payload arrives") {
  MessageAssembler a;
  std::string bytes = frame(2, 1, 0, "/abc\0"s);
  CHECK(feed(a, std::string_view(bytes).substr(0, kHeaderSize)) == kHeaderSize);
  CHECK_FALSE(a.has_message());
  CHECK(a.partial_bytes() == kHeaderSize);
  CHECK(feed(a, std::string_view(bytes).substr(kHeaderSize, 2)) == 2);
  CHECK(a.partial_bytes() == kHeaderSize + 2);
  CHECK_FALSE(a.has_message());
  CHECK(feed(a, std::string_view(bytes).substr(kHeaderSize + 2)) == 3);
  REQUIRE(a.has_message());
  CHECK(a.take().payload == "/abc\0"s);
}

TEST_CASE("feeding no bytes changes nothing") {
  MessageAssembler a;
  uint8_t dummy = 0;
  CHECK(a.feed(&dummy, 0) == 0);
  CHECK(a.partial_bytes() == 0);
  CHECK_FALSE(a.has_message());
  CHECK_FALSE(a.failed());

  std::string bytes = frame(2, 1, 0, "/a\0"s);
  CHECK(feed(a, std::string_view(bytes).substr(0, 5)) == 5);
  CHECK(a.feed(&dummy, 0) == 0);
  CHECK(a.partial_bytes() == 5);
  CHECK(feed(a, std::string_view(bytes).substr(5, 11)) == 11);  // header complete
  CHECK(a.feed(&dummy, 0) == 0);
  CHECK(a.partial_bytes() == kHeaderSize);
  CHECK_FALSE(a.has_message());
}

TEST_CASE("a payload of exactly 4096 bytes is accepted") {
  std::string payload(kPayloadMax, 'x');
  std::string bytes = frame(11, 1, 0, payload) + frame(2, 2, 0, "/\0"s);
  SUBCASE("in one feed") {
    MessageAssembler a;
    CHECK(feed(a, bytes) == kHeaderSize + kPayloadMax);
    REQUIRE(a.has_message());
    CHECK_FALSE(a.failed());
    Message m = a.take();
    CHECK(m.header.len == kPayloadMax);
    CHECK(m.payload == payload);
  }
  SUBCASE("one byte at a time, followed by another message") {
    MessageAssembler a;
    std::vector<Message> got = feed_all(a, bytes, 1);
    CHECK_FALSE(a.failed());
    REQUIRE(got.size() == 2);
    CHECK(got[0].payload == payload);
    CHECK(got[1].header.req_id == 2);
  }
}

TEST_CASE("an announced length over 4096 fails the stream for good") {
  for (uint32_t len : {kPayloadMax + 1, 0xFFFFFFFFu, 1u << 30, 0x80000000u, 65536u}) {
    CAPTURE(len);
    std::string bad = header_only(11, len);
    std::string after = std::string(64, 'p') + frame(2, 2, 0, "/\0"s);

    {  // the header in one feed
      MessageAssembler a;
      CHECK(feed(a, bad + after) == kHeaderSize);  // the header, not a byte more
      CHECK(a.failed());
      CHECK(a.bad_length() == len);
      CHECK_FALSE(a.has_message());
      CHECK(feed(a, after) == 0);
      CHECK(feed(a, frame(2, 3, 0, "/\0"s)) == 0);
      CHECK(a.failed());
      CHECK_FALSE(a.has_message());
      CHECK(a.bad_length() == len);
    }
    {  // the header one byte at a time
      MessageAssembler a;
      for (size_t i = 0; i + 1 < kHeaderSize; ++i) {
        CHECK(feed(a, std::string_view(bad).substr(i, 1)) == 1);
        CHECK_FALSE(a.failed());
      }
      CHECK(a.bad_length() == 0);
      CHECK(feed(a, std::string_view(bad).substr(kHeaderSize - 1, 1)) == 1);
      CHECK(a.failed());
      CHECK(a.bad_length() == len);
      for (char c : after) CHECK(feed(a, std::string_view(&c, 1)) == 0);
      CHECK_FALSE(a.has_message());
    }
    {  // after a good message
      MessageAssembler a;
      std::string bytes = frame(2, 1, 0, "/a\0"s) + bad + after;
      std::vector<Message> got = feed_all(a, bytes, 4096);
      REQUIRE(got.size() == 1);
      CHECK(got[0].payload == "/a\0"s);
      CHECK(a.failed());
      CHECK(a.bad_length() == len);
    }
  }
}

TEST_CASE("bad_length is 0 while the stream is healthy") {
  MessageAssembler a;
  CHECK(a.bad_length() == 0);
  std::string bytes = frame(11, 1, 0, std::string(kPayloadMax, 'x'));
  feed(a, bytes);
  CHECK(a.has_message());
  CHECK(a.bad_length() == 0);
  CHECK_FALSE(a.failed());
}

TEST_CASE("the assembler passes any type, req_id and tx_id through unchanged") {
  // Type validation is the store's job (ENOSYS); framing only looks at len.
  for (uint32_t type : {0u, 15u, 16u, 20u, 23u, 0xFFFFu, 0xFFFFFFFFu}) {
    CAPTURE(type);
    MessageAssembler a;
    std::string bytes = frame(type, 0xFFFFFFFFu, 0xFFFFFFFFu, "x");
    CHECK(feed(a, bytes) == bytes.size());
    REQUIRE(a.has_message());
    Message m = a.take();
    CHECK(m.header.type == type);
    CHECK(m.header.req_id == 0xFFFFFFFFu);
    CHECK(m.header.tx_id == 0xFFFFFFFFu);
    CHECK(m.payload == "x");
  }
}

TEST_CASE("split_strings sees what xenstored's get_strings sees") {
  SUBCASE("empty payload") {
    auto s = split("");
    CHECK(s.strings.empty());
    CHECK(s.trailing.empty());
  }
  SUBCASE("no NUL at all: everything is trailing") {
    auto s = split("/local/domain");
    CHECK(s.strings.empty());
    CHECK(s.trailing == "/local/domain");
  }
  SUBCASE("one terminated string") {
    auto s = split("/a\0"s);
    CHECK(s.strings == std::vector<std::string>{"/a"});
    CHECK(s.trailing.empty());
  }
  SUBCASE("bytes after the last NUL are trailing") {
    auto s = split("/a\0tok\0xyz"s);
    CHECK(s.strings == std::vector<std::string>{"/a", "tok"});
    CHECK(s.trailing == "xyz");
  }
  SUBCASE("a lone NUL is one empty string") {
    auto s = split("\0"s);
    CHECK(s.strings == std::vector<std::string>{""});
    CHECK(s.trailing.empty());
  }
  SUBCASE("consecutive NULs are empty strings") {
    auto s = split("\0\0\0"s);
    CHECK(s.strings == std::vector<std::string>{"", "", ""});
    CHECK(s.trailing.empty());
    auto t = split("a\0\0b\0"s);
    CHECK(t.strings == std::vector<std::string>{"a", "", "b"});
  }
  SUBCASE("a NUL first then text") {
    auto s = split("\0abc"s);
    CHECK(s.strings == std::vector<std::string>{""});
    CHECK(s.trailing == "abc");
  }
  SUBCASE("high bytes are kept") {
    auto s = split("\xc3\xa9\0\xff"s);
    CHECK(s.strings == std::vector<std::string>{"\xc3\xa9"});
    CHECK(s.trailing == "\xff");
  }
  SUBCASE("the views point into the payload") {
    std::string payload = "ab\0cd"s;
    auto s = split_strings(payload);
    REQUIRE(s.strings.size() == 1);
    CHECK(s.strings[0].data() == payload.data());
    CHECK(s.trailing.data() == payload.data() + 3);
  }
  SUBCASE("a full 4096-byte payload of NULs") {
    std::string payload(kPayloadMax, '\0');
    auto s = split_strings(payload);
    CHECK(s.strings.size() == kPayloadMax);
    CHECK(s.trailing.empty());
  }
}

TEST_CASE("join_strings terminates each string with a NUL") {
  CHECK(join_strings({}).empty());
  CHECK(join_strings({""}) == "\0"s);
  CHECK(join_strings({"", ""}) == "\0\0"s);
  CHECK(join_strings({"/a", "tok"}) == "/a\0tok\0"s);
  CHECK(join_strings({"a\0b"s}) == "a\0b\0"s);  // embedded NULs are not escaped

  SUBCASE("split_strings inverts join_strings for strings without NULs") {
    std::vector<std::string> in = {"/local/domain/1", "", "tok", "r0"};
    auto s = split(join_strings(in));
    CHECK(s.strings == in);
    CHECK(s.trailing.empty());
  }
}
