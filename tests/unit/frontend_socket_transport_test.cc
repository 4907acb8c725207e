// frontend/socket_transport over a real Unix socket in a temporary directory: framing of
// bytes that arrive in any pieces, the 4096-byte payload limit, one send() per client per
// flush, the in-flight and output-backlog pauses, and dropping a client that never reads.
// The test plays the event loop (Poller::wait, run_pending, flush_pending) and the store
// (a recording SessionLink, replies handed to the Dispatch).
#include <doctest/doctest.h>

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "common/log.h"
#include "common/unix_socket.h"
#include "common/wire.h"
#include "frontend/dispatch.h"
#include "frontend/poller.h"
#include "frontend/socket_transport.h"
#include "frontend_fakes.h"

namespace pb = dxs::pb;
namespace wire = dxs::wire;
using dxs::CapturingLogger;
using dxs::frontend::Dispatch;
using dxs::frontend::DispatchOptions;
using dxs::frontend::FdStore;
using dxs::frontend::Poller;
using dxs::frontend::SocketTransport;
using dxs::frontend::SocketTransportOptions;
using dxs::testing::event_for;
using dxs::testing::RecordingLink;
using dxs::testing::reply_to;

// Counts the transport's send() calls: the test's own client writes with write(). Defined
// here, it takes the place of libc's send() for the whole test program.
namespace {
std::atomic<int> g_send_calls{0};
}
extern "C" ssize_t send(int fd, const void* buf, size_t len, int flags) {
  ++g_send_calls;
  return ::sendto(fd, buf, len, flags, nullptr, 0);
}

