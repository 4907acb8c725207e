// restart_bench - the clients of the restart benchmark (tests/bench/restart.sh, which
// tests/bench/restart_bench.py drives). Three subcommands:
//
//   restart_bench clients --simxen-dir DIR --socket SOCK --guests G --sockets S
//                         [--first-domid D] [--timeout SECONDS]
//     G simulated guests (tests/simguest, on the simxen machine DIR) introduced to the
//     daemon at SOCK, each with its home /local/domain/<domid> and its first request
//     answered over its ring; and S dom0 clients connected to SOCK, each with one request
//     answered (a WRITE of its own node, so that the frontend has accepted it and handed
//     it to the fd store). Then it prints "ready" and reads commands on stdin, one a line:
//       send R write|read
//                every socket client and every guest writes one request (a WRITE of its
//                own node, round R, or a READ of it), without waiting; prints "sent".
//                Then it waits for every answer and prints "sockets T..." and
//                "rings T..." (each client's answer time, CLOCK_MONOTONIC nanoseconds)
//                and "done".
//       quit     exits.
//     The driver sends "send" while no frontend runs (killed), then starts the new one.
//     Guests' requests go into their rings as Linux's xenbus would leave them while the
//     server is away: written, notified (the notification is lost: nobody is bound).
//     Answers are awaited by one thread, in one epoll: the sockets, and each guest's
//     event channel. For the timed rounds the guests' channels are sockets of this
//     thread's, bound at the guests' paths (evtchn/guest-<domid>.sock) in place of the
//     guest library's own, so that a guest learns of its answer from the server's
//     notification, as Linux's xenbus does, and a thousand guests cost no thousand
//     threads. simxen can lose a notification where Xen's pending bit would not (a burst
//     to many guests can exhaust the sending socket's buffer, and simxen drops what does
//     not go: docs/simxen.md), so every unanswered ring is also looked at once a
//     millisecond: an answer is seen at most about 1 ms late.
//
//   restart_bench populate --socket SOCK --nodes N [--connections C] [--writes W --tag T]
//     Fills the tree with about N nodes in the shape of a Xen host's (below), by WRITEs
//     pipelined 64 deep on C connections (default 4). With --writes, overwrites W of
//     those nodes instead (values tagged T): the traffic of a host at work. Prints
//     key=value lines: nodes, domains, writes, seconds.
//
//   restart_bench stamp FILE PROGRAM [ARGS...]
//     Writes "<CLOCK_MONOTONIC ns> <CLOCK_REALTIME ns>" to FILE and execs PROGRAM in the
//     same process (so LISTEN_PID stays right): the instant a restart is timed from.
//
// Any failure prints "restart_bench: FAILED: ..." on stderr and exits with status 1.

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dom0_client.h"
#include "guest.h"
#include "ring.h"
#include "wire.h"
#include "xs_connection.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kRead = 2, kIntroduce = 8, kWrite = 11, kMkdir = 12, kSetPerms = 14;
// Request ids of the timed requests over rings: far from the guest library's own (from 1).
constexpr uint32_t kRoundIdBase = 0x40000000;
// epoll data of a guest's channel: its index with this bit set (sockets have it clear).
constexpr uint64_t kGuestBit = uint64_t{1} << 63;
// How often every unanswered ring is looked at, notified or not.
constexpr std::chrono::milliseconds kRingLook{1};

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "restart_bench: FAILED: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

int64_t monotonic_ns(Clock::time_point t) {
  // steady_clock is CLOCK_MONOTONIC on Linux: the clock of the driver's time.monotonic().
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// A value of 16 to 32 bytes, different for each node and round.
std::string value_of(uint64_t i, std::string_view what) {
  std::string v(what);
  v += '-';
  v += std::to_string(i);
  const size_t len = 16 + (i * 2654435761u) % 17;
  if (v.size() < len) v.append(len - v.size(), 'x');
  if (v.size() > 32) v.resize(32);
  return v;
}

// --- options ---------------------------------------------------------------------------------

struct Args {
  std::vector<std::string> words;
  std::string get(const std::string& name, const std::string& fallback = "") const {
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == "--" + name) return words[i + 1];
    }
    if (fallback.empty()) fail("--" + name + " is required");
    return fallback;
  }
  long num(const std::string& name, const std::string& fallback = "") const {
    const std::string s = get(name, fallback);
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0' || v < 0) fail("--" + name + ": not a number: " + s);
    return v;
  }
};

