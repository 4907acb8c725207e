// Backpressure (store/backpressure.h): who a watcher far behind holds up, and when the
// holds lift.
#include "store/backpressure.h"

#include <doctest/doctest.h>

using dxs::store::Backpressure;
using dxs::store::BackpressureOptions;

namespace {

constexpr uint64_t kWriter = 10, kWatcher = 11, kOther = 12;
constexpr bool kDom0 = true, kGuest = false;

Backpressure four_behind(int64_t hold_ns = 1000) {
  BackpressureOptions o;
  o.behind = 4;
  o.hold_ns = hold_ns;
  return Backpressure(o);
}

}  // namespace

TEST_CASE("a watcher holds up its feeder from `behind` events unacknowledged on") {
  Backpressure b = four_behind();
  CHECK_FALSE(b.behind(3));
  CHECK(b.behind(4));
  CHECK_FALSE(b.fed(kWriter, kDom0, kWatcher, kDom0, 3, 0));
  CHECK_FALSE(b.any());
  CHECK(b.fed(kWriter, kDom0, kWatcher, kDom0, 4, 0));
  CHECK(b.holds(kWriter));
  CHECK_FALSE(b.holds(kWatcher));
  CHECK_FALSE(b.holds(kOther));
  // Fed again while held: the same hold, renewed, not a second one.
  CHECK_FALSE(b.fed(kWriter, kDom0, kWatcher, kDom0, 5, 500));
  CHECK(b.next_expiry() == 1500);
}

TEST_CASE("no guest holds up dom0, and nobody is held for their own events") {
  Backpressure b = four_behind();
  CHECK_FALSE(b.fed(kWriter, kDom0, kWatcher, kGuest, 100, 0));
  CHECK_FALSE(b.fed(kWatcher, kDom0, kWatcher, kDom0, 100, 0));
  CHECK_FALSE(b.fed(kWatcher, kGuest, kWatcher, kGuest, 100, 0));
  CHECK_FALSE(b.any());
  CHECK(b.fed(kWriter, kGuest, kWatcher, kGuest, 4, 0));
  CHECK(b.fed(kOther, kGuest, kWatcher, kDom0, 4, 0));
  CHECK(b.holds(kWriter));
  CHECK(b.holds(kOther));
}

TEST_CASE("a watcher that catches up lets go of everyone it held, and only them") {
  Backpressure b = four_behind();
  const uint64_t second_watcher = 20;
  REQUIRE(b.fed(kWriter, kDom0, kWatcher, kDom0, 9, 0));
  REQUIRE(b.fed(kOther, kDom0, kWatcher, kDom0, 9, 0));
  REQUIRE(b.fed(30, kDom0, second_watcher, kDom0, 9, 0));
  const uint64_t lifted = b.lifted();
  // Still behind after reading some: nothing goes.
  b.acknowledged(kWatcher, 4);
  CHECK(b.holds(kWriter));
  CHECK(b.lifted() == lifted);
  b.acknowledged(kWatcher, 3);
  CHECK_FALSE(b.holds(kWriter));
  CHECK_FALSE(b.holds(kOther));
  CHECK(b.holds(30));
  CHECK(b.lifted() == lifted + 2);
}

TEST_CASE("a hold ends by itself after hold_ns, counted from the last event it fed") {
  Backpressure b = four_behind(1000);
  CHECK_FALSE(b.next_expiry().has_value());
  REQUIRE(b.fed(kWriter, kDom0, kWatcher, kDom0, 4, 0));
  REQUIRE(b.fed(kOther, kDom0, kWatcher, kDom0, 4, 300));
  CHECK(b.next_expiry() == 1000);
  CHECK_FALSE(b.expire(999));
  CHECK(b.expire(1000));
  CHECK_FALSE(b.holds(kWriter));
  CHECK(b.holds(kOther));
  CHECK(b.next_expiry() == 1300);
  CHECK(b.expire(5000));
  CHECK_FALSE(b.any());
  CHECK_FALSE(b.next_expiry().has_value());
}

TEST_CASE("a connection gone is no longer held, nor holds anyone") {
  Backpressure b = four_behind();
  REQUIRE(b.fed(kWriter, kDom0, kWatcher, kDom0, 4, 0));
  REQUIRE(b.fed(kOther, kDom0, 40, kDom0, 4, 0));
  b.forget(kWatcher);
  CHECK_FALSE(b.holds(kWriter));
  CHECK(b.holds(kOther));
  b.forget(kOther);
  CHECK_FALSE(b.any());
}

TEST_CASE("behind = 0 holds nobody") {
  BackpressureOptions o;
  o.behind = 0;
  Backpressure b(o);
  CHECK_FALSE(b.behind(1u << 30));
  CHECK_FALSE(b.fed(kWriter, kGuest, kWatcher, kDom0, 1u << 30, 0));
  CHECK_FALSE(b.any());
}