namespace {

std::string read_request(const std::string& path, uint32_t req_id = 1) {
  std::string out;
  wire::append_message(out, wire::to_u32(wire::MsgType::kRead), req_id, 0, path + '\0');
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dxs-fe-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

struct Harness {
  explicit Harness(SocketTransportOptions options = {}, uint32_t max_in_flight = 64)
      : poller(log),
        dispatch(link, log, DispatchOptions{max_in_flight}),
        fd_store(log),
        transport(poller, dispatch, fd_store, log, with_path(std::move(options))) {
    REQUIRE(poller.open());
    pb::Welcome w;
    w.set_conn_id_base(100);
    dispatch.on_attached(w);
    REQUIRE(transport.listen());
  }
  ~Harness() {
    if (client >= 0) ::close(client);
  }
  SocketTransportOptions with_path(SocketTransportOptions o) {
    o.path = dir.path + "/socket";
    return o;
  }

  // One round of the event loop's client side.
  void round(int timeout_ms = 0) {
    const int n = transport.run_pending();
    poller.wait(n > 0 ? 0 : timeout_ms);
    transport.flush_pending();
  }
  // Goes round (waiting for events, 10 ms at most each) until `done`; false if it never is.
  bool until(const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) round(10);
    return done();
  }

  // Connects the client and waits for the transport to open its connection.
  uint64_t connect() {
    auto fd = dxs::connect_unix(dir.path + "/socket");
    REQUIRE(fd);
    client = *fd;
    REQUIRE(until([&] { return link.count(pb::Inbound::kOpen) == 1; }));
    return link.items.back().open().conn();
  }
  // Kernel memory of the client's writes the transport has not consumed (it peeks
  // before it consumes); 0 once all are.
  size_t client_unconsumed() {
    int n = -1;
    REQUIRE(::ioctl(client, SIOCOUTQ, &n) == 0);
    return static_cast<size_t>(n);
  }
  void client_write(const std::string& bytes) {
    REQUIRE(::write(client, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
  // What the client can read now without waiting; sets `eof` at end of stream.
  std::string client_read_available(bool* eof = nullptr) {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 && eof) *eof = true;
      if (n < 0) REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      return out;
    }
  }
  void answer(std::initializer_list<pb::Outbound> items) {
    pb::SessionResponse r;
    for (const auto& o : items) *r.add_items() = o;
    dispatch.on_response(r);
  }
  // Watch events totalling about `bytes` for `conn`, ids 1..n; returns n.
  uint64_t flood_events(uint64_t conn, size_t bytes) {
    pb::SessionResponse r;
    const std::string path(3000, 'p');
    uint64_t n = 0;
    for (size_t sent = 0; sent < bytes; sent += path.size()) {
      *r.add_items() = event_for(conn, ++n, path, "t");
    }
    dispatch.on_response(r);
    return n;
  }
  uint64_t last_event_ack() const {
    uint64_t id = 0;
    for (const auto& i : link.items) {
      if (i.has_event_ack()) id = i.event_ack().event_id();
    }
    return id;
  }
  const pb::CloseConnection* close_item() const {
    for (const auto& i : link.items) {
      if (i.has_close()) return &i.close();
    }
    return nullptr;
  }

  TempDir dir;
  CapturingLogger log;
  RecordingLink link;
  Poller poller;
  Dispatch dispatch;
  FdStore fd_store;  // disabled: no NOTIFY_SOCKET
  SocketTransport transport;
  int client = -1;
};

}  // namespace

TEST_CASE("a client's open names its pid, uid and command, for the history's authors") {
  Harness h;
  h.connect();
  const pb::OpenConnection& open = h.link.items.back().open();
  CHECK(open.peer_pid() == getpid());
  CHECK(open.peer_uid() == getuid());
  char comm[64] = {};
  FILE* self = std::fopen("/proc/self/comm", "r");
  REQUIRE(self != nullptr);
  REQUIRE(std::fgets(comm, sizeof comm, self) != nullptr);
  std::fclose(self);
  std::string expected(comm);
  if (!expected.empty() && expected.back() == '\n') expected.pop_back();
  CHECK(!expected.empty());
  CHECK(open.peer_comm() == expected);
}

TEST_CASE("a message arriving one byte at a time becomes one request") {
  Harness h;
  const uint64_t conn = h.connect();
  const std::string bytes = read_request("/local/domain/0/name");
  for (size_t i = 0; i < bytes.size(); ++i) {
    h.client_write(bytes.substr(i, 1));
    h.round();
    REQUIRE(h.link.requests().size() == (i + 1 == bytes.size() ? 1u : 0u));
  }
  const pb::Request r = h.link.requests().at(0);
  CHECK(r.conn() == conn);
  CHECK(r.path().path() == "/local/domain/0/name");
  // And several messages in one piece are several requests.
  h.client_write(read_request("/a") + read_request("/b"));
  REQUIRE(h.until([&] { return h.link.requests().size() == 3; }));
  CHECK(h.link.requests()[2].path().path() == "/b");
}

TEST_CASE("a client whose header announces more than 4096 bytes is closed") {
  Harness h;
  h.connect();
  std::string header(wire::kHeaderSize, '\0');
  wire::encode_header({wire::to_u32(wire::MsgType::kWrite), 1, 0, wire::kPayloadMax + 1},
                      reinterpret_cast<uint8_t*>(header.data()));
  h.client_write(header);
  REQUIRE(h.until([&] { return h.close_item() != nullptr; }));
  CHECK(h.close_item()->reason() == "payload over 4096 bytes");
  CHECK(h.link.requests().empty());
  bool eof = false;
  h.client_read_available(&eof);
  CHECK(eof);
}

TEST_CASE("a batch's replies are held until flush_pending and leave with one send") {
  Harness h;
  const uint64_t conn = h.connect();
  h.client_write(read_request("/a", 1) + read_request("/b", 2));
  REQUIRE(h.until([&] { return h.link.requests().size() == 2; }));
  h.answer({reply_to(conn, 1, 1, "one"), reply_to(conn, 2, 2, "two")});
  CHECK(h.client_read_available().empty());
  const int before = g_send_calls;
  h.transport.flush_pending();
  CHECK(g_send_calls - before == 1);
  std::string want;
  wire::append_message(want, wire::to_u32(wire::MsgType::kRead), 1, 0, "one");
  wire::append_message(want, wire::to_u32(wire::MsgType::kRead), 2, 0, "two");
  CHECK(h.client_read_available() == want);
}

TEST_CASE("a request stays in the socket until its reply is written") {
  Harness h;
  const uint64_t conn = h.connect();
  // Two writes, two buffers in the kernel: SIOCOUTQ counts the memory of those the
  // receiver has not consumed.
  h.client_write(read_request("/a", 1));
  const size_t one = h.client_unconsumed();
  REQUIRE(one > 0);
  h.client_write(read_request("/b", 2));
  REQUIRE(h.until([&] { return h.link.requests().size() == 2; }));
  // Read (peeked) and sent to the store, but the client's bytes are all still queued.
  const size_t both = h.client_unconsumed();
  CHECK(both == 2 * one);
  h.answer({reply_to(conn, 1, 1, "one")});
  CHECK(h.client_unconsumed() == both);
  h.transport.flush_pending();
  CHECK(h.client_unconsumed() == one);
  // A request arriving after peeked ones is read once, not the earlier ones again.
  h.client_write(read_request("/c", 3));
  REQUIRE(h.until([&] { return h.link.requests().size() == 3; }));
  for (int i = 0; i < 3; ++i) h.round();
  CHECK(h.link.requests().size() == 3);
  CHECK(h.link.requests()[2].path().path() == "/c");
  h.answer({reply_to(conn, 2, 2, "two"), reply_to(conn, 3, 3, "three")});
  h.transport.flush_pending();
  CHECK(h.client_unconsumed() == 0);
}

TEST_CASE("the in-flight limit stops reading a client until its replies come") {
  Harness h({}, 2);
  const uint64_t conn = h.connect();
  h.client_write(read_request("/1") + read_request("/2") + read_request("/3"));
  REQUIRE(h.until([&] { return h.link.requests().size() == 2; }));
  for (int i = 0; i < 5; ++i) h.round();
  CHECK(h.link.requests().size() == 2);  // the third waits, already read, in the transport
  h.answer({reply_to(conn, 1, 1, ""), reply_to(conn, 2, 1, "")});
  REQUIRE(h.until([&] { return h.link.requests().size() == 3; }));
  CHECK(h.link.requests()[2].path().path() == "/3");
}

TEST_CASE("a client behind on its output is not read until it catches up; events are acked") {
  SocketTransportOptions o;
  o.pause_bytes = 64 << 10;
  Harness h(o);
  const uint64_t conn = h.connect();
  const uint64_t last = h.flood_events(conn, 4 << 20);
  h.transport.flush_pending();
  h.client_write(read_request("/waiting"));
  for (int i = 0; i < 5; ++i) h.round();
  CHECK(h.link.requests().empty());  // its request sits unread in the socket
  size_t received = 0;
  REQUIRE(h.until([&] {
    received += h.client_read_available().size();
    return !h.link.requests().empty();
  }));
  CHECK(h.link.requests()[0].path().path() == "/waiting");
  // Every event is acknowledged once all of its bytes are written, the last one too.
  REQUIRE(h.until([&] {
    received += h.client_read_available().size();
    return h.last_event_ack() == last;
  }));
  CHECK(h.close_item() == nullptr);
  CHECK(received == last * (wire::kHeaderSize + 3000 + 3));
}

TEST_CASE("a client that does not read is dropped at max_queued_bytes") {
  SocketTransportOptions o;
  o.pause_bytes = 64 << 10;
  o.max_queued_bytes = 1 << 20;
  Harness h(o);
  const uint64_t conn = h.connect();
  h.flood_events(conn, 4 << 20);
  REQUIRE(h.until([&] { return h.close_item() != nullptr; }));
  CHECK(h.close_item()->reason() == "write failed");
  CHECK(h.log.contains({"is not reading"}));
  bool eof = false;
  REQUIRE(h.until([&] {
    h.client_read_available(&eof);
    return eof;
  }));
}

TEST_CASE("a client that hangs up is reported closed") {
  Harness h;
  const uint64_t conn = h.connect();
  ::close(h.client);
  h.client = -1;
  REQUIRE(h.until([&] { return h.close_item() != nullptr; }));
  CHECK(h.close_item()->conn() == conn);
  CHECK(h.close_item()->reason() == "closed by the client");
}
