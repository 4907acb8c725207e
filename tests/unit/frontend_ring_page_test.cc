// RingPage on a plain page of memory, with the test playing the guest.
#include "frontend/ring_page.h"

#include <doctest/doctest.h>
#include <xen/io/xs_wire.h>

#include <cstring>
#include <string>
#include <vector>

using dxs::frontend::RingPage;

namespace {

struct Page {
  alignas(4096) char bytes[4096] = {};
  xenstore_domain_interface* intf() { return reinterpret_cast<xenstore_domain_interface*>(bytes); }
};

// The guest's side: writes request bytes at req_prod and publishes it.
void guest_send(xenstore_domain_interface* intf, const std::string& data) {
  for (char c : data) {
    intf->req[intf->req_prod & (XENSTORE_RING_SIZE - 1)] = c;
    ++intf->req_prod;
  }
}

// The guest's side: takes every response byte there is.
std::string guest_take(xenstore_domain_interface* intf) {
  std::string out;
  while (intf->rsp_cons != intf->rsp_prod) {
    out += intf->rsp[intf->rsp_cons & (XENSTORE_RING_SIZE - 1)];
    ++intf->rsp_cons;
  }
  return out;
}

std::string read_all(RingPage& ring, RingPage::Fault& fault) {
  char buf[RingPage::kRingSize];
  const size_t n = ring.read(buf, sizeof buf, fault);
  return std::string(buf, n);
}

}  // namespace

TEST_CASE("requests are read without being consumed until consume()") {
  Page p;
  RingPage ring(p.bytes);
  ring.adopt_indices();
  guest_send(p.intf(), "hello");
  RingPage::Fault fault;
  CHECK(read_all(ring, fault) == "hello");
  CHECK(fault == RingPage::Fault::kNone);
  CHECK(ring.read_cursor() == 5);
  CHECK(p.intf()->req_cons == 0);
  CHECK(ring.unconsumed() == 5);
  guest_send(p.intf(), "!");
  CHECK(read_all(ring, fault) == "!");
  ring.consume(5);
  CHECK(p.intf()->req_cons == 5);
  ring.consume(7);  // beyond what was read: ignored
  CHECK(p.intf()->req_cons == 5);
  ring.consume(2);  // backwards: ignored
  CHECK(p.intf()->req_cons == 5);
  ring.consume(6);
  CHECK(p.intf()->req_cons == 6);
}

TEST_CASE("indices are free-running across the u32 wrap and the ring's end") {
  Page p;
  const uint32_t start = 0xFFFFFFFFu - 600;
  p.intf()->req_cons = p.intf()->req_prod = start;
  p.intf()->rsp_cons = p.intf()->rsp_prod = start;
  RingPage ring(p.bytes);
  ring.adopt_indices();
  std::string big;
  for (int i = 0; i < 1000; ++i) big += static_cast<char>('a' + i % 26);
  guest_send(p.intf(), big);
  RingPage::Fault fault;
  CHECK(read_all(ring, fault) == big);
  ring.consume(ring.read_cursor());
  CHECK(p.intf()->req_cons == start + 1000);

  CHECK(ring.write(big.data(), big.size(), fault) == big.size());
  CHECK(fault == RingPage::Fault::kNone);
  CHECK(guest_take(p.intf()) == big);
}

TEST_CASE("a response longer than the room left goes in part, the rest after the guest reads") {
  Page p;
  RingPage ring(p.bytes);
  ring.adopt_indices();
  std::string data(1500, 'x');
  RingPage::Fault fault;
  CHECK(ring.write(data.data(), data.size(), fault) == RingPage::kRingSize);
  CHECK(ring.write(data.data(), 1, fault) == 0);
  CHECK(guest_take(p.intf()).size() == RingPage::kRingSize);
  CHECK(ring.write(data.data(), 476, fault) == 476);
  CHECK(ring.produced() == 1500);
}

