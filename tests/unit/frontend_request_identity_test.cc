// frontend/request_identity: digests of wire messages, and where a resumed socket's
// unconsumed requests begin among the store's recorded ones.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/wire.h"
#include "frontend/request_identity.h"

namespace pb = dxs::pb;
namespace wire = dxs::wire;
using dxs::frontend::request_digest;
using dxs::frontend::resume_seq;

namespace {

uint64_t digest_of(wire::MsgType type, uint32_t req_id, const std::string& payload) {
  return request_digest({wire::to_u32(type), req_id, 0, static_cast<uint32_t>(payload.size())},
                        payload);
}

google::protobuf::RepeatedPtrField<pb::RecordedRequest> recorded(
    std::initializer_list<std::pair<uint64_t, uint64_t>> entries) {
  google::protobuf::RepeatedPtrField<pb::RecordedRequest> out;
  for (const auto& [seq, digest] : entries) {
    pb::RecordedRequest* r = out.Add();
    r->set_seq(seq);
    r->set_digest(digest);
  }
  return out;
}

const uint64_t kA = digest_of(wire::MsgType::kWrite, 1, std::string("/a\0x", 4));
const uint64_t kB = digest_of(wire::MsgType::kWrite, 2, std::string("/b\0x", 4));
const uint64_t kRead = digest_of(wire::MsgType::kRead, 3, std::string("/a\0", 3));

}  // namespace

TEST_CASE("a digest covers every header field and every payload byte") {
  const std::string payload("/local/domain/0/name\0vm", 23);
  const uint64_t d = digest_of(wire::MsgType::kWrite, 7, payload);
  CHECK(d == digest_of(wire::MsgType::kWrite, 7, payload));
  CHECK(d != digest_of(wire::MsgType::kMkdir, 7, payload));
  CHECK(d != digest_of(wire::MsgType::kWrite, 8, payload));
  CHECK(d != request_digest({wire::to_u32(wire::MsgType::kWrite), 7, 1, 23}, payload));
  for (size_t i = 0; i < payload.size(); ++i) {
    std::string changed = payload;
    changed[i] ^= 1;
    CHECK(d != digest_of(wire::MsgType::kWrite, 7, changed));
  }
  // The same in every build: it is kept in the store's records across upgrades.
  CHECK(digest_of(wire::MsgType::kRead, 1, "") == 718018921333605684ULL);
}

TEST_CASE("with nothing recorded, every request at the head is new") {
  const std::vector<uint64_t> head{kA, kB};
  CHECK(resume_seq(head, 4, 4, recorded({})) == 5);
}

TEST_CASE("a serial client's recorded request still in its socket is taken for itself") {
  const auto rec = recorded({{7, kA}});
  CHECK(resume_seq(std::vector<uint64_t>{kA}, 6, 7, rec) == 7);
  // Consumed, its reply written: what follows is new.
  CHECK(resume_seq(std::vector<uint64_t>{}, 6, 7, rec) == 8);
  CHECK(resume_seq(std::vector<uint64_t>{kB}, 6, 7, rec) == 8);
}

TEST_CASE("a read before a recorded request keeps its place before it") {
  // Request 6 was a read (not recorded), 7 the write: both still in the socket.
  CHECK(resume_seq(std::vector<uint64_t>{kRead, kA, kB}, 5, 7, recorded({{7, kA}})) == 6);
}

TEST_CASE("identical recorded requests are told apart by the ones after them") {
  // 5 and 6 identical and recorded; 5 consumed: the head is 6, then something new.
  CHECK(resume_seq(std::vector<uint64_t>{kA, kB}, 4, 6, recorded({{5, kA}, {6, kA}})) == 6);
  CHECK(resume_seq(std::vector<uint64_t>{kA, kA, kB}, 4, 6, recorded({{5, kA}, {6, kA}})) == 5);
}

TEST_CASE("the ambiguous case: a new request identical to the last recorded one") {
  // Whether the head is request 5 itself or a byte-identical request 6 sent after it,
  // the socket cannot say; 5 is never applied twice, so the head is taken for 5.
  CHECK(resume_seq(std::vector<uint64_t>{kA}, 4, 5, recorded({{5, kA}})) == 5);
}

TEST_CASE("a start that would leave a recorded request out is not taken") {
  CHECK(resume_seq(std::vector<uint64_t>{kA}, 4, 6, recorded({{5, kA}, {6, kB}})) == 7);
  // Nor one at or before replied_seq: those requests were consumed.
  CHECK(resume_seq(std::vector<uint64_t>{kA}, 5, 6, recorded({{5, kA}})) == 7);
}

namespace {

using dxs::frontend::answered_at_head;

wire::Header request(wire::MsgType type, uint32_t req_id, uint32_t tx_id = 0) {
  return {wire::to_u32(type), req_id, tx_id, 0};
}

std::string message(wire::MsgType type, uint32_t req_id, uint32_t tx_id,
                    const std::string& payload) {
  std::string out;
  wire::append_message(out, wire::to_u32(type), req_id, tx_id, payload);
  return out;
}

}  // namespace

TEST_CASE("replies left in an outbox answer the requests at the head of the socket, in order") {
  const std::vector<wire::Header> head{request(wire::MsgType::kWrite, 4),
                                       request(wire::MsgType::kRead, 5, 9),
                                       request(wire::MsgType::kRm, 6)};
  const std::string ok("OK\0", 3);
  const std::string event = message(wire::MsgType::kWatchEvent, 0, 0, std::string("/a\0t\0", 5));
  // One write of the killed frontend: an event, two replies (one of them an error).
  const std::string pending = event + message(wire::MsgType::kWrite, 4, 0, ok) +
                              message(wire::MsgType::kError, 5, 9, std::string("ENOENT\0", 7));
  CHECK(answered_at_head(pending, head) == 2);
  // Events alone answer nothing.
  CHECK(answered_at_head(event + event, head) == 0);
  CHECK(answered_at_head("", head) == 0);
}

TEST_CASE("an outbox that does not answer the head answers nothing") {
  const std::vector<wire::Header> head{request(wire::MsgType::kWrite, 4)};
  const std::string ok("OK\0", 3);
  const std::string reply = message(wire::MsgType::kWrite, 4, 0, ok);
  // Another request's reply (its requests were consumed; the pipe was being emptied).
  CHECK(answered_at_head(message(wire::MsgType::kWrite, 3, 0, ok), head) == 0);
  CHECK(answered_at_head(message(wire::MsgType::kWrite, 4, 1, ok), head) == 0);
  CHECK(answered_at_head(message(wire::MsgType::kMkdir, 4, 0, ok), head) == 0);
  // Cut: part of the write already spliced into the socket.
  CHECK(answered_at_head(reply.substr(1), head) == 0);
  CHECK(answered_at_head(reply.substr(0, reply.size() - 1), head) == 0);
  // More replies than requests unconsumed.
  CHECK(answered_at_head(reply + reply, head) == 0);
  CHECK(answered_at_head(reply, {}) == 0);
}