// --- dom0 socket clients -----------------------------------------------------------------------

int connect_unix(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) fail("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  // Blocking: a full backlog makes connect() wait for the server to accept.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    fail("connect " + path + ": " + std::strerror(errno));
  }
  if (::fcntl(fd, F_SETFL, O_NONBLOCK) != 0) fail(std::string("fcntl: ") + std::strerror(errno));
  return fd;
}

struct SocketClient {
  int fd = -1;
  std::string in;
  uint32_t next_id = 1;
  uint32_t waiting_id = 0;  // 0: nothing awaited
  uint32_t waiting_type = 0;
  Clock::time_point answered_at;
};

void send_all(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    // A fresh socket's buffer holds far more than one small request.
    if (n < 0) fail(std::string("send: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void send_request(SocketClient& c, uint32_t type, const std::string& payload) {
  c.waiting_id = c.next_id++;
  c.waiting_type = type;
  send_all(c.fd, simguest::encode({type, c.waiting_id, 0, payload}));
}

// Reads what the socket holds; true once the awaited reply has arrived (checked: a
// success of the request's type).
bool take_reply(SocketClient& c, size_t index) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) fail("socket client " + std::to_string(index) + ": closed by the server");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    fail("socket client " + std::to_string(index) + ": recv: " + std::strerror(errno));
  }
  bool bad = false;
  while (std::optional<simguest::Message> m = simguest::take_message(c.in, &bad)) {
    if (m->type == simguest::kWatchEvent) continue;
    if (m->req_id != c.waiting_id) {
      fail("socket client " + std::to_string(index) + ": a reply to request " +
           std::to_string(m->req_id) + " while awaiting " + std::to_string(c.waiting_id));
    }
    if (m->type != c.waiting_type) {
      fail("socket client " + std::to_string(index) + ": request answered " +
           (m->is_error() ? m->error_name() : "with type " + std::to_string(m->type)));
    }
    c.waiting_id = 0;
    return true;
  }
  if (bad) fail("socket client " + std::to_string(index) + ": oversized reply header");
  return false;
}

// --- guests ---------------------------------------------------------------------------------

struct RingClient {
  std::unique_ptr<simguest::Guest> guest;
  int channel = -1;  // bound at the guest's event-channel path for the timed rounds
  std::string in;
  uint32_t waiting_id = 0;
  uint32_t waiting_type = 0;
  Clock::time_point answered_at;
};

// Reads the responses in the ring; true once the awaited reply is there (checked: a
// success of the request's type).
bool take_ring_reply(RingClient& r) {
  char buf[simguest::kRingSize];
  bool read_any = false;
  for (;;) {
    std::optional<size_t> n = r.guest->ring().read_responses(buf, sizeof buf);
    if (!n) fail("guest " + std::to_string(r.guest->options().domid) + ": invalid ring indices");
    if (*n == 0) break;
    r.in.append(buf, *n);
    read_any = true;
  }
  if (!read_any) return false;
  r.guest->notify();  // as xenbus does once it has consumed responses
  bool bad = false;
  while (std::optional<simguest::Message> m = simguest::take_message(r.in, &bad)) {
    if (m->type == simguest::kWatchEvent) continue;
    const std::string who = "guest " + std::to_string(r.guest->options().domid);
    if (m->req_id != r.waiting_id) fail(who + ": a reply to request " + std::to_string(m->req_id));
    if (m->type != r.waiting_type) {
      fail(who + ": request answered " +
           (m->is_error() ? m->error_name() : "with type " + std::to_string(m->type)));
    }
    r.waiting_id = 0;
    return true;
  }
  if (bad) fail("guest " + std::to_string(r.guest->options().domid) + ": corrupt responses");
  return false;
}

// The node socket client i writes at set-up and in the rounds.
std::string socket_node(size_t i) {
  return "/bench/restart/s" + std::to_string(i);
}

