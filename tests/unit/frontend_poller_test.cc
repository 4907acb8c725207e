// frontend/poller: ready fds reach their handler with their events, the interest set can
// change, a wake-up ends a blocked wait, and a handler removed mid-round is not called.
#include <doctest/doctest.h>

#include <unistd.h>

#include <functional>
#include <thread>

#include "common/log.h"
#include "frontend/poller.h"

using dxs::CapturingLogger;
using dxs::frontend::FdHandler;
using dxs::frontend::Poller;

namespace {

struct Pipe {
  Pipe() { REQUIRE(::pipe(fd) == 0); }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void make_readable() { REQUIRE(::write(fd[1], "x", 1) == 1); }
  int fd[2];
};

struct Counter final : FdHandler {
  void on_fd_ready(uint32_t events) override {
    ++calls;
    last_events = events;
    if (then) then();
  }
  int calls = 0;
  uint32_t last_events = 0;
  std::function<void()> then;
};

}  // namespace

TEST_CASE("a ready fd's handler is called with its events; modify changes what is waited for") {
  CapturingLogger log;
  Poller poller(log);
  REQUIRE(poller.open());
  Pipe p;
  Counter reader, writer;
  REQUIRE(poller.add(p.fd[0], EPOLLIN, reader));
  REQUIRE(poller.add(p.fd[1], 0, writer));  // registered, interested in nothing yet
  CHECK(poller.wait(0) == 0);
  p.make_readable();
  CHECK(poller.wait(0) == 1);
  CHECK(reader.calls == 1);
  CHECK((reader.last_events & EPOLLIN) != 0);
  REQUIRE(poller.modify(p.fd[1], EPOLLOUT, writer));
  CHECK(poller.wait(0) == 2);  // still readable (level-triggered), now writable too
  CHECK(writer.calls == 1);
  CHECK((writer.last_events & EPOLLOUT) != 0);
  poller.remove(p.fd[0], reader);
  poller.remove(p.fd[1], writer);
  CHECK(poller.wait(0) == 0);
  CHECK(reader.calls == 2);
}

TEST_CASE("wake_up from another thread ends a wait with no time limit") {
  CapturingLogger log;
  Poller poller(log);
  REQUIRE(poller.open());
  std::thread waker([&] { poller.wake_up(); });
  CHECK(poller.wait(-1) == 0);  // returns: the wake-up is no handler's event
  waker.join();
  CHECK(poller.wait(0) == 0);  // and it was consumed
}

TEST_CASE("a handler removed during a round is not called for the event already collected") {
  CapturingLogger log;
  Poller poller(log);
  REQUIRE(poller.open());
  Pipe p1, p2;
  Counter h1, h2;
  // Whichever runs first removes the other: both fds are ready in the same round.
  h1.then = [&] { poller.remove(p2.fd[0], h2); };
  h2.then = [&] { poller.remove(p1.fd[0], h1); };
  REQUIRE(poller.add(p1.fd[0], EPOLLIN, h1));
  REQUIRE(poller.add(p2.fd[0], EPOLLIN, h2));
  p1.make_readable();
  p2.make_readable();
  CHECK(poller.wait(0) == 1);
  CHECK(h1.calls + h2.calls == 1);
}
