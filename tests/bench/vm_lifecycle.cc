// vm_lifecycle - the VM-lifecycle workload of the dxs benchmark.
//
// Replays N VM lifecycles in parallel (domids 1..N): `xl create` of a PV guest with one vbd
// and one vif, the guest's boot, `xl shutdown`, and the destroy by xl's monitor, request by
// request as the Xenstore trace /work/shared/reference/vm-lifecycle-trace.md describes them
// (section 5, "Replaying it for N VMs"), over the raw Xenstore protocol on a Unix socket.
// Every actor of the trace is its own connection:
//
//   XL   per VM: the `xl create` process (trace 2.1-2.6)
//   XLM  per VM: xl's monitor child; once the guest has shut down it runs the destroy (3.C)
//        and waits for @releaseDomain (3.D)
//   G    per VM: the guest kernel (2.7, 3.A). By default a dom0 socket connection with
//        absolute paths: Xenstore does not enforce permissions on it, as it would on the
//        guest's ring. With --ring, a simulated guest (tests/simguest) over the ring of its
//        domain on the simxen machine (--simxen) instead: paths under its home sent
//        relative as Linux's xenbus sends them, permissions enforced; it also reads its
//        own domid and name, which checks that its relative paths reach its home
//   XS   per VM: `xl shutdown` (3.A)
//   XC   one for all VMs: xenconsoled, driven by @introduceDomain/@releaseDomain and its
//        console watches
//   K0   one for all VMs: dom0's backend drivers (blkback, netback), driven by the events of
//        their watches like Linux's single xenwatch thread (the watch on "backend" is
//        relative, as the kernel registers it, and so are K0's backend paths)
//   HP   each xenstore-read/-write/-list of the hotplug scripts is its own connection
//   HV   one for all VMs: stands in for the hypervisor, which has no Xenstore traffic of its
//        own; a destroyed domain is released with RELEASE D (the daemons learn of a domain's
//        death from the hypervisor otherwise). With --simxen DIR, the daemon runs on that
//        simulated machine (docs/simxen.md; the peers there refuse permissions naming a
//        domain that does not exist) and the replay does what Xen does instead: it creates
//        each domain with a zero ring page (tests/simguest) before xl writes the home,
//        marks it shut down when its kernel is done, and gone after the destroy, each
//        time with VIRQ_DOM_EXC; the daemon itself finds the change and fires
//        @releaseDomain
//
// Cross-actor waits use watches wherever the real actor watches (XL waits for backend state
// 2 and the console tty, G for backend states 2, 4 and 5, K0 reacts to frontend states, the
// destroy waits for backend state 6, XS for the guest's acknowledgement). What the real actors
// learn from the hypervisor (which domains exist, that a guest has shut down) they learn here
// from the replay's own bookkeeping. Every transaction is retried on EAGAIN, as libxl, the
// kernel and xenstore-list do, and counted per kind.
//
// Checks: once a VM has started, FEV/state, BEV/state, FEN/state and BEN/state read "4" and
// console/tty is not empty ("VM started" in the trace); once all VMs have stopped and K0 and
// XC are idle, /local/domain/D, /vm/U, /libxl/D and D's backend directories are gone. Any
// reply the trace does not expect is an error: printed and counted.
//
// usage: vm_lifecycle --socket PATH [--vms N[,N...]] [--mode smoke|quick|full] [--seed S]
//                     [--json] [--no-barrier] [--timeout SEC] [--stagger-ms MS]
//                     [--simxen DIR [--ring]]

#include <getopt.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "guest.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char buf[512];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  vsnprintf(out.data(), out.size(), fmt, ap);
  va_end(ap);
  out.resize(static_cast<size_t>(n));
  return out;
}

// ---------------------------------------------------------------------------------------
// Protocol (xen/include/public/io/xs_wire.h)

enum MsgType : uint32_t {
  XS_DIRECTORY = 1,
  XS_READ = 2,
  XS_WATCH = 4,
  XS_UNWATCH = 5,
  XS_TRANSACTION_START = 6,
  XS_TRANSACTION_END = 7,
  XS_INTRODUCE = 8,
  XS_RELEASE = 9,
  XS_GET_DOMAIN_PATH = 10,
  XS_WRITE = 11,
  XS_MKDIR = 12,
  XS_RM = 13,
  XS_SET_PERMS = 14,
  XS_WATCH_EVENT = 15,
  XS_ERROR = 16,
};

const char* type_name(uint32_t type) {
  switch (type) {
    case XS_DIRECTORY:
      return "DIRECTORY";
    case XS_READ:
      return "READ";
    case XS_WATCH:
      return "WATCH";
    case XS_UNWATCH:
      return "UNWATCH";
    case XS_TRANSACTION_START:
      return "TRANSACTION_START";
    case XS_TRANSACTION_END:
      return "TRANSACTION_END";
    case XS_INTRODUCE:
      return "INTRODUCE";
    case XS_RELEASE:
      return "RELEASE";
    case XS_GET_DOMAIN_PATH:
      return "GET_DOMAIN_PATH";
    case XS_WRITE:
      return "WRITE";
    case XS_MKDIR:
      return "MKDIR";
    case XS_RM:
      return "RM";
    case XS_SET_PERMS:
      return "SET_PERMS";
    case XS_WATCH_EVENT:
      return "WATCH_EVENT";
    case XS_ERROR:
      return "ERROR";
  }
  return "?";
}

constexpr uint32_t kTypeCount = 23;
constexpr size_t kHeaderSize = 16;
constexpr uint32_t kPayloadMax = 4096;

// The payload's fields: NUL-separated strings (a trailing NUL ends the last one).
std::vector<std::string> split_fields(std::string_view body) {
  std::vector<std::string> out;
  while (!body.empty()) {
    size_t nul = body.find('\0');
    if (nul == std::string_view::npos) {
      out.emplace_back(body);
      break;
    }
    out.emplace_back(body.substr(0, nul));
    body.remove_prefix(nul + 1);
  }
  return out;
}

std::string first_field(std::string_view body) {
  size_t nul = body.find('\0');
  return std::string(nul == std::string_view::npos ? body : body.substr(0, nul));
}