class Clients {
 public:
  explicit Clients(const Args& a)
      : simxen_dir_(a.get("simxen-dir")),
        socket_(a.get("socket")),
        timeout_(std::chrono::seconds(a.num("timeout", "60"))) {
    const long guests = a.num("guests");
    const long sockets = a.num("sockets");
    const auto first_domid = static_cast<uint32_t>(a.num("first-domid", "1"));
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) fail(std::string("epoll_create1: ") + std::strerror(errno));
    set_up_guests(guests, first_domid);
    set_up_sockets(sockets);
  }

  // One round: every client sends, then every answer is awaited.
  void round(uint64_t r, bool write) {
    const uint32_t type = write ? kWrite : kRead;
    const std::string value = write ? value_of(r, "round") : "";
    for (size_t i = 0; i < sockets_.size(); ++i) {
      send_request(sockets_[i], type, socket_node(i) + '\0' + value);
    }
    for (size_t i = 0; i < rings_.size(); ++i) {
      RingClient& ring = rings_[i];
      ring.waiting_id = kRoundIdBase + static_cast<uint32_t>(r);
      ring.waiting_type = type;
      const std::string bytes =
          simguest::encode({type, ring.waiting_id, 0, std::string("restart") + '\0' + value});
      // put_bytes notifies too, as a guest does; nobody is bound to hear it now.
      if (ring.guest->put_bytes(bytes) != bytes.size()) {
        fail("guest " + std::to_string(ring.guest->options().domid) + ": its ring is not empty");
      }
    }
    std::printf("sent\n");
    std::fflush(stdout);
    await_all();
    print_times(
        "sockets", [&](size_t i) { return sockets_[i].answered_at; }, sockets_.size());
    print_times(
        "rings", [&](size_t i) { return rings_[i].answered_at; }, rings_.size());
    std::printf("done\n");
    std::fflush(stdout);
  }

 private:
  void set_up_guests(long count, uint32_t first_domid) {
    if (count == 0) return;
    try {
      simguest::Dom0Client dom0(socket_);
      for (long i = 0; i < count; ++i) {
        simguest::Guest::Options o;
        o.simxen_dir = simxen_dir_;
        o.domid = first_domid + static_cast<uint32_t>(i);
        o.port = 1;
        o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_);
        RingClient ring;
        ring.guest = std::make_unique<simguest::Guest>(o);
        ring.guest->create();
        const std::string d = std::to_string(o.domid);
        const std::string home = "/local/domain/" + d;
        dom0_ok(dom0, kMkdir, home + '\0', "MKDIR " + home);
        dom0_ok(dom0, kSetPerms, home + '\0' + "n" + d + '\0', "SET_PERMS " + home);
        dom0_ok(dom0, kIntroduce, d + '\0' + "1" + '\0' + std::to_string(o.port) + '\0',
                "INTRODUCE " + d);
        rings_.push_back(std::move(ring));
      }
      // Each ring answers once before anything is timed.
      for (RingClient& ring : rings_) {
        simguest::Message m =
            ring.guest->request(kWrite, std::string("restart") + '\0' + value_of(0, "set-up"));
        if (m.is_error()) throw simguest::GuestError(m.error_name() + " (an error reply)");
      }
    } catch (const std::exception& e) {
      fail(std::string("set-up of the guests: ") + e.what());
    }
    // From here on the server's notifications to a guest reach this thread's socket: the
    // server sends each to the path, which now names it. (The library's Guest keeps its
    // own socket, unnamed, and is not asked to wait again.)
    for (size_t i = 0; i < rings_.size(); ++i) {
      const std::string path = simxen_dir_ + "/evtchn/guest-" +
                               std::to_string(rings_[i].guest->options().domid) + ".sock";
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      if (path.size() >= sizeof a.sun_path) fail("path too long: " + path);
      std::memcpy(a.sun_path, path.c_str(), path.size());
      const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
      ::unlink(path.c_str());
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        fail("bind " + path + ": " + std::strerror(errno));
      }
      rings_[i].channel = fd;
      watch(fd, kGuestBit | i);
    }
  }

  void watch(int fd, uint64_t data) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = data;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      fail(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }

  void dom0_ok(simguest::Dom0Client& dom0, uint32_t type, const std::string& payload,
               const std::string& what) {
    simguest::Message m = dom0.request(
        type, payload, std::chrono::duration_cast<std::chrono::milliseconds>(timeout_));
    if (m.is_error()) fail("dom0 " + what + " -> " + m.error_name());
  }

  void set_up_sockets(long count) {
    sockets_.resize(static_cast<size_t>(count));
    for (size_t i = 0; i < sockets_.size(); ++i) {
      sockets_[i].fd = connect_unix(socket_);
      watch(sockets_[i].fd, i);
      send_request(sockets_[i], kWrite, socket_node(i) + '\0' + value_of(0, "set-up"));
    }
    await_all();
  }

  // Until every socket client and every ring has its awaited reply, or the deadline.
  void await_all() {
    const Clock::time_point until = Clock::now() + timeout_;
    size_t sockets_left = 0, rings_left = 0;
    for (const SocketClient& c : sockets_) sockets_left += c.waiting_id != 0;
    for (const RingClient& r : rings_) rings_left += r.waiting_id != 0;
    std::vector<epoll_event> events(256);
    Clock::time_point last_look = Clock::now();
    while (sockets_left + rings_left > 0) {
      if (Clock::now() > until) {
        fail(std::to_string(sockets_left) + " socket clients and " + std::to_string(rings_left) +
             " guests unanswered after " +
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout_).count()) +
             " s");
      }
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(kRingLook.count()));
      if (n < 0 && errno != EINTR) fail(std::string("epoll_wait: ") + std::strerror(errno));
      for (int k = 0; k < n; ++k) {
        const uint64_t data = events[static_cast<size_t>(k)].data.u64;
        if (data & kGuestBit) {
          RingClient& r = rings_[data & ~kGuestBit];
          unsigned char buf[8];
          while (::recv(r.channel, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
          }
          if (r.waiting_id != 0 && take_ring_reply(r)) {
            r.answered_at = Clock::now();
            --rings_left;
          }
          continue;
        }
        SocketClient& c = sockets_[data];
        if (c.waiting_id == 0) continue;
        if (take_reply(c, data)) {
          c.answered_at = Clock::now();
          --sockets_left;
        }
      }
      if (rings_left == 0 || Clock::now() - last_look < kRingLook) continue;
      last_look = Clock::now();
      for (RingClient& r : rings_) {
        if (r.waiting_id != 0 && take_ring_reply(r)) {
          r.answered_at = Clock::now();
          --rings_left;
        }
      }
    }
  }

  template <typename At>
  void print_times(const char* what, At at, size_t n) {
    std::string line = what;
    for (size_t i = 0; i < n; ++i) line += ' ' + std::to_string(monotonic_ns(at(i)));
    std::printf("%s\n", line.c_str());
  }

  std::string simxen_dir_, socket_;
  Clock::duration timeout_;
  int epoll_ = -1;
  std::vector<SocketClient> sockets_;
  std::vector<RingClient> rings_;
};

