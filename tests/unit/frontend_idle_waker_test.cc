// frontend/idle_waker: an armed waker calls its wake once an fd is ready (at once if one
// already is), takes none of the Poller's events, fires once per arm, and, through
// SessionClient::wake(), ends a wait in gRPC that has no deadline.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "frontend/idle_waker.h"
#include "frontend/poller.h"
#include "frontend/session_client.h"

using dxs::CapturingLogger;
using dxs::frontend::FdHandler;
using dxs::frontend::IdleWaker;
using dxs::frontend::Poller;
using dxs::frontend::SessionClient;
using dxs::frontend::SessionClientOptions;

namespace {

struct Pipe {
  Pipe() { REQUIRE(::pipe(fd) == 0); }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void make_readable() { REQUIRE(::write(fd[1], "x", 1) == 1); }
  void drain() {
    char c;
    REQUIRE(::read(fd[0], &c, 1) == 1);
  }
  bool readable() const {
    pollfd p{fd[0], POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }
  int fd[2];
};

// Counts wakes; a test waits for a count (the bound is for a broken waker, not timing).
struct Wakes {
  void operator()() {
    std::lock_guard lock(mu);
    ++count;
    cv.notify_all();
  }
  bool reach(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] { return count >= n; });
  }
  int now() {
    std::lock_guard lock(mu);
    return count;
  }
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
};

struct Counter final : FdHandler {
  void on_fd_ready(uint32_t) override { ++calls; }
  int calls = 0;
};

}  // namespace

TEST_CASE("armed, it wakes once the fd is readable, consumes nothing, and fires once per arm") {
  CapturingLogger log;
  Pipe p;
  Wakes wakes;
  IdleWaker waker(
      p.fd[0], [&] { wakes(); }, log);
  REQUIRE(waker.start());
  waker.arm();
  p.make_readable();
  REQUIRE(wakes.reach(1));
  CHECK(p.readable());  // the byte is still there: the waker only looked

  // Still readable, but the watch is spent until armed again; armed, it fires at once.
  waker.arm();
  REQUIRE(wakes.reach(2));
  p.drain();
  waker.arm();
  p.make_readable();
  REQUIRE(wakes.reach(3));
  // One wake per arm: a watch that did not disarm itself would have fired many times
  // while the fd stayed readable.
  CHECK(wakes.now() == 3);
}

TEST_CASE("on a Poller: an edge-triggered fd and wake_up() wake it, and wait() still sees them") {
  CapturingLogger log;
  Poller poller(log);
  REQUIRE(poller.open());
  Pipe p;
  Counter handler;
  REQUIRE(poller.add(p.fd[0], EPOLLIN | EPOLLET, handler));
  Wakes wakes;
  IdleWaker waker(
      poller.fd(), [&] { wakes(); }, log);
  REQUIRE(waker.start());

  waker.arm();
  p.make_readable();
  REQUIRE(wakes.reach(1));
  CHECK(poller.wait(0) == 1);  // the edge was not used up by the waker's look
  CHECK(handler.calls == 1);

  waker.arm();
  std::thread other([&] { poller.wake_up(); });
  other.join();
  REQUIRE(wakes.reach(2));
  CHECK(poller.wait(0) == 0);  // a wake-up calls no handler, and is taken
}

TEST_CASE("through SessionClient::wake(), a Poller fd ends a session poll without deadline") {
  CapturingLogger log;
  Poller poller(log);
  REQUIRE(poller.open());
  Pipe p;
  Counter handler;
  REQUIRE(poller.add(p.fd[0], EPOLLIN, handler));
  SessionClientOptions options;
  options.store_path = "/nonexistent/store.sock";  // never started: only its queue is used
  SessionClient session(options, poller, log);
  IdleWaker waker(
      poller.fd(), [&] { session.wake(); }, log);
  REQUIRE(waker.start());

  for (int round = 0; round < 3; ++round) {
    waker.arm();
    std::thread client([&] { p.make_readable(); });
    CHECK(session.poll(SessionClient::kForever) == 0);  // returned, and a wake is no event
    client.join();
    CHECK(poller.wait(0) == 1);
    p.drain();
  }
  CHECK(handler.calls == 3);
}