// Printable form of a request's payload for error messages: NULs become spaces.
std::string printable(std::string_view payload) {
  std::string out;
  for (char c : payload.substr(0, 200)) out += (c == '\0') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// ---------------------------------------------------------------------------------------
// Actors, transaction kinds, statistics

enum class Role { kXL, kXLM, kXC, kK0, kHP, kG, kXS, kHV, kSetup, kCheck };
constexpr int kRoleCount = 10;
constexpr const char* kRoleNames[kRoleCount] = {"XL", "XLM", "XC", "K0",    "HP",
                                                "G",  "XS",  "HV", "setup", "check"};
// The workload's requests are those of the trace's actors, not set-up or checks.
constexpr bool in_workload(Role r) {
  return r != Role::kSetup && r != Role::kCheck;
}

enum class Tx { kT1, kT2, kT3, kT4, kT5, kT6, kT7, kT8, kK0, kG, kHP };
constexpr int kTxCount = 11;
constexpr const char* kTxNames[kTxCount] = {"T1", "T2", "T3", "T4", "T5", "T6",
                                            "T7", "T8", "K0", "G",  "HP"};
// Short labels for the rows of tests/bench/run.sh.
constexpr const char* kTxLabel[kTxCount] = {
    "T1 domain create",     "T2 build",           "T3 vbd add",
    "T4 console add",       "T5 vif add",         "T6 destroy console",
    "T7 destroy frontends", "T8 destroy devices", "K0 backend state switches",
    "G guest transactions", "HP xenstore-list",
};
constexpr const char* kTxWhat[kTxCount] = {
    "XL domain create (2.1)",
    "XL build (2.2)",
    "XL vbd add (2.3)",
    "XL console add (2.4)",
    "XL vif add (2.5)",
    "destroy: console (3.C)",
    "destroy: frontend removal, vbd+vif (3.C)",
    "destroy: device cleanup, vbd+vif (3.C)",
    "K0 backend state switches and feature writes",
    "G frontend state switches, ring setup, control reads",
    "HP xenstore-list",
};

struct Stats {
  std::atomic<uint64_t> requests[kRoleCount] = {};
  std::atomic<uint64_t> events[kRoleCount] = {};
  std::atomic<uint64_t> connections[kRoleCount] = {};
  std::atomic<uint64_t> commits[kTxCount] = {};
  std::atomic<uint64_t> aborts[kTxCount] = {};  // ended with F on purpose (read-only checks)
  std::atomic<uint64_t> eagain[kTxCount] = {};
  std::atomic<uint64_t> errors{0};
  std::mutex mu;
  std::vector<uint32_t> latency_us[kRoleCount];  // per request, merged when a connection closes
  std::vector<uint32_t> latency_by_type_us[kTypeCount];  // the workload's requests
};

struct Options {
  std::string socket;
  std::vector<int> rounds = {10};
  uint64_t seed = 1;
  bool json = false;
  bool rows = false;  // --mode: tab-separated rows for tests/bench/run.sh
  bool barrier = true;
  int timeout_s = 300;
  int stagger_ms = 0;
  int max_printed_errors = 200;
  std::string simxen_dir;  // --simxen: the daemon's simulated machine, where domains live
  bool ring = false;       // --ring: the guests speak over their rings on it
};

// What the hypervisor knows of a VM's domain (the replay's stand-in for hypercalls).
enum class Hv { kNone, kCreated, kIntroduced, kShutdown, kDead };

// Wakes a thread blocked in poll() on a connection.
class Waker {
 public:
  Waker() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Waker() {
    if (fd_ >= 0) close(fd_);
  }
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  int fd() const { return fd_; }
  void notify() const {
    uint64_t one = 1;
    ssize_t n = write(fd_, &one, sizeof one);
    (void)n;
  }
  void drain() const {
    uint64_t v;
    ssize_t n = read(fd_, &v, sizeof v);
    (void)n;
  }

 private:
  int fd_;
};

struct Vm {
  int domid = 0;
  std::string d;  // domid as a string
  std::string uuid, name, mac, store_mfn, console_mfn, pty;
  // Paths (trace section 1).
  std::string P, L, U, FEV, BEV, LEV, FEN, BEN, LEN, FEC, BEC, LEC;
  std::string kBEV, kBEN, kBEC;  // the backend paths relative to /local/domain/0 (K0, HP)

  std::atomic<Hv> hv{Hv::kNone};
  // --simxen: the guest's domain and ring page on the simulated machine; with --ring also
  // the guest kernel's end of the ring.
  std::unique_ptr<simguest::Guest> domain;
  std::atomic<bool> failed{false};   // an actor gave up: the others stop waiting
  std::atomic<bool> started{false};  // G saw the milestone
  std::atomic<uint64_t> errors{0};
  Waker xlm_wake, g_wake;

  Clock::time_point t_create, t_started, t_stop, t_stopped;
  bool start_checked = false, start_ok = false, stop_ran = false, stop_ok = false;

  void fail() {
    failed = true;
    xlm_wake.notify();
    g_wake.notify();
  }
};

class Hypervisor;

struct Ctx {
  Options opt;
  Stats* stats = nullptr;
  std::vector<std::unique_ptr<Vm>> vms;
  std::mutex print_mu;
  int printed_errors = 0;
  Hypervisor* hv = nullptr;
};
Ctx* g = nullptr;

Vm* vm_of(int domid) {
  if (domid < 1 || static_cast<size_t>(domid) > g->vms.size()) return nullptr;
  return g->vms[static_cast<size_t>(domid) - 1].get();
}

void report_error(Vm* vm, Role role, const std::string& what) {
  g->stats->errors++;
  if (vm) vm->errors++;
  std::lock_guard<std::mutex> lock(g->print_mu);
  if (g->printed_errors < g->opt.max_printed_errors) {
    if (vm) {
      fprintf(stderr, "vm_lifecycle: ERROR vm %d %s: %s\n", vm->domid,
              kRoleNames[static_cast<int>(role)], what.c_str());
    } else {
      fprintf(stderr, "vm_lifecycle: ERROR %s: %s\n", kRoleNames[static_cast<int>(role)],
              what.c_str());
    }
  } else if (g->printed_errors == g->opt.max_printed_errors) {
    fprintf(stderr, "vm_lifecycle: (further errors counted, not printed)\n");
  }
  ++g->printed_errors;
}

// An actor gives up (its error is already reported).
struct Abort {};
// A request inside a transaction answered EAGAIN: the transaction is redone.
struct TxAgain {};

// ---------------------------------------------------------------------------------------
// One connection: requests are sent one at a time; watch events that arrive meanwhile are
// queued for the actor.

struct Reply {
  bool ok = false;
  std::string err;  // "ENOENT", ... when !ok
  std::string body;
};

struct Event {
  std::string path, token;
};

class Conn {
 public:
  // Over the guest's ring (--ring): requests go through the simulated guest.
  Conn(Role role, Vm* vm, simguest::Guest* ring)
      : role_(role), vm_(vm), stats_(g->stats), ring_(ring) {
    stats_->connections[static_cast<int>(role_)]++;
  }
  Conn(Role role, Vm* vm) : role_(role), vm_(vm), stats_(g->stats) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || g->opt.socket.size() >= sizeof addr.sun_path) fatal("socket", errno);
    memcpy(addr.sun_path, g->opt.socket.data(), g->opt.socket.size());
    // A loaded daemon may have a full listen backlog for a moment: retry briefly.
    for (int attempt = 0;; ++attempt) {
      if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
      if ((errno == EAGAIN || errno == EINTR) && attempt < 1000) {
        usleep(1000);
        continue;
      }
      fatal("connect to " + g->opt.socket, errno);
    }
    stats_->connections[static_cast<int>(role_)]++;
  }
  ~Conn() {
    if (fd_ >= 0) close(fd_);
    if (!latency_.empty()) {
      std::lock_guard<std::mutex> lock(stats_->mu);
      auto& all = stats_->latency_us[static_cast<int>(role_)];
      all.insert(all.end(), latency_.begin(), latency_.end());
      if (in_workload(role_)) {
        for (size_t i = 0; i < latency_.size(); ++i) {
          stats_->latency_by_type_us[latency_type_[i]].push_back(latency_[i]);
        }
      }
    }
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Role role() const { return role_; }
  void set_vm(Vm* vm) { vm_ = vm; }
  Vm* vm() const { return vm_; }

  Reply call(uint32_t type, std::string_view payload, uint32_t tx) {
    if (ring_) return call_ring(type, payload, tx);
    const uint32_t req_id = next_req_id_++;
    uint32_t header[4] = {type, req_id, tx, static_cast<uint32_t>(payload.size())};
    std::string out(reinterpret_cast<const char*>(header), kHeaderSize);
    out.append(payload);
    const Clock::time_point t0 = Clock::now();
    send_all(out);
    stats_->requests[static_cast<int>(role_)]++;
    const Clock::time_point deadline = t0 + std::chrono::seconds(g->opt.timeout_s);
    for (;;) {
      Msg m;
      if (!next_message(&m, deadline)) {
        report_error(vm_, role_,
                     format("no reply to %s %s within %d s", type_name(type),
                            printable(payload).c_str(), g->opt.timeout_s));
        throw Abort{};
      }
      if (m.type == XS_WATCH_EVENT) {
        queue_event(m);
        continue;
      }
      latency_.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
      latency_type_.push_back(static_cast<uint8_t>(type < kTypeCount ? type : 0));
      Reply r;
      if (m.req_id != req_id || (m.type != type && m.type != XS_ERROR)) {
        report_error(vm_, role_,
                     format("%s %s: answered by a %s with req_id %u (sent %u)", type_name(type),
                            printable(payload).c_str(), type_name(m.type), m.req_id, req_id));
        throw Abort{};
      }
      if (m.type == XS_ERROR) {
        r.err = first_field(m.body);
      } else {
        r.ok = true;
        r.body = std::move(m.body);
      }
      return r;
    }
  }

  std::deque<Event>& events() { return events_; }

  enum class Woke { kMessage, kWake, kTimeout };
  // Blocks until a watch event is queued, wake_fd is readable or the deadline passes.
  Woke wait(Clock::time_point deadline, int wake_fd) {
    if (ring_) return wait_ring(deadline, wake_fd);
    for (;;) {
      Msg m;
      if (parse(&m)) {
        unsolicited(m);
        return Woke::kMessage;
      }
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Woke::kTimeout;
      const int ms = static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
      int n = poll(fds, wake_fd >= 0 ? 2 : 1, ms);
      if (n < 0) {
        if (errno == EINTR) continue;
        fatal("poll", errno);
      }
      if (n == 0) return Woke::kTimeout;
      if (wake_fd >= 0 && (fds[1].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(wake_fd, &v, sizeof v);
        (void)r;
        return Woke::kWake;
      }
      if (fds[0].revents) fill();
    }
  }

 private:
  struct Msg {
    uint32_t type = 0, req_id = 0, tx_id = 0;
    std::string body;
  };

  // The ring's request: the simulated guest matches the reply by its own request id and
  // queues the watch events that came meanwhile, which are moved to events_ here.
  Reply call_ring(uint32_t type, std::string_view payload, uint32_t tx) {
    const Clock::time_point t0 = Clock::now();
    stats_->requests[static_cast<int>(role_)]++;
    simguest::Message m;
    try {
      m = ring_->request(type, std::string(payload), tx);
      take_ring_events(std::chrono::milliseconds(0));
    } catch (const std::exception& e) {
      report_error(
          vm_, role_,
          format("%s %s over the ring: %s", type_name(type), printable(payload).c_str(), e.what()));
      throw Abort{};
    }
    latency_.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
    latency_type_.push_back(static_cast<uint8_t>(type < kTypeCount ? type : 0));
    Reply r;
    if (m.type != type && m.type != XS_ERROR) {
      report_error(vm_, role_,
                   format("%s %s: answered by a %s over the ring", type_name(type),
                          printable(payload).c_str(), type_name(m.type)));
      throw Abort{};
    }
    if (m.type == XS_ERROR) {
      r.err = first_field(m.payload);
    } else {
      r.ok = true;
      r.body = std::move(m.payload);
    }
    return r;
  }

  // Moves the guest's queued watch events to events_, waiting up to `timeout` for the
  // first; true if there was one.
  bool take_ring_events(std::chrono::milliseconds timeout) {
    bool any = false;
    while (std::optional<simguest::WatchEvent> e =
               ring_->next_event(any ? std::chrono::milliseconds(0) : timeout)) {
      stats_->events[static_cast<int>(role_)]++;
      events_.push_back(Event{std::move(e->path), std::move(e->token)});
      any = true;
    }
    return any;
  }

  // wait() over the ring: the guest waits on its event channel, in slices short enough to
  // notice wake_fd (another actor of the VM gave up) soon.
  Woke wait_ring(Clock::time_point deadline, int wake_fd) {
    for (;;) {
      if (wake_fd >= 0) {
        pollfd pfd = {wake_fd, POLLIN, 0};
        if (poll(&pfd, 1, 0) > 0) {
          uint64_t v;
          ssize_t r = read(wake_fd, &v, sizeof v);
          (void)r;
          return Woke::kWake;
        }
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Woke::kTimeout;
      try {
        if (take_ring_events(std::min(left, std::chrono::milliseconds(20)))) return Woke::kMessage;
      } catch (const std::exception& e) {
        report_error(vm_, role_, format("waiting for a watch event over the ring: %s", e.what()));
        throw Abort{};
      }
    }
  }

  [[noreturn]] void fatal(const std::string& what, int err) {
    report_error(vm_, role_, what + ": " + strerror(err));
    throw Abort{};
  }

  void send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        fatal("send", errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  bool parse(Msg* m) {
    if (in_.size() - pos_ < kHeaderSize) return false;
    uint32_t h[4];
    memcpy(h, in_.data() + pos_, kHeaderSize);
    if (h[3] > kPayloadMax) {
      report_error(vm_, role_, format("message with a %u-byte payload", h[3]));
      throw Abort{};
    }
    if (in_.size() - pos_ < kHeaderSize + h[3]) return false;
    m->type = h[0];
    m->req_id = h[1];
    m->tx_id = h[2];
    m->body.assign(in_, pos_ + kHeaderSize, h[3]);
    pos_ += kHeaderSize + h[3];
    if (pos_ == in_.size()) {
      in_.clear();
      pos_ = 0;
    }
    return true;
  }

  // One read(); the connection must be readable or the call blocks.
  void fill() {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fatal("recv", errno);
      if (n == 0) {
        report_error(vm_, role_, "the server closed the connection");
        throw Abort{};
      }
      if (pos_ > 0 && pos_ == in_.size()) {
        in_.clear();
        pos_ = 0;
      }
      in_.append(buf, static_cast<size_t>(n));
      return;
    }
  }

  bool next_message(Msg* m, Clock::time_point deadline) {
    while (!parse(m)) {
      pollfd pfd = {fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      int n = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30)));
      if (n < 0 && errno != EINTR) fatal("poll", errno);
      if (n > 0) fill();
    }
    return true;
  }

  void queue_event(const Msg& m) {
    std::vector<std::string> f = split_fields(m.body);
    stats_->events[static_cast<int>(role_)]++;
    if (f.size() < 2) {
      report_error(vm_, role_, "malformed watch event: " + printable(m.body));
      return;
    }
    events_.push_back(Event{std::move(f[0]), std::move(f[1])});
  }

  void unsolicited(const Msg& m) {
    if (m.type == XS_WATCH_EVENT) {
      queue_event(m);
    } else {
      report_error(vm_, role_,
                   format("unsolicited %s (req_id %u): %s", type_name(m.type), m.req_id,
                          printable(m.body).c_str()));
    }
  }

  Role role_;
  Vm* vm_;
  Stats* stats_;
  simguest::Guest* ring_ = nullptr;
  int fd_ = -1;
  uint32_t next_req_id_ = 1;
  std::string in_;
  size_t pos_ = 0;
  std::deque<Event> events_;
  std::vector<uint32_t> latency_;
  std::vector<uint8_t> latency_type_;
};

// ---------------------------------------------------------------------------------------
// An actor: a connection, the handlers of its watches, and the trace's operations with the
// replies the trace expects.

enum Expect {
  kOk,     // must succeed
  kNoent,  // must answer ENOENT (the trace's "→ENOENT")
  kAny,    // success or ENOENT: depends on the timing of other actors
};

using Handler = std::function<void(const std::string& path)>;

class Client {
 public:
  Client(Role role, Vm* vm, const Waker* wake = nullptr) : conn_(role, vm), wake_(wake) {}
  // The guest over its ring: paths under `home` are sent relative to it.
  Client(Role role, Vm* vm, const Waker* wake, simguest::Guest* ring, std::string home)
      : conn_(role, vm, ring), wake_(wake), home_(std::move(home) + '/') {}

  Vm* vm() const { return conn_.vm(); }
  Role role() const { return conn_.role(); }
  // The VM that errors are attributed to (K0 and XC serve all VMs).
  void set_vm(Vm* vm) { conn_.set_vm(vm); }

  // One request. Returns the reply's payload, or nullopt after an error reply (reported
  // unless expected). EAGAIN inside a transaction throws TxAgain.
  std::optional<std::string> op(uint32_t type, const std::string& payload, uint32_t tx, Expect ex) {
    // Every request this replay sends over a ring starts with its path.
    Reply r = (home_.size() > 1 && payload.rfind(home_, 0) == 0)
                  ? conn_.call(type, std::string_view(payload).substr(home_.size()), tx)
                  : conn_.call(type, payload, tx);
    if (r.ok) {
      if (ex == kNoent) {
        report_error(
            vm(), role(),
            format("%s %s%s -> OK \"%s\" (expected ENOENT)", type_name(type),
                   printable(payload).c_str(), tx ? " [tx]" : "", printable(r.body).c_str()));
      }
      return std::move(r.body);
    }
    if (tx != 0 && r.err == "EAGAIN") throw TxAgain{};
    if (r.err == "ENOENT" && ex != kOk) return std::nullopt;
    report_error(vm(), role(),
                 format("%s %s%s -> %s (expected %s)", type_name(type), printable(payload).c_str(),
                        tx ? " [tx]" : "", r.err.c_str(),
                        ex == kOk ? "OK" : (ex == kNoent ? "ENOENT" : "OK or ENOENT")));
    return std::nullopt;
  }

  static std::string path0(const std::string& path) { return path + '\0'; }

  std::optional<std::string> read(const std::string& path, uint32_t tx = 0, Expect ex = kOk) {
    return op(XS_READ, path0(path), tx, ex);
  }
  // A read whose value the trace gives.
  void read_expect(const std::string& path, const std::string& want, uint32_t tx = 0) {
    std::optional<std::string> v = read(path, tx, kOk);
    if (v && *v != want) {
      report_error(vm(), role(),
                   format("READ %s -> \"%s\" (expected \"%s\")", path.c_str(),
                          printable(*v).c_str(), want.c_str()));
    }
  }
  void write(const std::string& path, const std::string& value, uint32_t tx = 0) {
    op(XS_WRITE, path + '\0' + value, tx, kOk);
  }
  void mkdir(const std::string& path, uint32_t tx = 0) { op(XS_MKDIR, path0(path), tx, kOk); }
  bool rm(const std::string& path, uint32_t tx = 0, Expect ex = kOk) {
    return op(XS_RM, path0(path), tx, ex).has_value();
  }
  std::optional<std::vector<std::string>> dir(const std::string& path, uint32_t tx = 0,
                                              Expect ex = kOk) {
    std::optional<std::string> v = op(XS_DIRECTORY, path0(path), tx, ex);
    if (!v) return std::nullopt;
    return split_fields(*v);
  }
  void setperms(const std::string& path, std::initializer_list<std::string> perms,
                uint32_t tx = 0) {
    std::string payload = path0(path);
    for (const std::string& p : perms) payload += p + '\0';
    op(XS_SET_PERMS, payload, tx, kOk);
  }
  void gdp(int domid) {
    std::optional<std::string> v = op(XS_GET_DOMAIN_PATH, std::to_string(domid) + '\0', 0, kOk);
    const std::string want = "/local/domain/" + std::to_string(domid);
    if (v && first_field(*v) != want) {
      report_error(vm(), role(),
                   format("GET_DOMAIN_PATH %d -> \"%s\"", domid, printable(*v).c_str()));
    }
  }
  bool introduce(int domid, const std::string& mfn, int port) {
    return op(XS_INTRODUCE, std::to_string(domid) + '\0' + mfn + '\0' + std::to_string(port) + '\0',
              0, kOk)
        .has_value();
  }
  bool release(int domid) {
    return op(XS_RELEASE, std::to_string(domid) + '\0', 0, kOk).has_value();
  }