int run_clients(const Args& a) {
  Clients clients(a);
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") return 0;
    char op[16] = "";
    unsigned long long r = 0;
    if (std::sscanf(line.c_str(), "send %llu %15s", &r, op) == 2 &&
        (std::string_view(op) == "write" || std::string_view(op) == "read")) {
      clients.round(r, std::string_view(op) == "write");
      continue;
    }
    fail("unknown command: " + line);
  }
  return 0;
}

// --- populate ---------------------------------------------------------------------------------

// The nodes a domain has on a Xen host after xl created it with two disks, one NIC and a
// console, and its drivers connected: its home (/local/domain/<d>: name, cpu, memory,
// control, the frontends under device/, console, store, and what a guest agent writes
// under data/ and attr/), the backends in dom0's home, /vm/<uuid> and /libxl/<d>. Each
// entry is a leaf; writing it creates the directories above it.
std::vector<std::string> domain_leaves(uint32_t d) {
  const std::string ds = std::to_string(d);
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "3f2a%04x-0c1d-4e5f-8a9b-%012x", d & 0xffff, d);
  const std::string home = "/local/domain/" + ds + "/";
  std::vector<std::string> out;
  auto add = [&](const std::string& prefix, std::initializer_list<const char*> names) {
    for (const char* n : names) out.push_back(prefix + n);
  };
  add(home, {"vm", "name", "domid", "image/device-model-pid", "store/port", "store/ring-ref",
             "memory/static-max", "memory/target", "memory/videoram", "device-model/state"});
  for (int cpu = 0; cpu < 4; ++cpu)
    out.push_back(home + "cpu/" + std::to_string(cpu) + "/availability");
  add(home + "control/",
      {"shutdown", "sysrq", "feature-poweroff", "feature-reboot", "feature-suspend", "feature-s3",
       "feature-s4", "platform-feature-multiprocessor-suspend",
       "platform-feature-xs_reset_watches"});
  add(home + "console/",
      {"backend", "backend-id", "limit", "type", "output", "tty", "port", "ring-ref"});
  for (const char* vdev : {"51712", "51728"}) {
    add(home + "device/vbd/" + vdev + "/",
        {"backend", "backend-id", "state", "virtual-device", "device-type", "protocol", "ring-ref",
         "event-channel", "feature-persistent"});
    add("/local/domain/0/backend/vbd/" + ds + "/" + vdev + "/", {"frontend",
                                                                 "frontend-id",
                                                                 "online",
                                                                 "removable",
                                                                 "bootable",
                                                                 "state",
                                                                 "dev",
                                                                 "type",
                                                                 "mode",
                                                                 "device-type",
                                                                 "discard-enable",
                                                                 "specification",
                                                                 "params",
                                                                 "script",
                                                                 "physical-device",
                                                                 "physical-device-path",
                                                                 "hotplug-status",
                                                                 "feature-flush-cache",
                                                                 "feature-discard",
                                                                 "feature-persistent",
                                                                 "feature-max-indirect-segments",
                                                                 "sectors",
                                                                 "info",
                                                                 "sector-size",
                                                                 "physical-sector-size"});
    add("/libxl/" + ds + "/device/vbd/" + vdev + "/", {"frontend", "backend", "params"});
  }
  add(home + "device/vif/0/",
      {"backend", "backend-id", "state", "handle", "mac", "mtu", "multi-queue-num-queues",
       "request-rx-copy", "feature-rx-notify", "feature-sg", "feature-gso-tcpv4",
       "feature-gso-tcpv6", "feature-ipv6-csum-offload", "queue-0/tx-ring-ref",
       "queue-0/rx-ring-ref", "queue-0/event-channel-tx", "queue-0/event-channel-rx"});
  add("/local/domain/0/backend/vif/" + ds + "/0/", {"frontend",
                                                    "frontend-id",
                                                    "online",
                                                    "state",
                                                    "script",
                                                    "mac",
                                                    "bridge",
                                                    "handle",
                                                    "type",
                                                    "hotplug-status",
                                                    "feature-sg",
                                                    "feature-gso-tcpv4",
                                                    "feature-gso-tcpv6",
                                                    "feature-ipv6-csum-offload",
                                                    "feature-rx-copy",
                                                    "feature-rx-flip",
                                                    "feature-multicast-control",
                                                    "feature-split-event-channels",
                                                    "multi-queue-max-queues",
                                                    "feature-ctrl-ring"});
  add("/local/domain/0/backend/console/" + ds + "/0/",
      {"frontend", "frontend-id", "online", "state", "protocol"});
  add(home + "data/", {"updated", "ts", "os_distro", "os_majorver", "os_minorver"});
  add(home + "attr/", {"PVAddons/MajorVersion", "PVAddons/MinorVersion", "os/name", "os/version",
                       "os/kernel", "vif/0/ipv4/0", "vif/0/ipv6/0"});
  add("/vm/" + std::string(uuid) + "/",
      {"uuid", "name", "start_time", "image/ostype", "image/kernel", "image/cmdline"});
  add("/libxl/" + ds + "/", {"type", "dm-version", "device/vif/0/frontend", "device/vif/0/backend",
                             "device/console/0/frontend", "device/console/0/backend"});
  return out;
}

