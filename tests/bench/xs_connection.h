// A minimal raw Xenstore client for the benchmarks: one connection on a Unix socket, the
// 16-byte header framing of xs_wire.h, requests that can be sent one at a time (call) or
// pipelined (queue + flush + receive). It knows message types, not their meaning.
//
// Any failure (connect, I/O, a closed connection, a malformed header) prints a message and
// ends the process: a benchmark that lost its connection has no result to report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xsbench {

// xsd_sockmsg_type (xen/include/public/io/xs_wire.h).
enum MessageType : uint32_t {
  kDirectory = 1,
  kRead = 2,
  kWatch = 4,
  kTransactionStart = 6,
  kTransactionEnd = 7,
  kGetDomainPath = 10,
  kWrite = 11,
  kMkdir = 12,
  kRm = 13,
  kWatchEvent = 15,
  kError = 16,
};

constexpr size_t kPayloadMax = 4096;

struct Message {
  uint32_t type = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  std::string payload;

  bool is_error() const { return type == kError; }
  // The error name (EAGAIN, ...) of an ERROR reply; empty otherwise.
  std::string error() const;
};

// Prints "xsbench: <message>" to stderr and exits with status 1.
[[noreturn]] void die(const std::string& message);

// "<path>\0"
std::string path_payload(std::string_view path);
// "<path>\0<value>"
std::string write_payload(std::string_view path, std::string_view value);

class Connection {
 public:
  // Connects to the server's Unix socket; dies on failure.
  explicit Connection(const std::string& socket_path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects once; returns the fd or -1 (errno set). For readiness probes.
  static int try_connect(const std::string& socket_path);

  int fd() const { return fd_; }

  // Appends a request to the output buffer; flush() sends all that is queued.
  void queue(uint32_t type, std::string_view payload, uint32_t tx_id = 0);
  void flush();

  // The next message from the server, a reply or a watch event (blocks).
  Message receive();

  // Sends one request and returns its reply. Watch events that arrive before the reply are
  // counted in events_seen() and dropped.
  Message call(uint32_t type, std::string_view payload, uint32_t tx_id = 0);

  // Like call(), but dies unless the reply is a success of the request's type.
  Message call_ok(uint32_t type, std::string_view payload, uint32_t tx_id = 0);

  // Sends the requests that make_request(i, &type, &payload) describes for i in [0, count),
  // keeping at most `window` of them in flight; dies on any error reply.
  template <typename MakeRequest>
  void pipeline(size_t count, size_t window, MakeRequest make_request);

  // Parses the complete messages already received; if there were none, reads once (call it
  // when the fd is readable, or when a message is due) and parses again. Returns how many
  // of them were watch events; replies are dropped.
  size_t drain_events();

  uint64_t events_seen() const { return events_seen_; }

 private:
  // Parses one complete message from the input buffer into *m; false if none is complete.
  bool parse(Message* m);
  // One read() into the input buffer; dies on EOF or error.
  void fill();

  int fd_ = -1;
  uint32_t next_req_id_ = 1;
  std::string out_;
  std::vector<char> in_;
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  uint64_t events_seen_ = 0;
};

template <typename MakeRequest>
void Connection::pipeline(size_t count, size_t window, MakeRequest make_request) {
  size_t sent = 0;
  size_t answered = 0;
  uint32_t type = 0;
  std::string payload;
  while (answered < count) {
    while (sent < count && sent - answered < window) {
      make_request(sent, &type, &payload);
      queue(type, payload);
      ++sent;
    }
    flush();
    Message m = receive();
    if (m.type == kWatchEvent) continue;
    if (m.is_error()) die("pipelined request failed: " + m.error());
    ++answered;
  }
}

}  // namespace xsbench