  // Registers a watch. With wait_initial, returns once the watch's first event is queued
  // (it is dispatched by the next pump()); actors that are themselves handling an event
  // (K0, XC) leave it to their event loop.
  void watch(const std::string& path, const std::string& token, Handler h,
             bool wait_initial = true) {
    handlers_[token] = std::move(h);
    if (!op(XS_WATCH, path + '\0' + token + '\0', 0, kOk)) return;
    if (!wait_initial) return;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(g->opt.timeout_s);
    for (;;) {
      for (const Event& e : conn_.events()) {
        if (e.token == token) return;
      }
      if (conn_.wait(deadline, -1) == Conn::Woke::kTimeout) {
        report_error(vm(), role(), "no first event for the watch on " + path);
        throw Abort{};
      }
    }
  }
  void unwatch(const std::string& path, const std::string& token) {
    handlers_.erase(token);
    op(XS_UNWATCH, path + '\0' + token + '\0', 0, kOk);
  }
  bool watching(const std::string& token) const { return handlers_.count(token) != 0; }

  // Dispatches the queued watch events; events of removed watches are dropped.
  void pump() {
    while (!conn_.events().empty()) {
      Event e = std::move(conn_.events().front());
      conn_.events().pop_front();
      auto it = handlers_.find(e.token);
      if (it == handlers_.end()) continue;
      Handler h = it->second;  // a copy: the handler may remove its own watch
      h(e.path);
    }
  }

  // Dispatches events until done() holds; gives up (Abort) after the timeout or when
  // another actor of the VM gave up.
  void run_until(const std::function<bool()>& done, const char* what) {
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(g->opt.timeout_s);
    for (;;) {
      pump();
      if (done()) return;
      if (vm() && vm()->failed) throw Abort{};
      if (conn_.wait(deadline, wake_ ? wake_->fd() : -1) == Conn::Woke::kTimeout) {
        pump();
        if (done()) return;
        report_error(vm(), role(),
                     format("timed out after %d s waiting for %s", g->opt.timeout_s, what));
        throw Abort{};
      }
    }
  }

  // The event loop of K0 and XC: until stop is set, then until the connection has been
  // quiet for `quiet`.
  void serve(const std::atomic<bool>& stop, std::chrono::milliseconds quiet) {
    for (;;) {
      pump();
      if (stop) {
        if (conn_.wait(Clock::now() + quiet, -1) == Conn::Woke::kTimeout) return;
        continue;
      }
      conn_.wait(Clock::now() + std::chrono::hours(24), wake_ ? wake_->fd() : -1);
    }
  }

  uint32_t tstart() {
    std::optional<std::string> v = op(XS_TRANSACTION_START, std::string(1, '\0'), 0, kOk);
    if (!v) throw Abort{};
    unsigned long id = strtoul(first_field(*v).c_str(), nullptr, 10);
    if (id == 0) {
      report_error(vm(), role(), "TRANSACTION_START -> \"" + printable(*v) + "\"");
      throw Abort{};
    }
    return static_cast<uint32_t>(id);
  }

  // Runs body(tx) in a transaction until it commits; body returns false to end it with
  // "F" (Linux's read-only checks). EAGAIN from the commit or from a request inside it
  // redoes the whole body, as libxl, Linux and xenstore-list do.
  void transact(Tx kind, const std::function<bool(uint32_t)>& body) {
    const int k = static_cast<int>(kind);
    for (int attempt = 0;; ++attempt) {
      if (attempt == 100000) {
        report_error(vm(), role(),
                     format("transaction %s: gave up after %d EAGAIN", kTxNames[k], attempt));
        throw Abort{};
      }
      const uint32_t tx = tstart();
      bool commit = false;
      try {
        commit = body(tx);
      } catch (const TxAgain&) {
        g->stats->eagain[k]++;
        Reply r = conn_.call(XS_TRANSACTION_END, std::string("F") + '\0', tx);
        (void)r;  // the transaction may already be gone
        continue;
      }
      Reply r = conn_.call(XS_TRANSACTION_END, std::string(commit ? "T" : "F") + '\0', tx);
      if (r.ok) {
        (commit ? g->stats->commits[k] : g->stats->aborts[k])++;
        return;
      }
      if (commit && r.err == "EAGAIN") {
        g->stats->eagain[k]++;
        continue;
      }
      report_error(
          vm(), role(),
          format("TRANSACTION_END %s (%s) -> %s", commit ? "T" : "F", kTxNames[k], r.err.c_str()));
      return;
    }
  }

 private:
  Conn conn_;
  const Waker* wake_;
  std::string home_;  // over a ring: "/local/domain/D/"
  std::unordered_map<std::string, Handler> handlers_;
};

// Kernel watch tokens are pointers; libxl's are "<slot>/<counter>".
std::string kernel_token(uint64_t* counter) {
  *counter += 0x40;
  return format("ffff8880%08" PRIx64, *counter);
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  return path.substr(0, slash);
}

// libxl__xs_path_cleanup: removes path, then each parent that has an empty value and no
// children, stopping at the first that has either (or when a request fails).
void path_cleanup(Client& c, uint32_t tx, const std::string& path, Expect rm_expect = kOk) {
  if (!c.rm(path, tx, rm_expect)) return;
  for (std::string p = parent_of(path); !p.empty(); p = parent_of(p)) {
    std::optional<std::string> v = c.read(p, tx, kAny);
    if (!v || !v->empty()) return;
    std::optional<std::vector<std::string>> d = c.dir(p, tx, kAny);
    if (!d || !d->empty()) return;
    if (!c.rm(p, tx, kOk)) return;
  }
}