TEST_CASE("hostile indices are faults, never reads or writes out of range") {
  Page p;
  RingPage ring(p.bytes);
  ring.adopt_indices();
  RingPage::Fault fault;

  SUBCASE("req_prod more than a ring ahead") {
    p.intf()->req_prod = RingPage::kRingSize + 1;
    CHECK(read_all(ring, fault).empty());
    CHECK(fault == RingPage::Fault::kRequestIndex);
  }
  SUBCASE("req_prod moved back behind what was read") {
    guest_send(p.intf(), "abcdef");
    CHECK(read_all(ring, fault) == "abcdef");
    p.intf()->req_prod = 3;
    CHECK(read_all(ring, fault).empty());
    CHECK(fault == RingPage::Fault::kRequestIndex);
  }
  SUBCASE("req_prod a whole u32 turn back") {
    p.intf()->req_prod = 0xFFFFFFFFu;
    CHECK(read_all(ring, fault).empty());
    CHECK(fault == RingPage::Fault::kRequestIndex);
  }
  SUBCASE("rsp_cons past rsp_prod") {
    p.intf()->rsp_cons = 10;
    CHECK(ring.write("x", 1, fault) == 0);
    CHECK(fault == RingPage::Fault::kResponseIndex);
  }
  SUBCASE("the guest scribbles over the server's own indices") {
    guest_send(p.intf(), "abc");
    p.intf()->req_cons = 1000;  // not ours to trust
    p.intf()->rsp_prod = 77;
    CHECK(read_all(ring, fault) == "abc");
    CHECK(fault == RingPage::Fault::kNone);
    CHECK(ring.write("z", 1, fault) == 1);
    CHECK(p.intf()->rsp_prod == 1);
  }
}

TEST_CASE("a full request ring is seen as full") {
  Page p;
  RingPage ring(p.bytes);
  ring.adopt_indices();
  guest_send(p.intf(), std::string(RingPage::kRingSize, 'q'));
  CHECK(ring.request_ring_full());
  RingPage::Fault fault;
  CHECK(read_all(ring, fault).size() == RingPage::kRingSize);
  CHECK(ring.request_ring_full());  // read is not consumed
  ring.consume(ring.read_cursor());
  CHECK_FALSE(ring.request_ring_full());
}

TEST_CASE(
    "reset zeroes the indices and the error, poisons both streams, clears the connection field") {
  Page p;
  p.intf()->req_prod = p.intf()->req_cons = 500;
  p.intf()->rsp_prod = p.intf()->rsp_cons = 300;
  p.intf()->connection = XENSTORE_RECONNECT;
  p.intf()->error = XENSTORE_ERROR_RINGIDX;
  RingPage ring(p.bytes);
  ring.adopt_indices();
  CHECK(ring.connection() == RingPage::kReconnect);
  ring.reset();
  CHECK(p.intf()->req_prod == 0);
  CHECK(p.intf()->req_cons == 0);
  CHECK(p.intf()->rsp_prod == 0);
  CHECK(p.intf()->rsp_cons == 0);
  CHECK(p.intf()->connection == XENSTORE_CONNECTED);
  CHECK(p.intf()->error == XENSTORE_ERROR_NONE);
  CHECK(static_cast<unsigned char>(p.intf()->rsp[0]) == 0xff);
  CHECK(ring.read_cursor() == 0);
  CHECK(ring.produced() == 0);
}

TEST_CASE("features are only ever added; the error field is the server's to set") {
  Page p;
  RingPage ring(p.bytes);
  ring.advertise(RingPage::kFeatureReconnection);
  ring.advertise(RingPage::kFeatureError);
  CHECK(p.intf()->server_features ==
        (XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR));
  ring.set_error(RingPage::kErrorProto);
  CHECK(p.intf()->error == XENSTORE_ERROR_PROTO);
  CHECK(ring.error() == XENSTORE_ERROR_PROTO);
}
