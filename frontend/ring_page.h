// RingPage: the server's side of a guest's Xenstore page (struct xenstore_domain_interface
// in xs_wire.h; docs/misc/xenstore-ring.txt): a 1024-byte request stream from the guest,
// a 1024-byte response stream to it, each with free-running u32 indices, and the
// feature, connection and error fields.
//
// The guest is hostile and may write any field at any moment. The server's own indices
// (req_cons, rsp_prod) are kept here and only ever written to the page, never read back;
// the guest's (req_prod, rsp_cons) are read once per call into locals and validated
// against them before use (XSA-38): neither may be more than a ring ahead of the other.
// Barriers order the index reads before the data copies and the copies before the index
// writes. A violation is a Fault; the caller sets the error field and serves the ring no
// more (until the guest resets it).
//
// Reading is separate from consuming: read() copies request bytes from a private cursor
// without publishing req_cons, and consume() publishes how far the server is done with
// them, so a request stays in the ring until its reply is in the ring too.
//
// Not thread-safe: one owner, the ring transport.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dxs::frontend {

class RingPage {
 public:
  static constexpr uint32_t kRingSize = 1024;  // XENSTORE_RING_SIZE
  static constexpr size_t kPageSize = 4096;
  // server_features bits and the connection and error fields' values (xs_wire.h).
  static constexpr uint32_t kFeatureReconnection = 1;
  static constexpr uint32_t kFeatureError = 2;
  static constexpr uint32_t kReconnect = 1;
  static constexpr uint32_t kErrorComm = 1;
  static constexpr uint32_t kErrorRingIndex = 2;
  static constexpr uint32_t kErrorProto = 3;

  enum class Fault { kNone, kRequestIndex, kResponseIndex };

  // REQUIRES: `page` is a kPageSize mapping of the guest's page that outlives this.
  explicit RingPage(void* page);

  // Takes the indices the page holds as the server's own (a ring already in use).
  void adopt_indices();
  // Zeroes all four indices and the error field and sets the connection field to
  // connected (a reset the guest asked for, or a re-introduction). What was in either
  // stream is gone.
  void reset();
  // Sets feature bits (bits are only ever added).
  void advertise(uint32_t features);
  void set_error(uint32_t code);
  uint32_t error() const;
  // The connection field as the guest last wrote it.
  uint32_t connection() const;

  // Copies up to `max` request bytes from the read cursor into `out` and advances the
  // cursor; returns how many (0: none available). Sets `fault` if req_prod is invalid.
  size_t read(char* out, size_t max, Fault& fault);
  // Stream offset of the next byte read() returns.
  uint32_t read_cursor() const { return cursor_; }
  // Publishes req_cons = upto. REQUIRES: consumed() <= upto <= read_cursor() (mod 2^32).
  void consume(uint32_t upto);
  uint32_t consumed() const { return req_cons_; }
  // Bytes read and not yet consumed.
  uint32_t unconsumed() const { return cursor_ - req_cons_; }
  // The guest has filled the request ring with bytes not yet consumed: it cannot write
  // more until consume() (req_prod read now, unvalidated beyond that).
  bool request_ring_full() const;

  // Writes as much of data[0, n) as the response ring has room for and publishes
  // rsp_prod; returns how many bytes went in. Sets `fault` if rsp_cons is invalid.
  size_t write(const char* data, size_t n, Fault& fault);
  uint32_t produced() const { return rsp_prod_; }

 private:
  struct Layout;
  Layout* page_;
  uint32_t req_cons_ = 0;  // published
  uint32_t cursor_ = 0;    // read, maybe not published
  uint32_t rsp_prod_ = 0;  // published
};

}  // namespace dxs::frontend