// A hotplug script's xenstore-read/-write/-list: a process of its own, so a connection.
std::optional<std::string> hp_read(Vm& vm, const std::string& path, Expect ex = kOk) {
  Client c(Role::kHP, &vm);
  return c.read(path, 0, ex);
}
void hp_write(Vm& vm, const std::string& path, const std::string& value) {
  Client c(Role::kHP, &vm);
  c.write(path, value);
}
std::optional<std::vector<std::string>> hp_list(Vm& vm, const std::string& path, Expect ex) {
  Client c(Role::kHP, &vm);
  std::optional<std::vector<std::string>> out;
  c.transact(Tx::kHP, [&](uint32_t tx) {
    out = c.dir(path, tx, ex);
    return true;
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// K0: dom0's backend drivers. One connection for all VMs, one thread, every action a
// reaction to a watch event, as in Linux's xenwatch thread.

class Backends {
 public:
  Backends() : c_(Role::kK0, nullptr, &wake_) {}

  void setup() {
    c_.watch(
        "backend", kernel_token(&ptr_), [this](const std::string& p) { backend_changed(p); },
        false);
  }
  void run() { c_.serve(stop_, std::chrono::milliseconds(300)); }
  void stop() {
    stop_ = true;
    wake_.notify();
  }

 private:
  enum class Kind { kVbd, kVif, kConsole };
  struct Device {
    Kind kind = Kind::kConsole;
    Vm* vm = nullptr;
    std::string be;  // relative: backend/<type>/<domid>/<devid>
    std::string fe;  // absolute frontend path, read from be/frontend
    std::string state = "1";
    std::string otherend_tok, phys_tok, rate_tok, mcast_tok, hotplug_tok;
    std::string pending_state;  // netback: the switch deferred until hotplug-status
    bool hotplugged = false, want_connect = false, connected = false, removed = false;
  };
  using DevPtr = std::shared_ptr<Device>;

  // xenbus_dev_changed (backend bus).
  void backend_changed(std::string path) {
    if (path.rfind("/local/domain/0/", 0) == 0) {
      if (!absolute_reported_) {
        report_error(nullptr, Role::kK0,
                     "event for the relative watch on \"backend\" has an absolute path: " + path);
        absolute_reported_ = true;
      }
      path.erase(0, strlen("/local/domain/0/"));
    }
    if (std::count(path.begin(), path.end(), '/') < 2) return;
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t slash = path.find('/', start);
      parts.push_back(path.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    Vm* vm = parts.size() > 2 ? vm_of(atoi(parts[2].c_str())) : nullptr;
    c_.set_vm(vm);
    if (!c_.dir(path, 0, kAny)) {
      cleanup(path);
      return;
    }
    if (parts.size() < 4) return;
    const std::string root = parts[0] + '/' + parts[1] + '/' + parts[2] + '/' + parts[3];
    if (devices_.count(root)) return;
    Kind kind;
    if (parts[1] == "vbd") {
      kind = Kind::kVbd;
    } else if (parts[1] == "vif") {
      kind = Kind::kVif;
    } else {
      kind = Kind::kConsole;  // no dom0 driver binds; the device is registered all the same
    }
    probe(root, kind, vm);
  }

  // xenbus_cleanup_devices: the path is gone, and so are the devices at or below it.
  void cleanup(const std::string& path) {
    std::vector<DevPtr> gone;
    for (auto& [root, dev] : devices_) {
      if (root == path || root.rfind(path + '/', 0) == 0) gone.push_back(dev);
    }
    for (const DevPtr& dev : gone) remove(dev);
  }

  // xenbus_probe_node + the driver's probe.
  void probe(const std::string& root, Kind kind, Vm* vm) {
    std::optional<std::string> state = c_.read(root + "/state", 0, kAny);
    if (!state || *state != "1") return;  // only an Initialising backend is probed
    c_.read(root + "/frontend-id", 0, kOk);
    std::optional<std::string> fe = c_.read(root + "/frontend", 0, kOk);
    if (!fe) return;
    if (!c_.dir(*fe, 0, kAny)) return;
    auto dev = std::make_shared<Device>();
    dev->kind = kind;
    dev->vm = vm;
    dev->be = root;
    dev->fe = *fe;
    devices_[root] = dev;
    if (kind == Kind::kVbd) {
      c_.write(root + "/feature-max-indirect-segments", "256");
      c_.write(root + "/multi-queue-max-queues", "2");
      dev->phys_tok = kernel_token(&ptr_);
      c_.watch(
          root + "/physical-device", dev->phys_tok,
          [this, dev](const std::string&) { blk_physical_device_changed(dev); }, false);
      c_.write(root + "/max-ring-page-order", "4");
      switch_state(dev, "2");
      watch_otherend(dev);
    } else if (kind == Kind::kVif) {
      c_.transact(Tx::kK0, [&](uint32_t tx) {
        for (const char* k : {"feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6",
                              "feature-ipv6-csum-offload", "feature-rx-copy"}) {
          c_.write(root + '/' + k, "1", tx);
        }
        c_.write(root + "/feature-rx-flip", "0", tx);
        c_.write(root + "/feature-multicast-control", "1", tx);
        c_.write(root + "/feature-dynamic-multicast-control", "1", tx);
        return true;
      });
      c_.write(root + "/feature-split-event-channels", "1");
      c_.write(root + "/multi-queue-max-queues", "2");
      c_.write(root + "/feature-ctrl-ring", "1");
      c_.read(root + "/script", 0, kOk);
      c_.read(root + "/handle", 0, kOk);
      watch_otherend(dev);
      switch_state(dev, "2");
    }
  }

  void watch_otherend(const DevPtr& dev) {
    dev->otherend_tok = kernel_token(&ptr_);
    c_.watch(
        dev->fe + "/state", dev->otherend_tok,
        [this, dev](const std::string&) {
          if (dev->removed) return;
          c_.set_vm(dev->vm);
          if (dev->kind == Kind::kVbd) {
            blk_frontend_changed(dev);
          } else {
            net_frontend_changed(dev);
          }
        },
        false);
  }

  // xenbus_switch_state: only if the state node still exists.
  void switch_state(const DevPtr& dev, const std::string& state) {
    if (dev->state == state) return;
    c_.transact(Tx::kK0, [&](uint32_t tx) {
      if (!c_.read(dev->be + "/state", tx, kAny)) return false;
      c_.write(dev->be + "/state", state, tx);
      return true;
    });
    dev->state = state;
  }

  void unwatch(std::string* tok, const std::string& path) {
    if (tok->empty()) return;
    c_.unwatch(path, *tok);
    tok->clear();
  }

  // --- blkback
  void blk_physical_device_changed(const DevPtr& dev) {
    if (dev->removed) return;
    c_.set_vm(dev->vm);
    std::optional<std::string> v = c_.read(dev->be + "/physical-device", 0, kAny);
    if (!v || dev->hotplugged) return;
    dev->hotplugged = true;
    c_.read(dev->be + "/mode", 0, kOk);
    c_.read(dev->fe + "/device-type", 0, kAny);
    if (dev->want_connect) blk_connect(dev);
  }

  void blk_frontend_changed(const DevPtr& dev) {
    std::optional<std::string> s = c_.read(dev->fe + "/state", 0, kAny);
    if (!s) {  // the frontend is gone (XenbusStateUnknown): unregister the device
      remove(dev);
      return;
    }
    if (*s == "3" && !dev->connected) {
      if (dev->hotplugged) {
        blk_connect(dev);
      } else {
        dev->want_connect = true;
      }
    } else if (*s == "5") {
      switch_state(dev, "5");
    } else if (*s == "6") {
      switch_state(dev, "6");
    }
  }

  void blk_connect(const DevPtr& dev) {
    const std::string& fe = dev->fe;
    const std::string& be = dev->be;
    c_.read(fe + "/protocol", 0, kOk);
    c_.read(fe + "/feature-persistent", 0, kOk);
    c_.read(fe + "/multi-queue-num-queues", 0, kNoent);
    c_.read(fe + "/event-channel", 0, kOk);
    c_.read(fe + "/ring-page-order", 0, kNoent);
    c_.read(fe + "/ring-ref", 0, kOk);
    c_.read(be + "/discard-enable", 0, kOk);
    c_.transact(Tx::kK0, [&](uint32_t tx) {
      c_.write(be + "/feature-flush-cache", "1", tx);
      c_.write(be + "/discard-granularity", "4096", tx);
      c_.write(be + "/discard-alignment", "0", tx);
      c_.write(be + "/discard-secure", "0", tx);
      c_.write(be + "/feature-discard", "1", tx);
      c_.write(be + "/feature-barrier", "1", tx);
      c_.write(be + "/feature-persistent", "1", tx);
      c_.write(be + "/sectors", "20971520", tx);
      c_.write(be + "/info", "0", tx);
      c_.write(be + "/sector-size", "512", tx);
      c_.write(be + "/physical-sector-size", "512", tx);
      return true;
    });
    switch_state(dev, "4");
    dev->connected = true;
  }

  // --- netback
  void net_frontend_changed(const DevPtr& dev) {
    std::optional<std::string> s = c_.read(dev->fe + "/state", 0, kAny);
    if (!s) {
      remove(dev);
      return;
    }
    if (*s == "4" && !dev->connected) {
      net_connect(dev);
    } else if (*s == "5") {
      unwatch(&dev->mcast_tok, dev->fe + "/request-multicast-control");
      unwatch(&dev->rate_tok, dev->be + "/rate");
      switch_state(dev, "5");
    } else if (*s == "6") {
      switch_state(dev, "6");
      c_.read(dev->be + "/online", 0, kOk);  // "1": the device stays
    }
  }

  void net_connect(const DevPtr& dev) {
    const std::string& fe = dev->fe;
    const std::string& be = dev->be;
    c_.read(fe + "/multi-queue-num-queues", 0, kOk);
    c_.read(be + "/mac", 0, kOk);
    c_.read(be + "/rate", 0, kNoent);
    dev->rate_tok = kernel_token(&ptr_);
    c_.watch(
        be + "/rate", dev->rate_tok,
        [this, dev](const std::string&) {
          c_.set_vm(dev->vm);
          c_.read(dev->be + "/rate", 0, kAny);
        },
        false);
    dev->mcast_tok = kernel_token(&ptr_);
    c_.watch(
        fe + "/request-multicast-control", dev->mcast_tok,
        [this, dev](const std::string&) {
          c_.set_vm(dev->vm);
          c_.read(dev->fe + "/request-multicast-control", 0, kAny);
        },
        false);
    for (const char* k : {"request-rx-copy", "feature-rx-notify", "feature-sg", "feature-gso-tcpv4",
                          "feature-gso-tcpv6"}) {
      c_.read(fe + '/' + k, 0, kOk);
    }
    c_.read(fe + "/feature-no-csum-offload", 0, kNoent);
    c_.read(fe + "/feature-ipv6-csum-offload", 0, kOk);
    c_.read(fe + "/ctrl-ring-ref", 0, kNoent);
    for (const char* k : {"tx-ring-ref", "rx-ring-ref", "event-channel-tx", "event-channel-rx"}) {
      c_.read(fe + '/' + k, 0, kOk);
    }
    dev->connected = true;
    // The switch to Connected waits for the hotplug script's "connected".
    dev->pending_state = "4";
    dev->hotplug_tok = kernel_token(&ptr_);
    c_.watch(
        be + "/hotplug-status", dev->hotplug_tok,
        [this, dev](const std::string&) {
          if (dev->removed || dev->hotplug_tok.empty()) return;
          c_.set_vm(dev->vm);
          std::optional<std::string> v = c_.read(dev->be + "/hotplug-status", 0, kAny);
          if (v && *v == "connected") {
            switch_state(dev, dev->pending_state);
            unwatch(&dev->hotplug_tok, dev->be + "/hotplug-status");
          }
        },
        false);
  }

  // device_unregister: the driver's remove and xenbus_dev_remove.
  void remove(const DevPtr& dev) {
    if (dev->removed) return;
    c_.set_vm(dev->vm);
    dev->removed = true;
    devices_.erase(dev->be);
    if (dev->kind == Kind::kVbd) {
      unwatch(&dev->otherend_tok, dev->fe + "/state");
      unwatch(&dev->phys_tok, dev->be + "/physical-device");
      c_.read(dev->be + "/state", 0, kAny);
      switch_state(dev, "6");
    } else if (dev->kind == Kind::kVif) {
      if (dev->state == "4") {
        unwatch(&dev->rate_tok, dev->be + "/rate");
        unwatch(&dev->mcast_tok, dev->fe + "/request-multicast-control");
        switch_state(dev, "5");
      }
      switch_state(dev, "6");
      unwatch(&dev->otherend_tok, dev->fe + "/state");
      unwatch(&dev->hotplug_tok, dev->be + "/hotplug-status");
      unwatch(&dev->rate_tok, dev->be + "/rate");
      unwatch(&dev->mcast_tok, dev->fe + "/request-multicast-control");
      c_.rm(dev->be + "/hotplug-status", 0, kAny);
    }
  }

  Waker wake_;
  Client c_;
  std::atomic<bool> stop_{false};
  uint64_t ptr_ = 0x04a3c000;
  std::map<std::string, DevPtr> devices_;
  bool absolute_reported_ = false;
};

// ---------------------------------------------------------------------------------------
// XC: xenconsoled. One connection for all VMs.

class Consoled {
 public:
  Consoled() : c_(Role::kXC, nullptr, &wake_) {}

  void setup() {
    auto h = [this](const std::string& path) { domlist(path); };
    c_.watch("@introduceDomain", "domlist", h, false);
    c_.watch("@releaseDomain", "domlist", h, false);
  }
  void run() { c_.serve(stop_, std::chrono::milliseconds(300)); }
  void stop() {
    stop_ = true;
    wake_.notify();
  }

 private:
  // Both special watches: xenconsoled asks the hypervisor which domains exist.
  void domlist(const std::string& path) {
    if (path == "@introduceDomain") {
      for (const auto& vmp : g->vms) {
        Vm* vm = vmp.get();
        const Hv hv = vm->hv;
        if ((hv != Hv::kIntroduced && hv != Hv::kShutdown) || known_.count(vm->domid)) continue;
        known_.insert(vm->domid);
        c_.set_vm(vm);
        c_.gdp(vm->domid);
        c_.watch(
            vm->FEC, "dom" + vm->d, [this, vm](const std::string&) { console_changed(vm); }, false);
      }
    } else if (path == "@releaseDomain") {
      for (auto it = known_.begin(); it != known_.end();) {
        Vm* vm = vm_of(*it);
        if (vm->hv != Hv::kDead) {
          ++it;
          continue;
        }
        c_.set_vm(vm);
        c_.unwatch(vm->FEC, "dom" + vm->d);
        mapped_.erase(vm->domid);
        it = known_.erase(it);
      }
    }
  }

  void console_changed(Vm* vm) {
    c_.set_vm(vm);
    if (!c_.read(vm->FEC + "/ring-ref", 0, kAny)) return;
    c_.read(vm->FEC + "/port", 0, kAny);
    c_.read(vm->FEC + "/type", 0, kAny);
    if (mapped_.count(vm->domid)) return;
    mapped_.insert(vm->domid);
    c_.read(vm->FEC + "/limit", 0, kAny);
    c_.write(vm->FEC + "/tty", vm->pty);
  }

  Waker wake_;
  Client c_;
  std::atomic<bool> stop_{false};
  std::set<int> known_, mapped_;
};

// The hypervisor's one Xenstore action: RELEASE of a dead domain.
class Hypervisor {
 public:
  Hypervisor() : c_(Role::kHV, nullptr) {}
  void release(Vm& vm) {
    std::lock_guard<std::mutex> lock(mu_);
    c_.set_vm(&vm);
    c_.release(vm.domid);
  }

 private:
  std::mutex mu_;
  Client c_;
};

// ---------------------------------------------------------------------------------------
// XL: xl create (trace 2.1 - 2.6)

struct Kv {
  const char* k;
  std::string v;
};

class Toolstack {
 public:
  explicit Toolstack(Vm& vm) : vm_(vm), c_(Role::kXL, &vm) {}

  void create() {
    domain_make();
    build();
    add_vbd();
    add_console();
    add_vif();
    wait_console();
  }

 private:
  std::string token() { return format("3/%x", ++counter_); }

  // Waits through a watch until path reads want (libxl__wait_for_backend and friends).
  void wait_for(const std::string& path, const std::function<bool(const std::string&)>& ok,
                const char* what) {
    const std::string tok = token();
    bool done = false;
    c_.watch(path, tok, [&](const std::string&) {
      std::optional<std::string> v = c_.read(path, 0, kAny);
      if (v && ok(*v)) done = true;
    });
    c_.run_until([&] { return done; }, what);
    c_.unwatch(path, tok);
  }

  // 2.1
  void domain_make() {
    Vm& v = vm_;
    const std::string& P = v.P;
    const std::string rD = "r" + v.d, nD = "n" + v.d;
    c_.gdp(v.domid);
    c_.transact(Tx::kT1, [&](uint32_t t) {
      c_.rm(P, t, kAny);
      c_.write(P, "", t);
      c_.setperms(P, {"n0", rD}, t);
      c_.rm(v.U, t, kAny);
      c_.write(v.U, "", t);
      c_.setperms(v.U, {"n0", rD}, t);
      c_.rm(v.L, t, kAny);
      c_.write(v.L, "", t);
      c_.setperms(v.L, {"n0"}, t);
      c_.write(v.L + "/device", "", t);
      c_.setperms(v.L + "/device", {"n0"}, t);
      c_.write(P + "/vm", v.U, t);
      // libxl__domain_rename(NULL -> NAME): the stubdom check and the uniqueness of the name.
      c_.gdp(v.domid);
      c_.gdp(v.domid);
      c_.read(P + "/image/device-model-domid", 0, kNoent);
      c_.read_expect("/local/domain/0/name", "Domain-0");
      for (const auto& other : g->vms) {
        const Hv hv = other->hv;
        if (hv == Hv::kNone || hv == Hv::kDead) continue;
        c_.read(other->P + "/name", 0, other.get() == &v ? kNoent : kAny);
      }
      c_.write(P + "/name", v.name, t);
      c_.write(v.U + "/name", v.name, t);
      for (const char* k : {"cpu", "memory", "device"}) {
        c_.write(P + '/' + k, "", t);
        c_.setperms(P + '/' + k, {"n0", rD}, t);
      }
      c_.write(P + "/device/suspend/event-channel", "", t);
      c_.setperms(P + "/device/suspend/event-channel", {nD}, t);
      c_.write(P + "/control", "", t);
      c_.setperms(P + "/control", {"n0", rD}, t);
      for (const char* k :
           {"shutdown", "feature-poweroff", "feature-reboot", "feature-suspend", "sysrq"}) {
        c_.write(P + "/control/" + k, "", t);
        c_.setperms(P + "/control/" + k, {nD}, t);
      }
      for (const char* k : {"data", "drivers", "feature", "attr", "error"}) {
        c_.write(P + '/' + k, "", t);
        c_.setperms(P + '/' + k, {nD}, t);
      }
      c_.write(v.U + "/uuid", v.uuid, t);
      c_.write(v.U + "/name", v.name, t);
      c_.write(P + "/control/platform-feature-multiprocessor-suspend", "1", t);
      c_.write(P + "/control/platform-feature-xs_reset_watches", "1", t);
      c_.write(v.L + "/type", "pv", t);
      return true;
    });
    c_.write(v.L + "/dm-version", "qemu_xen");
  }

  // 2.2
  void build() {
    Vm& v = vm_;
    const std::string& P = v.P;
    c_.gdp(v.domid);
    c_.read_expect(P + "/vm", v.U);
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const std::string start_time =
        format("%lld.%02ld", static_cast<long long>(now.tv_sec), now.tv_nsec / 10000000);
    c_.transact(Tx::kT2, [&](uint32_t t) {
      c_.write(P + "/memory/static-max", "1048576", t);
      c_.write(P + "/memory/target", "1048576", t);
      c_.write(P + "/memory/videoram", "0", t);
      c_.write(P + "/domid", v.d, t);
      c_.write(P + "/store/port", "1", t);
      c_.write(P + "/store/ring-ref", v.store_mfn, t);
      c_.write(P + "/cpu/0/availability", "online", t);
      c_.write(v.U + "/image/ostype", "linux", t);
      c_.write(v.U + "/image/kernel", "/var/lib/xen/images/vmlinuz", t);
      c_.write(v.U + "/start_time", start_time, t);
      c_.write(v.U + "/image/ramdisk", "/var/lib/xen/images/initrd.img", t);
      c_.write(v.U + "/image/cmdline", "root=/dev/xvda1 ro", t);
      return true;
    });
    v.hv = Hv::kIntroduced;  // before the request: xenconsoled learns of it by hypercall
    c_.introduce(v.domid, v.store_mfn, 1);
    c_.write(v.L + "/dm-version", "qemu_xen");
  }

  // One device_hotplug pass's prologue.
  void hotplug_pass() {
    c_.gdp(0);
    c_.read_expect("domid", "0");
  }

  // 2.3
  void add_vbd() {
    Vm& v = vm_;
    const std::string rD = "r" + v.d, nD = "n" + v.d;
    const std::vector<Kv> fe_kv = {
        {"backend-id", "0"},     {"state", "1"},   {"virtual-device", "51712"},
        {"device-type", "disk"}, {"trusted", "1"}, {"protocol", "x86_64-abi"}};
    const std::vector<Kv> be_kv = {
        {"params", "/dev/vg0/vm-" + v.d},
        {"script", "/etc/xen/scripts/block"},
        {"frontend-id", v.d},
        {"online", "1"},
        {"removable", "0"},
        {"bootable", "1"},
        {"state", "1"},
        {"dev", "xvda"},
        {"type", "phy"},
        {"mode", "w"},
        {"device-type", "disk"},
        {"discard-enable", "1"},
        {"specification", "xen"},
    };
    c_.transact(Tx::kT3, [&](uint32_t t) {
      c_.read(v.LEV, t, kNoent);
      c_.gdp(v.domid);
      c_.gdp(0);
      c_.rm(v.LEV, t, kAny);
      c_.write(v.LEV + "/frontend", v.FEV, t);
      c_.write(v.LEV + "/backend", v.BEV, t);
      c_.rm(v.FEV, t, kAny);
      c_.mkdir(v.FEV, t);
      c_.setperms(v.FEV, {nD, "r0"}, t);
      c_.write(v.FEV + "/backend", v.BEV, t);
      for (const Kv& kv : fe_kv) {
        c_.write(v.FEV + '/' + kv.k, kv.v, t);
        c_.setperms(v.FEV + '/' + kv.k, {nD, "r0"}, t);
      }
      c_.rm(v.BEV, t, kAny);
      c_.mkdir(v.BEV, t);
      c_.setperms(v.BEV, {"n0", rD}, t);
      c_.write(v.BEV + "/frontend", v.FEV, t);
      for (const Kv& kv : be_kv) c_.write(v.BEV + '/' + kv.k, kv.v, t);
      for (const Kv& kv : be_kv) c_.write(v.LEV + '/' + kv.k, kv.v, t);
      return true;
    });
    c_.gdp(0);
    wait_for(
        v.BEV + "/state", [](const std::string& s) { return s == "2"; },
        "vbd backend state 2 (K0)");
    hotplug_pass();
    c_.gdp(0);
    c_.read_expect(v.BEV + "/script", "/etc/xen/scripts/block");
    c_.gdp(0);
    hotplug_block_add();
    c_.gdp(0);
    hotplug_pass();  // the second pass: vbd needs no second script
  }

  // /etc/xen/scripts/block add (phy), XENBUS_PATH=backend/vbd/D/51712
  void hotplug_block_add() {
    Vm& v = vm_;
    const std::string& xb = v.kBEV;
    hp_read(v, xb + "/type");
    hp_read(v, xb + "/params");
    hp_read(v, xb + "/mode");
    hp_read(v, xb + "/physical-device", kNoent);
    hp_read(v, xb + "/frontend-id");
    hp_read(v, v.P + "/vm");
    // check_device_sharing: every vbd of every domain.
    if (auto doms = hp_list(v, "backend/vbd", kOk)) {
      for (const std::string& dom : *doms) {
        auto devs = hp_list(v, "backend/vbd/" + dom, kAny);
        if (!devs) continue;
        for (const std::string& dev : *devs) {
          hp_read(v, "backend/vbd/" + dom + '/' + dev + "/physical-device", kAny);
        }
      }
    }
    hp_write(v, xb + "/physical-device", format("fd:%x", 0x100 + v.domid));
    hp_write(v, xb + "/physical-device-path", "/dev/dm-" + v.d);
    hp_write(v, xb + "/hotplug-status", "connected");
  }

  // 2.4
  void add_console() {
    Vm& v = vm_;
    const std::string rD = "r" + v.d, nD = "n" + v.d;
    const std::vector<Kv> fe_kv = {{"limit", "1048576"}, {"type", "xenconsoled"},
                                   {"output", "pty"},    {"tty", ""},
                                   {"port", "2"},        {"ring-ref", v.console_mfn}};
    const std::vector<Kv> be_kv = {
        {"frontend-id", v.d}, {"online", "1"}, {"state", "1"}, {"protocol", "vt100"}};
    c_.gdp(v.domid);
    c_.gdp(0);
    c_.transact(Tx::kT4, [&](uint32_t t) {
      c_.rm(v.LEC, t, kAny);
      c_.write(v.LEC + "/frontend", v.FEC, t);
      c_.write(v.LEC + "/backend", v.BEC, t);
      c_.rm(v.FEC, t, kAny);
      c_.mkdir(v.FEC, t);
      c_.setperms(v.FEC, {"n0", rD}, t);
      c_.write(v.FEC + "/backend", v.BEC, t);
      c_.write(v.FEC + "/backend-id", "0", t);
      c_.setperms(v.FEC + "/backend-id", {nD, "r0"}, t);
      for (const Kv& kv : fe_kv) {
        c_.write(v.FEC + '/' + kv.k, kv.v, t);
        c_.setperms(v.FEC + '/' + kv.k, {"n0", rD}, t);
      }
      c_.rm(v.BEC, t, kAny);
      c_.mkdir(v.BEC, t);
      c_.setperms(v.BEC, {"n0", rD}, t);
      c_.write(v.BEC + "/frontend", v.FEC, t);
      for (const Kv& kv : be_kv) c_.write(v.BEC + '/' + kv.k, kv.v, t);
      for (const Kv& kv : be_kv) c_.write(v.LEC + '/' + kv.k, kv.v, t);
      return true;
    });
  }

  // The vif's device_hotplug pass (libxl__get_hotplug_script_info for a vif).
  void vif_script_info(bool gatewaydev) {
    Vm& v = vm_;
    c_.read_expect("domid", "0");
    c_.gdp(v.domid);
    c_.read(v.P + "/image/device-model-domid", 0, kNoent);
    c_.gdp(0);
    c_.read_expect(v.BEN + "/script", "/etc/xen/scripts/vif-bridge");
    c_.gdp(0);
    c_.read_expect(v.BEN + "/type", "vif");
    if (!gatewaydev) return;
    c_.gdp(0);
    c_.read(v.BEN + "/gatewaydev", 0, kNoent);
    c_.gdp(0);
    c_.read_expect(v.BEN + "/type", "vif");
  }

  // 2.5
  void add_vif() {
    Vm& v = vm_;
    const std::string rD = "r" + v.d, nD = "n" + v.d;
    const std::vector<Kv> fe_kv = {
        {"backend-id", "0"}, {"state", "1"}, {"handle", "0"}, {"mac", v.mac}, {"trusted", "1"}};
    const std::vector<Kv> be_kv = {{"frontend-id", v.d},  {"online", "1"},
                                   {"state", "1"},        {"script", "/etc/xen/scripts/vif-bridge"},
                                   {"mac", v.mac},        {"bridge", "xenbr0"},
                                   {"handle", "0"},       {"type", "vif"},
                                   {"hotplug-status", ""}};
    c_.transact(Tx::kT5, [&](uint32_t t) {
      c_.read(v.LEN, t, kNoent);
      c_.gdp(v.domid);
      c_.gdp(0);
      c_.rm(v.LEN, t, kAny);
      c_.write(v.LEN + "/frontend", v.FEN, t);
      c_.write(v.LEN + "/backend", v.BEN, t);
      c_.rm(v.FEN, t, kAny);
      c_.mkdir(v.FEN, t);
      c_.setperms(v.FEN, {nD, "r0"}, t);
      c_.write(v.FEN + "/backend", v.BEN, t);
      for (const Kv& kv : fe_kv) {
        c_.write(v.FEN + '/' + kv.k, kv.v, t);
        c_.setperms(v.FEN + '/' + kv.k, {nD, "r0"}, t);
      }
      c_.write(v.FEN + "/mtu", "1500", t);
      c_.setperms(v.FEN + "/mtu", {"n0", rD}, t);
      c_.rm(v.BEN, t, kAny);
      c_.mkdir(v.BEN, t);
      c_.setperms(v.BEN, {"n0", rD}, t);
      c_.write(v.BEN + "/frontend", v.FEN, t);
      for (const Kv& kv : be_kv) c_.write(v.BEN + '/' + kv.k, kv.v, t);
      for (const Kv& kv : be_kv) c_.write(v.LEN + '/' + kv.k, kv.v, t);
      return true;
    });
    c_.gdp(0);
    wait_for(
        v.BEN + "/state", [](const std::string& s) { return s == "2"; },
        "vif backend state 2 (K0)");
    vif_script_info(true);
    // /etc/xen/scripts/vif-bridge online, XENBUS_PATH=backend/vif/D/0
    const std::string& xb = v.kBEN;
    hp_read(v, xb + "/vifname", kNoent);
    hp_read(v, xb + "/ip", kNoent);
    hp_read(v, xb + "/bridge");
    hp_read(v, xb + "/mtu", kNoent);
    hp_write(v, v.FEN + "/mtu", "1500");
    hp_write(v, xb + "/hotplug-status", "connected");
    vif_script_info(false);  // the second pass: nothing more to run
  }

  // 2.6
  void wait_console() {
    c_.gdp(vm_.domid);
    wait_for(
        vm_.FEC + "/tty", [](const std::string& s) { return !s.empty(); }, "the console tty (XC)");
  }

  Vm& vm_;
  Client c_;
  unsigned counter_ = 0x19;
};

// ---------------------------------------------------------------------------------------
// XLM: xl's monitor, then the destroy (3.C) and the tidy-up (3.D)

class Monitor {
 public:
  explicit Monitor(Vm& vm) : vm_(vm), c_(Role::kXLM, &vm, &vm.xlm_wake) {}

  // 2.6, after the fork.
  void setup() {
    Vm& v = vm_;
    rel_tok_ = "4/1";
    c_.watch("@releaseDomain", rel_tok_, [this](const std::string&) {
      if (vm_.hv == Hv::kDead) dead_seen_ = true;  // "checks domains via hypercall"
    });
    c_.gdp(v.domid);
    c_.read(v.P + "/image/device-model-domid", 0, kNoent);
    c_.gdp(v.domid);
    c_.gdp(v.domid);
    c_.read(v.FEV + "/dev", 0, kNoent);
    eject_tok_ = "4/2";
    c_.watch(v.FEV + "/eject", eject_tok_,
             [this](const std::string&) { c_.read(vm_.FEV + "/eject", 0, kAny); });
    c_.pump();
  }

  void wait_started() {
    c_.run_until([this] { return vm_.started.load(); }, "the guest to reach \"VM started\"");
  }
  void wait_shutdown() {
    c_.run_until([this] { return vm_.hv == Hv::kShutdown; }, "the guest to shut down");
  }

  // 3.C, as XL' on the monitor's connection.
  void destroy() {
    Vm& v = vm_;
    const std::string& P = v.P;
    c_.gdp(v.domid);
    c_.read(P + "/image/device-model-domid", 0, kNoent);
    c_.dir(v.L + "/device/pci", 0, kNoent);
    c_.read(P + "/image/device-model-pid", 0, kNoent);
    c_.read(P + "/image/device-model-domid", 0, kNoent);
    c_.gdp(v.domid);
    c_.read(P + "/target", 0, kNoent);
    c_.dir(v.L + "/device");
    c_.dir(v.L + "/device/console");
    c_.read_expect(v.LEC + "/backend", v.BEC);
    c_.dir(v.L + "/device/vbd");
    c_.read_expect(v.LEV + "/backend", v.BEV);
    c_.dir(v.L + "/device/vif");
    c_.read_expect(v.LEN + "/backend", v.BEN);

    // Console: libxl__device_destroy.
    c_.gdp(0);
    c_.gdp(v.domid);
    c_.read_expect("domid", "0");
    c_.transact(Tx::kT6, [&](uint32_t t) {
      path_cleanup(c_, t, v.FEC);
      path_cleanup(c_, t, v.LEC);
      path_cleanup(c_, t, v.BEC);
      return true;
    });

    // vbd and vif: libxl__initiate_device_generic_remove, both started before either waits.
    struct Dev {
      std::string fe, be, tok;
      bool closed = false;
    };
    Dev devs[2] = {{v.FEV, v.BEV, "5/1", false}, {v.FEN, v.BEN, "5/2", false}};
    for (Dev& d : devs) {
      c_.gdp(0);
      c_.read_expect("domid", "0");
      c_.transact(Tx::kT7, [&](uint32_t t) {
        path_cleanup(c_, t, d.fe);
        std::optional<std::string> s = c_.read(d.be + "/state", t, kOk);
        c_.write(d.be + "/online", "0", t);
        if (!s || *s != "6") c_.write(d.be + "/state", "5", t);
        return true;
      });
      c_.watch(d.be + "/state", d.tok, [this, &d](const std::string&) {
        std::optional<std::string> s = c_.read(d.be + "/state", 0, kAny);
        if (s && *s == "6") d.closed = true;
      });
    }
    c_.run_until([&] { return devs[0].closed && devs[1].closed; },
                 "backend states 6 (K0) in the destroy");
    for (Dev& d : devs) c_.unwatch(d.be + "/state", d.tok);

    // The hotplug scripts' remove/offline.
    c_.read_expect("domid", "0");
    c_.gdp(0);
    c_.read_expect(v.BEV + "/script", "/etc/xen/scripts/block");
    c_.gdp(0);
    hp_read(v, v.kBEV + "/type");
    hp_read(v, v.kBEV + "/params");
    hp_read(v, v.kBEV + "/mode");
    c_.read_expect("domid", "0");
    c_.gdp(v.domid);
    c_.read(P + "/image/device-model-domid", 0, kNoent);
    c_.gdp(0);
    c_.read_expect(v.BEN + "/script", "/etc/xen/scripts/vif-bridge");
    c_.gdp(0);
    c_.read_expect(v.BEN + "/type", "vif");
    c_.gdp(0);
    c_.read(v.BEN + "/gatewaydev", 0, kNoent);
    c_.gdp(0);
    c_.read_expect(v.BEN + "/type", "vif");
    hp_read(v, v.kBEN + "/vifname", kNoent);
    hp_read(v, v.kBEN + "/ip", kNoent);
    hp_read(v, v.kBEN + "/bridge");
    c_.read_expect("domid", "0");
    c_.gdp(v.domid);
    c_.read(P + "/image/device-model-domid", 0, kNoent);
    c_.gdp(0);
    c_.read_expect(v.BEN + "/script", "/etc/xen/scripts/vif-bridge");
    c_.gdp(0);
    c_.read_expect(v.BEN + "/type", "vif");

    // libxl__device_destroy of each.
    const std::pair<std::string, std::string> lib[2] = {{v.FEV, v.LEV}, {v.FEN, v.LEN}};
    for (int i = 0; i < 2; ++i) {
      c_.read_expect("domid", "0");
      c_.transact(Tx::kT8, [&](uint32_t t) {
        path_cleanup(c_, t, lib[i].first, kAny);  // ENOENT: T7 removed it with its parent
        path_cleanup(c_, t, lib[i].second);
        path_cleanup(c_, t, devs[i].be);
        return true;
      });
    }

    // The domain.
    c_.gdp(v.domid);
    c_.read_expect(P + "/vm", v.U);
    c_.rm(v.U);
    c_.rm(P);
    c_.rm(v.L);
    c_.rm(P + "/hvmloader", 0, kAny);  // ENOENT, P is gone (some daemons answer OK)
  }

  // 3.D: the hypervisor has destroyed the domain; @releaseDomain tells the monitor.
  void wait_released() {
    c_.run_until([this] { return dead_seen_; }, "@releaseDomain after the destroy");
    c_.unwatch(vm_.FEV + "/eject", eject_tok_);
    c_.unwatch("@releaseDomain", rel_tok_);
  }

 private:
  Vm& vm_;
  Client c_;
  std::string rel_tok_, eject_tok_;
  bool dead_seen_ = false;
};

// XS: xl shutdown (3.A)
void xl_shutdown(Vm& v) {
  Client c(Role::kXS, &v);
  c.gdp(v.domid);
  const std::string node = v.P + "/control/shutdown";
  c.write(node, "poweroff");
  bool acked = false;
  c.watch(node, "1/1", [&](const std::string&) {
    std::optional<std::string> s = c.read(node, 0, kAny);
    if (s && s->empty()) acked = true;
  });
  c.run_until([&] { return acked; }, "the guest to acknowledge the poweroff");
  c.unwatch(node, "1/1");
}

// ---------------------------------------------------------------------------------------
// G: the guest kernel (2.7 and 3.A)

class Guest {
 public:
  explicit Guest(Vm& vm)
      : vm_(vm),
        c_(g->opt.ring ? Client(Role::kG, &vm, &vm.g_wake, vm.domain.get(), vm.P)
                       : Client(Role::kG, &vm, &vm.g_wake)) {}

  void boot() {
    Vm& v = vm_;
    const std::string& P = v.P;
    if (g->opt.ring) {
      // Sent relative ("domid", "name"): the answers prove they reached the guest's home.
      c_.read_expect(P + "/domid", v.d);
      c_.read_expect(P + "/name", v.name);
    }
    c_.watch(P + "/control/shutdown", tok(), [this](const std::string&) { shutdown_handler(); });
    c_.pump();
    c_.watch(P + "/control/sysrq", tok(), [this](const std::string&) {
      c_.transact(Tx::kG, [&](uint32_t t) {
        std::optional<std::string> s = c_.read(vm_.P + "/control/sysrq", t, kAny);
        (void)s;
        return false;
      });
    });
    c_.pump();
    c_.write(P + "/control/feature-poweroff", "1");
    c_.write(P + "/control/feature-reboot", "1");
    c_.write(P + "/control/feature-suspend", "1");
    c_.watch(P + "/cpu", tok(), [](const std::string&) {});
    c_.pump();
    c_.read_expect(P + "/cpu/0/availability", "online");
    c_.watch(P + "/memory/target", tok(), [this](const std::string&) {
      c_.read(vm_.P + "/memory/target", 0, kAny);  // the balloon driver's target
      if (!balloon_init_) c_.read(vm_.P + "/memory/static-max", 0, kAny);
      balloon_init_ = true;
    });
    c_.pump();
    c_.dir(P + "/device");
    c_.dir(P + "/device/suspend");
    c_.read(P + "/device/suspend/event-channel/state", 0, kNoent);

    // blkfront
    c_.dir(P + "/device/vbd");
    c_.read_expect(v.FEV + "/state", "1");
    c_.read(v.FEV + "/backend-id");
    c_.read_expect(v.FEV + "/backend", v.BEV);
    c_.dir(v.BEV);
    c_.read(v.FEV + "/virtual-device");
    c_.watch(v.BEV + "/state", tok(), [this](const std::string&) { blk_backend_changed(); });
    c_.pump();
    c_.read(v.BEV + "/max-ring-page-order");
    c_.read(v.BEV + "/multi-queue-max-queues");
    c_.read(v.FEV + "/trusted");
    c_.transact(Tx::kG, [&](uint32_t t) {
      c_.write(v.FEV + "/ring-ref", format("%d", 8 + v.domid % 1000), t);
      c_.write(v.FEV + "/event-channel", "3", t);
      c_.write(v.FEV + "/protocol", "x86_64-abi", t);
      c_.write(v.FEV + "/feature-persistent", "1", t);
      return true;
    });
    switch_state(v.FEV, &fev_state_, "3");
    blk_initialised_ = true;
    if (bev_state_ == "4") blk_connect();

    // netfront
    c_.dir(P + "/device/vif");
    c_.read_expect(v.FEN + "/state", "1");
    c_.read(v.FEN + "/backend-id");
    c_.read_expect(v.FEN + "/backend", v.BEN);
    c_.dir(v.BEN);
    c_.watch(v.BEN + "/state", tok(), [this](const std::string&) {
      if (auto s = c_.read(vm_.BEN + "/state", 0, kAny)) ben_state_ = *s;
    });
    c_.pump();
    c_.read(v.BEN + "/feature-rx-copy");
    c_.read(v.FEN + "/trusted");
    c_.read(v.BEN + "/multi-queue-max-queues");
    c_.read(v.BEN + "/feature-split-event-channels");
    c_.read_expect(v.FEN + "/mac", v.mac);
    c_.read(v.BEN + "/feature-xdp-headroom", 0, kNoent);
    c_.transact(Tx::kG, [&](uint32_t t) {
      c_.dir(v.BEN + "/multi-queue-max-queues");
      c_.write(v.FEN + "/multi-queue-num-queues", "1", t);
      c_.write(v.FEN + "/tx-ring-ref", "768", t);
      c_.write(v.FEN + "/rx-ring-ref", "769", t);
      c_.write(v.FEN + "/event-channel-tx", "4", t);
      c_.write(v.FEN + "/event-channel-rx", "5", t);
      c_.write(v.FEN + "/request-rx-copy", "1", t);
      c_.write(v.FEN + "/feature-rx-notify", "1", t);
      c_.write(v.FEN + "/feature-sg", "1", t);
      c_.write(v.FEN + "/feature-gso-tcpv4", "1", t);
      c_.write(v.FEN + "/feature-gso-tcpv6", "1", t);
      c_.write(v.FEN + "/feature-ipv6-csum-offload", "1", t);
      return true;
    });
    switch_state(v.FEN, &fen_state_, "4");
    c_.watch(P + "/device", tok(), [](const std::string&) {});
    c_.pump();

    c_.run_until([this] { return blk_connected_ && ben_state_ == "4"; },
                 "the backends to connect (K0)");
    v.t_started = Clock::now();
    v.started = true;
    v.xlm_wake.notify();
  }

  // 3.A: the poweroff request, then the devices' shutdown.
  void run_until_poweroff() {
    Vm& v = vm_;
    c_.run_until([this] { return poweroff_; }, "the poweroff request (XS)");
    switch_state(v.FEN, &fen_state_, "5");
    c_.run_until([this] { return ben_state_ == "5" || ben_state_ == "6"; },
                 "vif backend state 5 (K0)");
    switch_state(v.FEN, &fen_state_, "6");
    switch_state(v.FEV, &fev_state_, "5");
    c_.run_until([this] { return bev_state_ == "5" || bev_state_ == "6"; },
                 "vbd backend state 5 (K0)");
    // The guest is down: its kernel sends nothing more (its connection closes with it).
    if (v.domain) v.domain->set_domain_file(simguest::DomainFile::kShutdown);
    v.hv = Hv::kShutdown;
    v.xlm_wake.notify();
  }

 private:
  std::string tok() { return kernel_token(&ptr_); }

  // drivers/xen/manage.c shutdown_handler
  void shutdown_handler() {
    const std::string node = vm_.P + "/control/shutdown";
    bool poweroff = false;
    c_.transact(Tx::kG, [&](uint32_t t) {
      std::optional<std::string> s = c_.read(node, t, kAny);
      poweroff = false;
      if (!s || s->empty()) return false;
      c_.write(node, "", t);
      poweroff = (*s == "poweroff");
      return true;
    });
    if (poweroff) poweroff_ = true;
  }

  void blk_backend_changed() {
    std::optional<std::string> s = c_.read(vm_.BEV + "/state", 0, kAny);
    if (!s) return;
    bev_state_ = *s;
    if (bev_state_ == "4" && blk_initialised_ && !blk_connected_) blk_connect();
  }

  // blkfront_connect
  void blk_connect() {
    const std::string& be = vm_.BEV;
    for (const char* k :
         {"sectors", "info", "sector-size", "physical-sector-size", "feature-flush-cache",
          "feature-barrier", "feature-discard", "discard-granularity", "discard-alignment",
          "discard-secure", "feature-persistent", "feature-max-indirect-segments"}) {
      c_.read(be + '/' + k, 0, kOk);
    }
    switch_state(vm_.FEV, &fev_state_, "4");
    blk_connected_ = true;
  }

  void switch_state(const std::string& dev, std::string* cached, const std::string& state) {
    if (*cached == state) return;
    c_.transact(Tx::kG, [&](uint32_t t) {
      if (!c_.read(dev + "/state", t, kOk)) return false;
      c_.write(dev + "/state", state, t);
      return true;
    });
    *cached = state;
  }

  Vm& vm_;
  Client c_;
  uint64_t ptr_ = 0x12340000;
  std::string bev_state_, ben_state_, fev_state_ = "1", fen_state_ = "1";
  bool blk_initialised_ = false, blk_connected_ = false, poweroff_ = false;
  bool balloon_init_ = false;
};

// ---------------------------------------------------------------------------------------
// Checks (their own connections; not part of the workload's figures)

bool check_started(Vm& v) {
  Client c(Role::kCheck, &v);
  bool ok = true;
  for (const std::string& dev : {v.FEV, v.BEV, v.FEN, v.BEN}) {
    std::optional<std::string> s = c.read(dev + "/state", 0, kAny);
    if (!s || *s != "4") {
      report_error(&v, Role::kCheck,
                   format("VM started: %s/state is %s, not \"4\"", dev.c_str(),
                          s ? ("\"" + *s + "\"").c_str() : "missing"));
      ok = false;
    }
  }
  std::optional<std::string> tty = c.read(v.FEC + "/tty", 0, kAny);
  if (!tty || tty->empty()) {
    report_error(&v, Role::kCheck, "VM started: " + v.FEC + "/tty is empty or missing");
    ok = false;
  }
  return ok;
}

bool check_gone(Client& c, Vm& v) {
  c.set_vm(&v);
  bool ok = true;
  const std::string B = "/local/domain/0/backend";
  for (const std::string& p :
       {v.P, v.U, v.L, B + "/vbd/" + v.d, B + "/vif/" + v.d, B + "/console/" + v.d}) {
    std::optional<std::string> r = c.read(p, 0, kAny);
    if (r) {
      std::optional<std::vector<std::string>> d = c.dir(p, 0, kAny);
      std::string children;
      if (d) {
        for (const std::string& s : *d) children += ' ' + s;
      }
      report_error(&v, Role::kCheck,
                   format("after stop: %s still exists (children:%s)", p.c_str(),
                          children.empty() ? " none" : children.c_str()));
      ok = false;
    }
  }
  return ok;
}

// ---------------------------------------------------------------------------------------
// One round: N VMs.

struct RoundResult {
  int n = 0;
  double wall_s = 0, start_phase_s = 0, stop_phase_s = 0;
  uint64_t requests = 0, events = 0, connections = 0;
  uint64_t req_by_role[kRoleCount] = {};
  uint64_t commits[kTxCount] = {}, aborts[kTxCount] = {}, eagain[kTxCount] = {};
  uint64_t commits_total = 0, eagain_total = 0, errors = 0;
  int correct = 0;
  double start_p50 = 0, start_p99 = 0, start_max = 0;
  double k0_p50_us = 0, k0_p99_us = 0;
  struct TypeLatency {
    uint32_t type = 0;
    size_t count = 0;
    double p50_us = 0, p99_us = 0, max_us = 0, total_s = 0;
  };
  std::vector<TypeLatency> by_type;
};

template <typename T>
T percentile(std::vector<T> v, double p) {
  if (v.empty()) return T{};
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void make_vms(int n, uint64_t seed) {
  g->vms.clear();
  for (int d = 1; d <= n; ++d) {
    auto vm = std::make_unique<Vm>();
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(d));
    vm->domid = d;
    vm->d = std::to_string(d);
    const uint64_t a = rng(), b = rng();
    vm->uuid = format("d15c%04x-%04x-4%03x-%04x-%012" PRIx64, d & 0xffff,
                      static_cast<unsigned>(a & 0xffff), static_cast<unsigned>((a >> 16) & 0xfff),
                      static_cast<unsigned>(0x8000 | ((a >> 28) & 0x3fff)),
                      static_cast<uint64_t>(b & 0xffffffffffffULL));
    vm->name = "vm" + vm->d;
    vm->mac = format("00:16:3e:%02x:%02x:%02x", static_cast<unsigned>((a >> 44) & 0x7f),
                     static_cast<unsigned>((a >> 52) & 0xff), static_cast<unsigned>(d & 0xff));
    vm->store_mfn = std::to_string(1000000 + rng() % 9000000);
    vm->console_mfn = std::to_string(1000000 + rng() % 9000000);
    vm->pty = "/dev/pts/" + std::to_string(d + 1);
    const std::string B = "/local/domain/0/backend";
    vm->P = "/local/domain/" + vm->d;
    vm->L = "/libxl/" + vm->d;
    vm->U = "/vm/" + vm->uuid;
    vm->FEV = vm->P + "/device/vbd/51712";
    vm->BEV = B + "/vbd/" + vm->d + "/51712";
    vm->LEV = vm->L + "/device/vbd/51712";
    vm->FEN = vm->P + "/device/vif/0";
    vm->BEN = B + "/vif/" + vm->d + "/0";
    vm->LEN = vm->L + "/device/vif/0";
    vm->FEC = vm->P + "/console";
    vm->BEC = B + "/console/" + vm->d + "/0";
    vm->LEC = vm->L + "/device/console/0";
    vm->kBEV = "backend/vbd/" + vm->d + "/51712";
    vm->kBEN = "backend/vif/" + vm->d + "/0";
    vm->kBEC = "backend/console/" + vm->d + "/0";
    g->vms.push_back(std::move(vm));
  }
}

// Section 1's pre-existing state, after removing what an earlier run may have left.
void setup_tree(int n) {
  Client c(Role::kSetup, nullptr);
  const std::string B = "/local/domain/0/backend";
  for (int d = 1; d <= n; ++d) {
    const std::string s = std::to_string(d);
    for (const std::string& p : {"/local/domain/" + s, "/libxl/" + s, B + "/vbd/" + s,
                                 B + "/vif/" + s, B + "/console/" + s}) {
      c.rm(p, 0, kAny);
    }
  }
  if (auto vms = c.dir("/vm", 0, kAny)) {
    for (const std::string& u : *vms) {
      if (u.rfind("d15c", 0) == 0) c.rm("/vm/" + u, 0, kAny);
    }
  }
  c.write("/local/domain/0/domid", "0");
  c.write("/local/domain/0/name", "Domain-0");
  c.write("/local/pool/0/name", "Pool-0");
  c.mkdir("/vm");
  c.mkdir("/libxl");
  c.mkdir(B);
}

// Per VM: XL, then XLM (with G on a thread of its own from the unpause on); XS when the
// start phase is over.
void run_vm(Vm& v, std::latch& started) {
  bool arrived = false;
  auto arrive = [&] {
    if (arrived) return;
    arrived = true;
    started.count_down();
  };
  std::thread guest;
  try {
    if (g->opt.stagger_ms > 0) {
      std::mt19937 rng(static_cast<unsigned>(g->opt.seed) + static_cast<unsigned>(v.domid));
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % g->opt.stagger_ms));
    }
    if (!g->opt.simxen_dir.empty()) {
      // The hypervisor creates the domain before xl writes its home (whose permissions
      // name it: the peers refuse permissions for a domain that does not exist) and
      // introduces its ring page; over the socket, the guest leaves that ring idle.
      simguest::Guest::Options go;
      go.simxen_dir = g->opt.simxen_dir;
      go.domid = static_cast<uint32_t>(v.domid);
      go.port = 1;  // P/store/port, and INTRODUCE's port
      go.timeout = std::chrono::seconds(g->opt.timeout_s);
      v.domain = std::make_unique<simguest::Guest>(go);
      v.domain->create();
    }
    v.t_create = Clock::now();
    v.hv = Hv::kCreated;
    {
      Toolstack xl(v);
      xl.create();
    }  // xl forks and exits: its connection closes
    Monitor xlm(v);
    guest = std::thread([&v] {
      try {
        Guest gk(v);
        gk.boot();
        gk.run_until_poweroff();
      } catch (const Abort&) {
        v.fail();
      }
    });
    xlm.setup();
    xlm.wait_started();
    v.start_ok = check_started(v);
    v.start_checked = true;
    arrive();
    if (g->opt.barrier) started.wait();
    v.t_stop = Clock::now();
    v.stop_ran = true;
    xl_shutdown(v);
    xlm.wait_shutdown();
    xlm.destroy();
    v.hv = Hv::kDead;  // the child's destroy hypercall
    if (v.domain) {
      if (guest.joinable()) guest.join();  // its kernel is done with the ring
      v.domain->set_domain_file(simguest::DomainFile::kGone);
    } else {
      g->hv->release(v);
    }
    xlm.wait_released();
    v.t_stopped = Clock::now();
  } catch (const Abort&) {
    v.fail();
  }
  arrive();
  if (guest.joinable()) guest.join();
}

RoundResult run_round(int n) {
  Stats stats;
  g->stats = &stats;
  make_vms(n, g->opt.seed);
  setup_tree(n);
  RoundResult res;
  res.n = n;
  uint64_t base[kRoleCount];
  Clock::time_point t0, t1, t_started;
  {
    Consoled xc;
    Backends k0;
    Hypervisor hv;
    g->hv = &hv;
    xc.setup();
    k0.setup();
    auto serve = [](auto* actor) {
      try {
        actor->run();
      } catch (const Abort&) {
        for (auto& vm : g->vms) vm->fail();
      }
    };
    std::thread xc_thread(serve, &xc);
    std::thread k0_thread(serve, &k0);
    // Let them handle their watches' first events before the clock starts.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (int r = 0; r < kRoleCount; ++r) base[r] = stats.requests[r];
    {
      std::lock_guard<std::mutex> lock(stats.mu);
      for (auto& l : stats.latency_us) l.clear();
      for (auto& l : stats.latency_by_type_us) l.clear();
    }

    t0 = t_started = Clock::now();
    std::latch started(n);
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(n));
    for (auto& vm : g->vms) threads.emplace_back(run_vm, std::ref(*vm), std::ref(started));
    for (auto& t : threads) t.join();
    t1 = Clock::now();

    // K0 and XC finish what they have queued (the figures do not include this).
    xc.stop();
    k0.stop();
    xc_thread.join();
    k0_thread.join();
    g->hv = nullptr;
  }
  for (auto& vm : g->vms) {
    if (vm->start_checked) t_started = std::max(t_started, vm->t_started);
  }
  {
    Client c(Role::kCheck, nullptr);
    for (auto& vm : g->vms) {
      if (vm->stop_ran && !vm->failed) vm->stop_ok = check_gone(c, *vm);
    }
  }

  res.wall_s = seconds_between(t0, t1);
  res.start_phase_s = seconds_between(t0, t_started);
  res.stop_phase_s = seconds_between(t_started, t1);
  for (int r = 0; r < kRoleCount; ++r) {
    if (!in_workload(static_cast<Role>(r))) continue;
    res.req_by_role[r] = stats.requests[r] - base[r];
    res.requests += res.req_by_role[r];
    res.events += stats.events[r];
    res.connections += stats.connections[r];
  }
  for (int k = 0; k < kTxCount; ++k) {
    res.commits[k] = stats.commits[k];
    res.aborts[k] = stats.aborts[k];
    res.eagain[k] = stats.eagain[k];
    res.commits_total += res.commits[k];
    res.eagain_total += res.eagain[k];
  }
  res.errors = stats.errors;
  std::vector<double> start_lat;
  for (auto& vm : g->vms) {
    const bool ok = vm->start_ok && vm->stop_ok && vm->errors == 0 && !vm->failed;
    if (ok) ++res.correct;
    if (vm->start_checked) start_lat.push_back(seconds_between(vm->t_create, vm->t_started));
  }
  res.start_p50 = percentile(start_lat, 0.5);
  res.start_p99 = percentile(start_lat, 0.99);
  res.start_max = percentile(start_lat, 1.0);
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    const auto& k0 = stats.latency_us[static_cast<int>(Role::kK0)];
    res.k0_p50_us = percentile(k0, 0.5);
    res.k0_p99_us = percentile(k0, 0.99);
    for (uint32_t t = 0; t < kTypeCount; ++t) {
      const auto& l = stats.latency_by_type_us[t];
      if (l.empty()) continue;
      RoundResult::TypeLatency tl;
      tl.type = t;
      tl.count = l.size();
      tl.p50_us = percentile(l, 0.5);
      tl.p99_us = percentile(l, 0.99);
      tl.max_us = percentile(l, 1.0);
      for (uint32_t us : l) tl.total_s += us / 1e6;
      res.by_type.push_back(tl);
    }
  }
  g->stats = nullptr;
  return res;
}