// The nodes the leaves make: each leaf and every directory above it.
std::set<std::string> nodes_of(const std::vector<std::string>& leaves) {
  std::set<std::string> nodes{"/"};
  for (const std::string& leaf : leaves) {
    for (size_t slash = leaf.find('/', 1); slash != std::string::npos;
         slash = leaf.find('/', slash + 1)) {
      nodes.insert(leaf.substr(0, slash));
    }
    nodes.insert(leaf);
  }
  return nodes;
}

int run_populate(const Args& a) {
  const auto target = static_cast<size_t>(a.num("nodes"));
  const size_t connections = std::max<long>(1, a.num("connections", "4"));
  const std::string socket = a.get("socket");
  // --writes W: overwrite W of the tree's leaves (the first few of every domain) with
  // values tagged --tag, instead of writing them all.
  const auto rewrite = static_cast<size_t>(a.num("writes", "0"));
  const std::string tag = a.get("tag", "v");
  // Nodes shared by every domain (/local/domain, dom0's backend directories, ...) and
  // those each domain adds, from two domains' leaves.
  const std::set<std::string> one = nodes_of(domain_leaves(1));
  std::vector<std::string> both = domain_leaves(1);
  for (std::string& s : domain_leaves(2)) both.push_back(std::move(s));
  const size_t shared = 2 * one.size() - nodes_of(both).size();
  const size_t per_domain = one.size() - shared;
  const size_t domains =
      std::max<size_t>(1, (std::max(target, shared) - shared + per_domain - 1) / per_domain);
  const size_t leaves_per_domain = domain_leaves(1).size();

  std::vector<size_t> written(connections, 0);
  const Clock::time_point t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t j = 0; j < connections; ++j) {
    threads.emplace_back([&, j] {
      xsbench::Connection c(socket);
      // Whole domains per connection: no two connections write one domain's nodes.
      std::vector<std::string> leaves;
      const size_t quota =
          rewrite == 0 ? SIZE_MAX : rewrite * (j + 1) / connections - rewrite * j / connections;
      const size_t own_domains = (domains + connections - 1 - j) / connections;
      const size_t per = rewrite == 0
                             ? leaves_per_domain
                             : std::min(leaves_per_domain, (quota + own_domains - 1) /
                                                               std::max<size_t>(1, own_domains));
      for (size_t d = 1 + j; d <= domains && leaves.size() < quota; d += connections) {
        std::vector<std::string> all = domain_leaves(static_cast<uint32_t>(d));
        for (size_t k = 0; k < per && leaves.size() < quota; ++k)
          leaves.push_back(std::move(all[k]));
      }
      c.pipeline(leaves.size(), 64, [&](size_t i, uint32_t* type, std::string* payload) {
        *type = xsbench::kWrite;
        *payload = xsbench::write_payload(leaves[i], value_of(i, tag));
      });
      written[j] = leaves.size();
    });
  }
  for (std::thread& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  size_t writes = 0;
  for (size_t w : written) writes += w;
  // "/" is there before, as are /tool and /tool/xenstored (not counted).
  std::printf("nodes=%zu\ndomains=%zu\nwrites=%zu\nseconds=%.3f\n", shared + domains * per_domain,
              domains, writes, secs);
  return 0;
}