// ---------------------------------------------------------------------------------------
// Output

void print_text(FILE* f, const RoundResult& r) {
  fprintf(f, "\n== %d VM lifecycles in parallel (domids 1..%d)%s\n", r.n, r.n,
          g->opt.barrier ? ", all started before any stops" : "");
  fprintf(f, "  wall time           %.3f s (start phase %.3f s, stop phase %.3f s)\n", r.wall_s,
          r.start_phase_s, r.stop_phase_s);
  fprintf(f,
          "  requests            %" PRIu64 " (%.0f requests/s), %" PRIu64 " watch events, %" PRIu64
          " connections\n",
          r.requests, r.wall_s > 0 ? static_cast<double>(r.requests) / r.wall_s : 0.0, r.events,
          r.connections);
  fprintf(f, "  requests by actor  ");
  for (int i = 0; i < kRoleCount; ++i) {
    if (in_workload(static_cast<Role>(i)))
      fprintf(f, " %s %" PRIu64, kRoleNames[i], r.req_by_role[i]);
  }
  fprintf(f, "\n");
  fprintf(f,
          "  VM start latency    p50 %.3f s, p99 %.3f s, max %.3f s (first XL request -> "
          "milestone)\n",
          r.start_p50, r.start_p99, r.start_max);
  fprintf(f, "  K0 request latency  p50 %.0f us, p99 %.0f us (the shared backend connection)\n",
          r.k0_p50_us, r.k0_p99_us);
  fprintf(f, "  latency by request type (all actors; a connection's wait for its reply):\n");
  fprintf(f, "    %-18s %8s %9s %9s %9s %9s\n", "type", "count", "p50 us", "p99 us", "max us",
          "sum s");
  for (const RoundResult::TypeLatency& t : r.by_type) {
    fprintf(f, "    %-18s %8zu %9.0f %9.0f %9.0f %9.2f\n", type_name(t.type), t.count, t.p50_us,
            t.p99_us, t.max_us, t.total_s);
  }
  fprintf(f, "  transactions        %" PRIu64 " committed, %" PRIu64 " EAGAIN (each retried)\n",
          r.commits_total, r.eagain_total);
  fprintf(f, "    kind  commits  ended-F   EAGAIN\n");
  for (int k = 0; k < kTxCount; ++k) {
    fprintf(f, "    %-4s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "   %s\n", kTxNames[k], r.commits[k],
            r.aborts[k], r.eagain[k], kTxWhat[k]);
  }
  fprintf(f, "  errors              %" PRIu64 "\n", r.errors);
  fprintf(f, "  VMs correct         %d/%d\n", r.correct, r.n);
}

void print_json(const std::vector<RoundResult>& rounds) {
  printf("{\"workload\": \"vm_lifecycle\", \"socket\": \"%s\", \"seed\": %" PRIu64
         ", \"barrier\": %s,\n \"notes\": [\"guests (G) are dom0 socket connections using "
         "absolute paths: permissions are not enforced on them\", \"domain death is "
         "emulated by RELEASE from a dom0 connection (HV)\"],\n \"rounds\": [",
         g->opt.socket.c_str(), g->opt.seed, g->opt.barrier ? "true" : "false");
  for (size_t i = 0; i < rounds.size(); ++i) {
    const RoundResult& r = rounds[i];
    printf(
        "%s\n  {\"vms\": %d, \"wall_s\": %.6f, \"start_phase_s\": %.6f, \"stop_phase_s\": %.6f, "
        "\"requests\": %" PRIu64 ", \"requests_per_s\": %.1f, \"watch_events\": %" PRIu64
        ", \"connections\": %" PRIu64 ",\n   \"requests_by_actor\": {",
        i ? "," : "", r.n, r.wall_s, r.start_phase_s, r.stop_phase_s, r.requests,
        r.wall_s > 0 ? static_cast<double>(r.requests) / r.wall_s : 0.0, r.events, r.connections);
    bool first = true;
    for (int k = 0; k < kRoleCount; ++k) {
      if (!in_workload(static_cast<Role>(k))) continue;
      printf("%s\"%s\": %" PRIu64, first ? "" : ", ", kRoleNames[k], r.req_by_role[k]);
      first = false;
    }
    printf("},\n   \"transactions_committed\": %" PRIu64 ", \"eagain_total\": %" PRIu64
           ",\n   \"eagain\": {",
           r.commits_total, r.eagain_total);
    for (int k = 0; k < kTxCount; ++k) {
      printf("%s\"%s\": %" PRIu64, k ? ", " : "", kTxNames[k], r.eagain[k]);
    }
    printf("},\n   \"commits\": {");
    for (int k = 0; k < kTxCount; ++k) {
      printf("%s\"%s\": %" PRIu64, k ? ", " : "", kTxNames[k], r.commits[k]);
    }
    printf("},\n   \"latency_by_type_us\": {");
    for (size_t t = 0; t < r.by_type.size(); ++t) {
      const RoundResult::TypeLatency& tl = r.by_type[t];
      printf("%s\"%s\": {\"count\": %zu, \"p50\": %.0f, \"p99\": %.0f, \"max\": %.0f}",
             t ? ", " : "", type_name(tl.type), tl.count, tl.p50_us, tl.p99_us, tl.max_us);
    }
    printf(
        "},\n   \"start_latency_s\": {\"p50\": %.6f, \"p99\": %.6f, \"max\": %.6f}, "
        "\"k0_latency_us\": {\"p50\": %.0f, \"p99\": %.0f},\n   \"errors\": %" PRIu64
        ", \"vms_correct\": %d, \"vms_total\": %d}",
        r.start_p50, r.start_p99, r.start_max, r.k0_p50_us, r.k0_p99_us, r.errors, r.correct, r.n);
  }
  printf("\n ]}\n");
}