// --- stamp ------------------------------------------------------------------------------------

int run_stamp(int argc, char** argv) {
  if (argc < 4) fail("usage: restart_bench stamp FILE PROGRAM [ARGS...]");
  const int fd = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(std::string("open ") + argv[2] + ": " + std::strerror(errno));
  timespec mono{}, real{};
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  ::clock_gettime(CLOCK_REALTIME, &real);
  char line[64];
  const int n =
      std::snprintf(line, sizeof line, "%lld %lld\n", mono.tv_sec * 1000000000LL + mono.tv_nsec,
                    real.tv_sec * 1000000000LL + real.tv_nsec);
  if (::write(fd, line, static_cast<size_t>(n)) != n) fail(std::string("write ") + argv[2]);
  ::close(fd);
  ::execv(argv[3], argv + 3);
  fail(std::string("exec ") + argv[3] + ": " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: restart_bench clients|populate|stamp ... (see the head of "
                 "tests/bench/restart_bench.cc)\n");
    return 2;
  }
  const std::string_view command = argv[1];
  if (command == "stamp") return run_stamp(argc, argv);
  Args a;
  for (int i = 2; i < argc; ++i) a.words.emplace_back(argv[i]);
  if (command == "clients") return run_clients(a);
  if (command == "populate") return run_populate(a);
  std::fprintf(stderr, "restart_bench: unknown command %s\n", argv[1]);
  return 2;
}