// Rows for tests/bench/run.sh: row<TAB>LABEL<TAB>UNIT<TAB>higher|lower<TAB>VALUE
void print_rows(const std::vector<RoundResult>& rounds) {
  int largest = 0;
  for (const RoundResult& r : rounds) largest = std::max(largest, r.n);
  const bool ring = g->opt.ring;
  for (const RoundResult& r : rounds) {
    const std::string p = format(
        ring ? "VM lifecycles, guests over rings, %d in parallel" : "VM lifecycles, %d in parallel",
        r.n);
    printf("row\t%s: wall time\ts\tlower\t%.3f\n", p.c_str(), r.wall_s);
    printf("row\t%s: lifecycles/s\tVMs/s\thigher\t%.2f\n", p.c_str(),
           r.wall_s > 0 ? r.n / r.wall_s : 0.0);
    printf("row\t%s: requests/s\treq/s\thigher\t%.0f\n", p.c_str(),
           r.wall_s > 0 ? static_cast<double>(r.requests) / r.wall_s : 0.0);
    printf("row\t%s: VM start latency p50\ts\tlower\t%.3f\n", p.c_str(), r.start_p50);
    printf("row\t%s: EAGAIN, all transactions\tcount\tlower\t%" PRIu64 "\n", p.c_str(),
           r.eagain_total);
    printf("row\t%s: EAGAIN, %s\tcount\tlower\t%" PRIu64 "\n", p.c_str(), kTxLabel[0], r.eagain[0]);
    if (r.n == largest && !ring) {
      for (int k = 1; k < kTxCount; ++k) {
        printf("row\t%s: EAGAIN, %s\tcount\tlower\t%" PRIu64 "\n", p.c_str(), kTxLabel[k],
               r.eagain[k]);
      }
    }
    printf("row\t%s: errors\tcount\tlower\t%" PRIu64 "\n", p.c_str(), r.errors);
    printf("row\t%s: VMs correct\tcount\thigher\t%d\n", p.c_str(), r.correct);
  }
}

[[noreturn]] void usage(int status) {
  fprintf(status ? stderr : stdout,
          "usage: vm_lifecycle --socket PATH [--vms N[,N...]] [--mode smoke|quick|full]\n"
          "                    [--seed S] [--json] [--no-barrier] [--timeout SEC] "
          "[--stagger-ms MS]\n"
          "                    [--simxen DIR [--ring]]\n"
          "\n"
          "Replays N VM lifecycles in parallel (xl create, guest boot, xl shutdown, destroy of\n"
          "a PV VM with one vbd and one vif), each actor of the trace on its own connection,\n"
          "and checks every lifecycle.\n"
          "\n"
          "  --socket PATH     the Xenstore daemon's Unix socket (default $XENSTORED_PATH)\n"
          "  --vms N[,N...]    VMs per round; one round per N, run one after another (default "
          "10)\n"
          "  --mode M          rounds of tests/bench/run.sh (smoke: 2; quick: 10,50; full: "
          "10,50,100)\n"
          "                    and tab-separated \"row\" lines on stdout, the report on stderr\n"
          "  --seed S          values (uuids, macs, frame numbers) and --stagger-ms delays\n"
          "  --json            a JSON report on stdout\n"
          "  --no-barrier      each VM stops as soon as it has started (default: all VMs start,\n"
          "                    then all stop)\n"
          "  --timeout SEC     the longest wait for a reply or another actor (default 300; 60\n"
          "                    with --mode smoke)\n"
          "  --stagger-ms MS   start each VM after a random delay below MS (default 0)\n"
          "  --simxen DIR      the daemon runs on the simxen machine DIR (docs/simxen.md): each\n"
          "                    domain and its ring page exist there from before xl writes its\n"
          "                    home, and shut down and die there instead of being RELEASEd\n"
          "  --ring            (with --simxen) the guests (G) speak over their rings\n"
          "\n"
          "Exit status: 0 if every lifecycle was correct and no request failed unexpectedly,\n"
          "1 otherwise, 2 for bad usage.\n");
  exit(status);
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 30000) usage(2);
    out.push_back(static_cast<int>(v));
    p = end;
    if (*p == ',') ++p;
  }
  if (out.empty()) usage(2);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Ctx ctx;
  g = &ctx;
  Options& o = ctx.opt;
  if (const char* env = getenv("XENSTORED_PATH")) o.socket = env;
  static const option longopts[] = {
      {"socket", required_argument, nullptr, 's'},  {"vms", required_argument, nullptr, 'n'},
      {"mode", required_argument, nullptr, 'm'},    {"seed", required_argument, nullptr, 'S'},
      {"json", no_argument, nullptr, 'j'},          {"no-barrier", no_argument, nullptr, 'b'},
      {"timeout", required_argument, nullptr, 't'}, {"stagger-ms", required_argument, nullptr, 'g'},
      {"simxen", required_argument, nullptr, 'x'},  {"ring", no_argument, nullptr, 'r'},
      {"help", no_argument, nullptr, 'h'},          {nullptr, 0, nullptr, 0},
  };
  int opt;
  bool timeout_given = false, smoke = false;
  while ((opt = getopt_long(argc, argv, "", longopts, nullptr)) != -1) {
    switch (opt) {
      case 's':
        o.socket = optarg;
        break;
      case 'n':
        o.rounds = parse_list(optarg);
        break;
      case 'm':
        o.rows = true;
        if (!strcmp(optarg, "smoke")) {
          o.rounds = {2};
          smoke = true;
        } else if (!strcmp(optarg, "quick")) {
          o.rounds = {10, 50};
        } else if (!strcmp(optarg, "full")) {
          o.rounds = {10, 50, 100};
        } else {
          usage(2);
        }
        break;
      case 'S':
        o.seed = strtoull(optarg, nullptr, 0);
        break;
      case 'j':
        o.json = true;
        break;
      case 'b':
        o.barrier = false;
        break;
      case 't':
        o.timeout_s = std::max(1, atoi(optarg));
        timeout_given = true;
        break;
      case 'g':
        o.stagger_ms = std::max(0, atoi(optarg));
        break;
      case 'x':
        o.simxen_dir = optarg;
        break;
      case 'r':
        o.ring = true;
        break;
      case 'h':
        usage(0);
      default:
        usage(2);
    }
  }
  if (optind != argc || o.socket.empty() || (o.ring && o.simxen_dir.empty())) usage(2);
  // run.sh gives a smoke run 120 s in all: a stuck wait must fail well before that.
  if (smoke && !timeout_given) o.timeout_s = 60;

  FILE* report = (o.json || o.rows) ? stderr : stdout;
  fprintf(report,
          "vm_lifecycle: socket %s, seed %" PRIu64
          "\n"
          "  actors: per VM XL, XLM, G and XS connections; XC and K0 shared by all VMs; one\n"
          "  connection per hotplug-script call (HP); %s\n"
          "%s",
          o.socket.c_str(), o.seed,
          o.simxen_dir.empty() ? "HV releases destroyed domains."
                               : "domains live and die on the simxen machine.",
          !o.ring
              ? "  Guests (G) are dom0 socket connections using absolute paths: permissions are "
                "not\n  enforced on them as they would be on the guest's ring.\n"
              : "  Guests (G) are simulated guests over their rings (simxen).\n");

  std::vector<RoundResult> results;
  bool all_ok = true;
  for (int n : o.rounds) {
    RoundResult r;
    try {
      r = run_round(n);
    } catch (const Abort&) {
      // Set-up failed (the error is printed): no figures for this round or the next.
      fprintf(stderr, "vm_lifecycle: FAILED: could not set up the %d-VM round on %s\n", n,
              o.socket.c_str());
      return 1;
    }
    print_text(report, r);
    fflush(report);
    if (r.errors != 0 || r.correct != r.n) all_ok = false;
    results.push_back(r);
  }
  if (o.json) print_json(results);
  if (o.rows) print_rows(results);
  fflush(stdout);
  if (!all_ok) {
    std::string summary;
    for (const RoundResult& r : results) {
      summary += format("%s%d VMs: %" PRIu64 " errors, %d/%d correct", summary.empty() ? "" : "; ",
                        r.n, r.errors, r.correct, r.n);
    }
    fprintf(stderr, "vm_lifecycle: FAILED: %s\n", summary.c_str());
    return 1;
  }
  return 0;
}
