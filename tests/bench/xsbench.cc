// xsbench: the workloads of the dxs benchmark, as one client program speaking the raw
// Xenstore protocol on a Unix socket. tests/bench/run.sh starts each daemon and runs one
// workload per call:
//
//   xsbench ping      --socket S [--timeout-s 30] [--pid P]...  wait until S answers
//   xsbench serial    --socket S --op write|read --ops N       1 client, latency per op
//   xsbench parallel  --socket S --op write|read --clients C --ops N   (N in total)
//   xsbench directory --socket S --children K --ops N
//   xsbench populate  --socket S --nodes N [--connections 4]   a tree under /bench/tree
//   xsbench ls        --socket S --nodes N                     xenstore-ls of that tree
//   xsbench txn       --socket S --clients C --txns T --keys K
//   xsbench starve    --socket S --txns N --rivals R   transactions others keep overtaking
//   xsbench watch     --socket S --watchers W --writes N [--ahead 32]
//   xsbench hostile   --socket S --seconds T [--pid P]...   a victim's serial reads, alone
//                     and beside hostile clients (see run_hostile)
//                     [--attackers flood,hoard,watch,writer]   which of them (default: the
//                     first three; "writer" is the watch attacker's writer with no watch)
//
// Every workload but ping, populate and ls also takes --pid P (repeatable): the daemon's
// processes, whose CPU time over the measured phase it reports per request
// (cpu_us_per_req; per event for watch), from /proc/P/task/*/schedstat.
//
// Results are key=value lines on stdout. Every measurement synchronises on replies (or on
// the watch events themselves), never on sleeps; set-up (creating the nodes a workload
// reads, connecting, registering watches) is done before the clock starts. Any error
// reply that the workload does not expect ends the program with status 1.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proc_usage.h"
#include "xs_connection.h"

namespace xsbench {
namespace {

using Clock = std::chrono::steady_clock;

// Every value written is 16 bytes, a typical Xenstore value (a state, a ring reference).
constexpr std::string_view kValue = "0123456789abcdef";
// Serial and parallel writes cycle over this many keys per client: the first pass creates
// them, the rest overwrite them.
constexpr size_t kKeysPerClient = 1000;
// Requests in flight per connection during set-up.
constexpr size_t kSetupWindow = 64;

// The nodes a workload writes are under a directory of its own process, so that repeated
// runs against one daemon do the same work (creating, not overwriting).
std::string run_dir(const char* workload) {
  return "/bench/" + std::string(workload) + "/" + std::to_string(::getpid());
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void report(const char* key, double value) {
  std::printf("%s=%.6g\n", key, value);
}
void report(const char* key, uint64_t value) {
  std::printf("%s=%llu\n", key, static_cast<unsigned long long>(value));
}

class Options;

// The CPU time the daemon's processes (--pid) spend over a measured phase: what decides
// throughput on a small dom0 (ARCHITECTURE.md section 7), reported per request.
class CpuMeter {
 public:
  explicit CpuMeter(const Options& o);
  void start() { begin_ = total(); }
  void stop() { end_ = total(); }
  // Reports `key` = CPU microseconds per unit over count units; nothing without --pid
  // (or if a process went away: its time went with it).
  void report_per(const char* key, uint64_t count) const;

 private:
  std::optional<uint64_t> total() const;
  std::vector<pid_t> pids_;
  std::optional<uint64_t> begin_;
  std::optional<uint64_t> end_;
};

class Options {
 public:
  Options(int argc, char** argv) {
    for (int i = 2; i < argc; i += 2) {
      std::string name = argv[i];
      if (name.rfind("--", 0) != 0 || i + 1 >= argc)
        die("bad argument " + name + " (see the source)");
      values_.emplace(name.substr(2), argv[i + 1]);
    }
  }
  std::string str(const char* name) const {
    auto it = values_.find(name);
    if (it == values_.end()) die(std::string("missing --") + name);
    return it->second;
  }
  std::string str(const char* name, const char* fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  size_t num(const char* name) const { return parse(name, str(name)); }
  size_t num(const char* name, size_t fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : parse(name, it->second);
  }
  std::vector<std::string> all(const char* name) const {
    std::vector<std::string> out;
    auto [first, last] = values_.equal_range(name);
    for (auto it = first; it != last; ++it) out.push_back(it->second);
    return out;
  }

 private:
  static size_t parse(const char* name, const std::string& s) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno != 0 || end == s.c_str() || *end != '\0')
      die(std::string("--") + name + ": not a number: " + s);
    return static_cast<size_t>(v);
  }
  std::multimap<std::string, std::string> values_;
};

bool is_write_op(const Options& o) {
  const std::string op = o.str("op");
  if (op != "write" && op != "read") die("--op must be write or read");
  return op == "write";
}

// Latency percentile q (0..1) of samples in microseconds, nearest rank.
double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  rank = std::clamp<size_t>(rank, 1, samples.size());
  return samples[rank - 1];
}

// Writes kValue to keys key(0) .. key(count - 1), pipelined (set-up, not measured).
template <typename Key>
void create_keys(Connection& c, size_t count, Key key) {
  c.pipeline(count, kSetupWindow, [&](size_t i, uint32_t* type, std::string* payload) {
    *type = kWrite;
    *payload = write_payload(key(i), kValue);
  });
}

// --- ping ------------------------------------------------------------------------------

bool process_alive(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// One GET_DOMAIN_PATH on a fresh connection, answered within 5 s.
bool answers(const std::string& socket_path) {
  const int fd = Connection::try_connect(socket_path);
  if (fd < 0) return false;
  std::string req;
  const uint32_t header[4] = {kGetDomainPath, 1, 0, 2};
  req.append(reinterpret_cast<const char*>(header), sizeof(header));
  req.append("0\0", 2);
  bool ok = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  char reply[16];
  size_t got = 0;
  while (ok && got < sizeof(reply)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      ok = false;
      break;
    }
    ssize_t n = ::read(fd, reply + got, sizeof(reply) - got);
    if (n <= 0) {
      ok = false;
      break;
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  uint32_t type = 0;
  if (ok) std::memcpy(&type, reply, 4);
  return ok && type == kGetDomainPath;
}

int run_ping(const Options& o) {
  const std::string sock = o.str("socket");
  const auto deadline = Clock::now() + std::chrono::seconds(o.num("timeout-s", 30));
  auto delay = std::chrono::milliseconds(1);
  for (;;) {
    if (answers(sock)) return 0;
    for (const std::string& pid : o.all("pid")) {
      if (!process_alive(pid)) die("process " + pid + " exited before " + sock + " answered");
    }
    if (Clock::now() > deadline) die("no answer on " + sock);
    std::this_thread::sleep_for(delay);  // polling for readiness, not timing anything
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

CpuMeter::CpuMeter(const Options& o) {
  for (const std::string& pid : o.all("pid")) pids_.push_back(static_cast<pid_t>(std::stol(pid)));
}

std::optional<uint64_t> CpuMeter::total() const {
  uint64_t sum = 0;
  for (pid_t pid : pids_) {
    std::optional<uint64_t> ns = bench::process_cpu_ns(pid);
    if (!ns) return std::nullopt;
    sum += *ns;
  }
  return sum;
}

void CpuMeter::report_per(const char* key, uint64_t count) const {
  if (pids_.empty() || !begin_ || !end_ || count == 0) return;
  report(key, static_cast<double>(*end_ - *begin_) / 1000.0 / static_cast<double>(count));
}

// --- 1 client, serial --------------------------------------------------------------------

int run_serial(const Options& o) {
  const bool write = is_write_op(o);
  const size_t ops = o.num("ops");
  Connection c(o.str("socket"));
  const std::string dir = run_dir("serial");
  auto key = [&](size_t i) { return dir + "/k" + std::to_string(i % kKeysPerClient); };
  if (!write) create_keys(c, std::min(ops, kKeysPerClient), key);

  std::vector<double> latency_us;
  latency_us.reserve(ops);
  std::string payload;
  const uint32_t type = write ? kWrite : kRead;
  CpuMeter cpu(o);
  cpu.start();
  const auto t0 = Clock::now();
  for (size_t i = 0; i < ops; ++i) {
    payload = write ? write_payload(key(i), kValue) : path_payload(key(i));
    const auto start = Clock::now();
    c.call_ok(type, payload);
    latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  const double secs = seconds_since(t0);
  cpu.stop();
  report("ops", static_cast<uint64_t>(ops));
  cpu.report_per("cpu_us_per_req", ops);
  report("seconds", secs);
  report("ops_per_s", static_cast<double>(ops) / secs);
  report("p50_us", percentile(latency_us, 0.50));
  report("p99_us", percentile(latency_us, 0.99));
  return 0;
}

// --- C clients, each on its own connection ---------------------------------------------

// Runs body(client, connection) on `clients` threads, each with its own connection made
// and prepared (prepare(client, connection)) before the clock starts. Returns the seconds
// from the common start until the last client finished. A meter given is started and
// stopped with the clock.
template <typename Prepare, typename Body>
double run_clients(const std::string& sock, size_t clients, Prepare prepare, Body body,
                   CpuMeter* cpu = nullptr) {
  std::latch ready(static_cast<std::ptrdiff_t>(clients));
  std::latch go(1);
  std::vector<std::thread> threads;
  for (size_t j = 0; j < clients; ++j) {
    threads.emplace_back([&, j] {
      Connection c(sock);
      prepare(j, c);
      ready.count_down();
      go.wait();
      body(j, c);
    });
  }
  ready.wait();
  if (cpu) cpu->start();
  const auto t0 = Clock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  const double secs = seconds_since(t0);
  if (cpu) cpu->stop();
  return secs;
}

int run_parallel(const Options& o) {
  const bool write = is_write_op(o);
  const size_t clients = std::max<size_t>(1, o.num("clients"));
  const size_t per_client = std::max<size_t>(1, o.num("ops") / clients);
  const std::string dir = run_dir("parallel");
  CpuMeter cpu(o);
  auto key = [&](size_t j, size_t i) {
    return dir + "/c" + std::to_string(j) + "/k" + std::to_string(i % kKeysPerClient);
  };
  const double secs = run_clients(
      o.str("socket"), clients,
      [&](size_t j, Connection& c) {
        if (!write)
          create_keys(c, std::min(per_client, kKeysPerClient), [&](size_t i) { return key(j, i); });
      },
      [&](size_t j, Connection& c) {
        std::string payload;
        for (size_t i = 0; i < per_client; ++i) {
          payload = write ? write_payload(key(j, i), kValue) : path_payload(key(j, i));
          c.call_ok(write ? kWrite : kRead, payload);
        }
      },
      &cpu);
  const size_t ops = per_client * clients;
  report("ops", static_cast<uint64_t>(ops));
  cpu.report_per("cpu_us_per_req", ops);
  report("seconds", secs);
  report("ops_per_s", static_cast<double>(ops) / secs);
  return 0;
}

// --- DIRECTORY of a node with K children --------------------------------------------------

int run_directory(const Options& o) {
  const size_t children = o.num("children");
  const size_t ops = o.num("ops");
  Connection c(o.str("socket"));
  const std::string parent = "/bench/dir";
  c.call_ok(kMkdir, path_payload(parent));
  create_keys(c, children, [&](size_t i) { return parent + "/c" + std::to_string(i); });
  const std::string payload = path_payload(parent);
  const Message first = c.call_ok(kDirectory, payload);
  const size_t listed =
      static_cast<size_t>(std::count(first.payload.begin(), first.payload.end(), '\0'));
  if (listed != children) {
    die("DIRECTORY listed " + std::to_string(listed) + " children, expected " +
        std::to_string(children));
  }
  CpuMeter cpu(o);
  cpu.start();
  const auto t0 = Clock::now();
  for (size_t i = 0; i < ops; ++i) c.call_ok(kDirectory, payload);
  const double secs = seconds_since(t0);
  cpu.stop();
  report("ops", static_cast<uint64_t>(ops));
  cpu.report_per("cpu_us_per_req", ops);
  report("seconds", secs);
  report("ops_per_s", static_cast<double>(ops) / secs);
  return 0;
}

// --- a large tree --------------------------------------------------------------------------

// /bench/tree/g<G>/d<D>/k<K>: 99 leaves per directory, 100 directories per group, so that
// no directory listing comes near the 4096-byte payload limit. Writing the leaves creates
// the directories.
struct TreeLayout {
  static constexpr size_t kLeavesPerDir = 99;
  static constexpr size_t kDirsPerGroup = 100;

  explicit TreeLayout(size_t nodes)
      : dirs(std::max<size_t>(1, (nodes + 50) / (kLeavesPerDir + 1))),
        groups((dirs + kDirsPerGroup - 1) / kDirsPerGroup),
        leaves(dirs * kLeavesPerDir) {}

  // Nodes under and including /bench/tree.
  size_t nodes() const { return leaves + dirs + groups + 1; }

  std::string leaf(size_t i) const {
    const size_t dir = i / kLeavesPerDir;
    return "/bench/tree/g" + std::to_string(dir / kDirsPerGroup) + "/d" +
           std::to_string(dir % kDirsPerGroup) + "/k" + std::to_string(i % kLeavesPerDir);
  }

  size_t dirs;
  size_t groups;
  size_t leaves;
};

int run_populate(const Options& o) {
  const TreeLayout tree(o.num("nodes"));
  const size_t connections = std::max<size_t>(1, o.num("connections", 4));
  const double secs = run_clients(
      o.str("socket"), connections, [](size_t, Connection&) {},
      [&](size_t j, Connection& c) {
        const size_t first = tree.leaves * j / connections;
        const size_t last = tree.leaves * (j + 1) / connections;
        create_keys(c, last - first, [&](size_t i) { return tree.leaf(first + i); });
      });
  report("nodes", static_cast<uint64_t>(tree.nodes()));
  report("writes", static_cast<uint64_t>(tree.leaves));
  report("seconds", secs);
  report("writes_per_s", static_cast<double>(tree.leaves) / secs);
  return 0;
}

// Times Debian's xenstore-ls of /bench/tree (one line per node below it) and checks that
// it listed the whole tree.
int run_ls(const Options& o) {
  const TreeLayout tree(o.num("nodes"));
  const std::string sock = o.str("socket");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::setenv("XENSTORED_PATH", sock.c_str(), 1);
    ::execlp("xenstore-ls", "xenstore-ls", "/bench/tree", static_cast<char*>(nullptr));
    std::fprintf(stderr, "xsbench: exec xenstore-ls: %s\n", std::strerror(errno));
    std::_Exit(127);
  }
  ::close(out[1]);
  size_t lines = 0;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    lines += static_cast<size_t>(std::count(buf, buf + n, '\n'));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const double secs = seconds_since(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("xenstore-ls failed");
  if (lines != tree.nodes() - 1) {
    die("xenstore-ls printed " + std::to_string(lines) + " lines for " +
        std::to_string(tree.nodes() - 1) + " nodes");
  }
  report("nodes", static_cast<uint64_t>(tree.nodes()));
  report("seconds", secs);
  return 0;
}

// --- transactions under one shared parent ----------------------------------------------

int run_txn(const Options& o) {
  const size_t clients = o.num("clients");
  const size_t txns = o.num("txns");
  const size_t keys = o.num("keys");
  const std::string parent = run_dir("txn");
  {
    Connection c(o.str("socket"));
    c.call_ok(kMkdir, path_payload(parent));
  }
  std::atomic<uint64_t> eagain{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> requests{0};
  CpuMeter cpu(o);
  const double secs = run_clients(
      o.str("socket"), clients, [](size_t, Connection&) {},
      [&](size_t j, Connection& c) {
        const std::string prefix = parent + "/c" + std::to_string(j) + "t";
        for (size_t t = 0; t < txns; ++t) {
          for (;;) {
            const Message start = c.call_ok(kTransactionStart, std::string_view("\0", 1));
            requests += 2;  // the start, and the end whichever it is
            const uint32_t tx =
                static_cast<uint32_t>(std::strtoul(start.payload.c_str(), nullptr, 10));
            bool conflict = false;
            for (size_t k = 0; k < keys && !conflict; ++k) {
              const std::string path = prefix + std::to_string(t) + "k" + std::to_string(k);
              const Message r = c.call(kWrite, write_payload(path, kValue), tx);
              ++requests;
              if (r.is_error() && r.error() != "EAGAIN")
                die("WRITE in a transaction: " + r.error());
              conflict = r.is_error();
            }
            if (conflict) {
              c.call(kTransactionEnd, std::string_view("F\0", 2), tx);
              ++eagain;
              continue;
            }
            const Message end = c.call(kTransactionEnd, std::string_view("T\0", 2), tx);
            if (end.is_error()) {
              if (end.error() != "EAGAIN") die("TRANSACTION_END: " + end.error());
              ++eagain;
              continue;
            }
            ++commits;
            break;
          }
        }
      },
      &cpu);
  report("commits", commits.load());
  report("requests", requests.load());
  cpu.report_per("cpu_us_per_req", requests.load());
  report("eagain", eagain.load());
  report("seconds", secs);
  report("commits_per_s", static_cast<double>(commits.load()) / secs);
  return 0;
}

// --- a transaction that others keep overtaking ---------------------------------------------

// No transaction is tried more often than this; one that still loses gives up.
constexpr uint64_t kMaxAttempts = 100;

// ARCHITECTURE.md section 5: a client that keeps losing must win within a bounded number
// of retries. One client runs N transactions, each reading /.../state and writing a key
// of its own (the toolstack reading a guest's state before it acts), while R rivals
// write that state back to back, each as soon as its last write is answered. Each
// transaction is retried until it commits, at most kMaxAttempts times. Reports the most
// attempts one transaction needed, the mean, how many gave up, the loser's commits/s, and
// the rivals' writes/s.
int run_starve(const Options& o) {
  const std::string sock = o.str("socket");
  const size_t txns = o.num("txns");
  const size_t rivals = o.num("rivals", 1);
  const std::string dir = run_dir("starve");
  const std::string state = dir + "/state";
  {
    Connection c(sock);
    c.call_ok(kWrite, write_payload(state, kValue));
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> rival_writes{0};
  std::latch rivals_ready(static_cast<std::ptrdiff_t>(rivals));
  std::vector<std::thread> threads;
  for (size_t j = 0; j < rivals; ++j) {
    threads.emplace_back([&, j] {
      Connection c(sock);
      const std::string name = "rival " + std::to_string(j) + " write ";
      c.call_ok(kWrite, write_payload(state, name + "0"));
      rivals_ready.count_down();
      // A new value each time, as a guest's state changes: a daemon that compares values
      // (oxenstored replays a transaction and compares its replies) would not see a
      // rewrite of the same one as a change.
      for (uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
        c.call_ok(kWrite, write_payload(state, name + std::to_string(n)));
        ++rival_writes;
      }
    });
  }
  rivals_ready.wait();
  Connection c(sock);
  uint64_t most = 0, attempts_total = 0, gave_up = 0;
  const auto t0 = Clock::now();
  const uint64_t rival_writes0 = rival_writes.load();
  for (size_t t = 0; t < txns; ++t) {
    const std::string mine = write_payload(dir + "/mine" + std::to_string(t % 16), kValue);
    uint64_t attempts = 0;
    for (;;) {
      ++attempts;
      const Message start = c.call_ok(kTransactionStart, std::string_view("\0", 1));
      const uint32_t tx = static_cast<uint32_t>(std::strtoul(start.payload.c_str(), nullptr, 10));
      c.call_ok(kRead, path_payload(state), tx);
      c.call_ok(kWrite, mine, tx);
      const Message end = c.call(kTransactionEnd, std::string_view("T\0", 2), tx);
      if (!end.is_error()) break;
      if (end.error() != "EAGAIN") die("TRANSACTION_END: " + end.error());
      if (attempts == kMaxAttempts) {
        ++gave_up;
        break;
      }
    }
    most = std::max(most, attempts);
    attempts_total += attempts;
  }
  const double secs = seconds_since(t0);
  const uint64_t overtaking = rival_writes.load() - rival_writes0;
  stop = true;
  for (auto& th : threads) th.join();
  report("max_attempts", most);
  report("mean_attempts", static_cast<double>(attempts_total) / static_cast<double>(txns));
  report("gave_up", gave_up);
  report("commits_per_s", static_cast<double>(txns - gave_up) / secs);
  report("rival_writes_per_s", static_cast<double>(overtaking) / secs);
  return 0;
}

// --- watch fan-out --------------------------------------------------------------------------

// How long the watch fan-out waits for an event before it counts the rest as lost.
constexpr std::chrono::seconds kEventPatience{10};

// W connections watch /bench/watch; one writer changes nodes below it; each write is an
// event on every watcher. Timed from the first write until the last event arrived. The
// writer runs at most --ahead (32) writes ahead of the events delivered.
int run_watch(const Options& o) {
  const std::string sock = o.str("socket");
  const size_t watchers = o.num("watchers");
  const size_t writes = o.num("writes");
  const std::string root = "/bench/watch";
  Connection writer(sock);
  writer.call_ok(kMkdir, path_payload(root));

  std::vector<std::unique_ptr<Connection>> conns;
  for (size_t i = 0; i < watchers; ++i) {
    conns.push_back(std::make_unique<Connection>(sock));
    Connection& c = *conns.back();
    std::string payload = path_payload(root) + "w" + std::to_string(i);
    payload.push_back('\0');
    c.call_ok(kWatch, payload);
    while (c.events_seen() == 0) c.drain_events();  // the event every new watch fires
  }

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die(std::string("epoll_create1: ") + std::strerror(errno));
  std::vector<uint64_t> target(watchers);
  for (size_t i = 0; i < watchers; ++i) {
    target[i] = conns[i]->events_seen() + writes;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i]->fd(), &ev) != 0) die("epoll_ctl");
  }

  std::atomic<uint64_t> delivered{0};
  std::atomic<bool> receiving{true};
  // The writer stays at most `ahead` writes ahead of delivery, as a toolstack waits for its
  // watchers: without back-pressure C xenstored drops events it cannot deliver soon enough.
  std::mutex progress_mu;
  std::condition_variable delivery;
  Clock::time_point last_event;
  std::thread receiver([&] {
    size_t done = 0;
    auto progress = Clock::now();
    epoll_event evs[64];
    while (done < watchers && Clock::now() - progress < kEventPatience) {
      const int n = ::epoll_wait(ep, evs, 64, 1000);
      for (int k = 0; k < n; ++k) {
        Connection& c = *conns[evs[k].data.u64];
        const size_t got = c.drain_events();
        if (got == 0) continue;
        delivered += got;
        { std::lock_guard lock(progress_mu); }
        delivery.notify_one();
        progress = last_event = Clock::now();
        if (c.events_seen() >= target[evs[k].data.u64]) {
          ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd(), nullptr);
          ++done;
        }
      }
    }
    receiving = false;
    { std::lock_guard lock(progress_mu); }
    delivery.notify_one();
  });

  const size_t ahead = o.num("ahead", 32);
  CpuMeter cpu(o);
  cpu.start();
  const auto t0 = Clock::now();
  for (size_t i = 0; i < writes; ++i) {
    if (ahead != 0 && i >= ahead) {
      const uint64_t needed = static_cast<uint64_t>(i - ahead) * watchers;
      std::unique_lock lock(progress_mu);
      delivery.wait(lock, [&] { return delivered.load() >= needed || !receiving.load(); });
      if (delivered.load() < needed) break;  // the receiver gave up
    }
    writer.call_ok(kWrite, write_payload(root + "/k" + std::to_string(i % 16), kValue));
  }
  const double write_secs = seconds_since(t0);
  receiver.join();
  cpu.stop();
  ::close(ep);
  const uint64_t expected = static_cast<uint64_t>(watchers) * writes;
  const uint64_t got = delivered.load();
  if (got == 0) die("watch fan-out: no event delivered");
  if (got < expected) {
    uint64_t least = UINT64_MAX;
    size_t complete = 0;
    for (size_t i = 0; i < watchers; ++i) {
      const uint64_t seen = conns[i]->events_seen() + writes - target[i];
      least = std::min(least, seen);
      complete += seen == writes;
    }
    std::fprintf(stderr,
                 "xsbench: watch fan-out: %llu of %llu events delivered (none for %lld s after "
                 "the last; %zu watchers got all %zu, the least served %llu)\n",
                 static_cast<unsigned long long>(got), static_cast<unsigned long long>(expected),
                 static_cast<long long>(kEventPatience.count()), complete, writes,
                 static_cast<unsigned long long>(least));
  }
  // Lost events are reported, not waited for: the rate is of the events delivered, until
  // the last of them arrived.
  const double secs = std::chrono::duration<double>(last_event - t0).count();
  report("events", got);
  report("lost", expected - got);
  report("seconds", secs);
  report("events_per_s", static_cast<double>(got) / secs);
  cpu.report_per("cpu_us_per_event", got);
  report("writes_per_s", static_cast<double>(writes) / write_secs);
  return 0;
}

// --- a victim among hostile clients ---------------------------------------------------------

// Resident memory of the daemon's processes (--pid), in kB; 0 where one cannot be read.
uint64_t rss_kb(const std::vector<std::string>& pids) {
  uint64_t total = 0;
  for (const std::string& pid : pids) {
    total += bench::process_rss_kb(static_cast<pid_t>(std::stol(pid))).value_or(0);
  }
  return total;
}

// A request's bytes, header and payload, for clients that write raw.
std::string raw_request(uint32_t type, std::string_view payload, uint32_t req_id,
                        uint32_t tx_id = 0) {
  std::string out;
  const uint32_t header[4] = {type, req_id, tx_id, static_cast<uint32_t>(payload.size())};
  out.append(reinterpret_cast<const char*>(header), sizeof(header));
  out.append(payload);
  return out;
}

// One request on c, its reply waited for until `stop`: nullopt if stop came first (a
// daemon that stalls an attacker's peer must not hang the benchmark).
std::optional<Message> call_until(Connection& c, uint32_t type, std::string_view payload,
                                  const std::atomic<bool>& stop) {
  c.queue(type, payload);
  c.flush();
  pollfd p{c.fd(), POLLIN, 0};
  while (::poll(&p, 1, 50) == 0) {
    if (stop.load(std::memory_order_relaxed)) return std::nullopt;
  }
  return c.receive();
}

// A client that pipelines WRITEs as fast as the server takes them and never reads a
// reply: its socket fills both ways, and a server that queues without bound grows.
void flood_without_reading(const std::string& sock, const std::string& key,
                           const std::atomic<bool>& stop) {
  const int fd = Connection::try_connect(sock);
  if (fd < 0) die("hostile: connect: " + std::string(std::strerror(errno)));
  std::string burst;
  for (uint32_t i = 0; i < 256; ++i) burst += raw_request(kWrite, write_payload(key, kValue), i);
  size_t at = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 20) <= 0) continue;  // a full socket: the server stopped reading us
    const ssize_t n = ::send(fd, burst.data() + at, burst.size() - at, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      break;  // the server closed us: a fair answer to a flooder
    }
    at = (at + static_cast<size_t>(n)) % burst.size();
  }
  ::close(fd);
}

// A client that starts transactions and never ends them, until the server refuses one
// (its transaction quota), then holds them open.
void hoard_transactions(const std::string& sock, const std::atomic<bool>& stop,
                        std::atomic<uint64_t>& held) {
  Connection c(sock);
  for (int i = 0; i < 100000 && !stop.load(std::memory_order_relaxed); ++i) {
    const std::optional<Message> m =
        call_until(c, kTransactionStart, std::string_view("\0", 1), stop);
    if (!m || m->is_error()) break;
    ++held;
  }
  while (!stop.load(std::memory_order_relaxed))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// A client that writes into `root` as fast as its replies come back.
void write_as_answered(const std::string& sock, const std::string& root,
                       const std::atomic<bool>& stop, std::atomic<uint64_t>& writes) {
  Connection writer(sock);
  for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
    const std::optional<Message> m = call_until(
        writer, kWrite, write_payload(root + "/k" + std::to_string(i % 64), kValue), stop);
    if (!m) break;  // the daemon holds the writer up: its reply never came
    if (m->is_error()) die("hostile: WRITE under the watch: " + m->error());
    ++writes;
  }
}

// A watcher of a subtree that never reads its events, while a writer writes into that
// subtree as fast as its replies come back.
void unread_watch(const std::string& sock, const std::string& root, const std::atomic<bool>& stop,
                  std::atomic<uint64_t>& writes) {
  const int watcher = Connection::try_connect(sock);
  if (watcher < 0) die("hostile: connect: " + std::string(std::strerror(errno)));
  std::string watch = root;
  watch.push_back('\0');
  watch += "hostile";
  watch.push_back('\0');
  const std::string req = raw_request(kWatch, watch, 1);
  if (::send(watcher, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    die("hostile: WATCH not sent");
  write_as_answered(sock, root, stop, writes);
  ::close(watcher);
}

// The victim: serial READs for `seconds`, each answered before the next; requests per second.
double victim_reads(const std::string& sock, double seconds, const std::string& key) {
  Connection c(sock);
  const std::string payload = path_payload(key);
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  uint64_t n = 0;
  while (Clock::now() < end) {
    c.call_ok(kRead, payload);
    ++n;
  }
  return static_cast<double>(n) / seconds_since(t0);
}

// The hostile mix of issue 17: a victim's serial reads alone, then beside two clients
// pipelining writes and never reading a reply, one holding transactions open until
// refused, and one watching a subtree it never reads while another writes into it as fast
// as it can. Reports the victim's rate both times and their ratio, and how much the
// daemon's resident memory grew (peak over the attack, against before it).
int run_hostile(const Options& o) {
  const std::string sock = o.str("socket");
  const double seconds = static_cast<double>(o.num("seconds", 5));
  const std::vector<std::string> pids = o.all("pid");
  // --attackers flood,hoard,watch (the default: all of them) picks which ones run, to see
  // what each costs the victim; "writer" is the watch attacker's writer without its watch.
  std::set<std::string> chosen;
  {
    std::stringstream list(o.str("attackers", "flood,hoard,watch"));
    for (std::string name; std::getline(list, name, ',');) {
      if (name != "flood" && name != "hoard" && name != "watch" && name != "writer")
        die("hostile: unknown attacker " + name + " (flood, hoard, watch, writer)");
      chosen.insert(name);
    }
  }
  auto wanted = [&](const char* name) { return chosen.count(name) != 0; };
  const std::string dir = run_dir("hostile");
  const std::string victim_key = dir + "/victim";
  {
    Connection c(sock);
    c.call_ok(kWrite, write_payload(victim_key, kValue));
    c.call_ok(kMkdir, path_payload(dir + "/watched"));
  }
  const double alone = victim_reads(sock, seconds, victim_key);
  const uint64_t rss_before = rss_kb(pids);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> held{0};
  std::atomic<uint64_t> watched_writes{0};
  std::vector<std::thread> attackers;
  if (wanted("flood")) {
    attackers.emplace_back([&] { flood_without_reading(sock, dir + "/flood0", stop); });
    attackers.emplace_back([&] { flood_without_reading(sock, dir + "/flood1", stop); });
  }
  if (wanted("hoard")) attackers.emplace_back([&] { hoard_transactions(sock, stop, held); });
  if (wanted("watch")) {
    attackers.emplace_back([&] { unread_watch(sock, dir + "/watched", stop, watched_writes); });
  }
  if (wanted("writer")) {
    attackers.emplace_back(
        [&] { write_as_answered(sock, dir + "/watched", stop, watched_writes); });
  }
  uint64_t rss_peak = rss_before;
  std::thread sampler([&] {
    while (!stop.load()) {
      rss_peak = std::max(rss_peak, rss_kb(pids));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // sampling, not syncing
    }
  });
  // The attack gets going before the victim is timed: a second of it first.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double attacked = victim_reads(sock, seconds, victim_key);
  stop = true;
  for (auto& t : attackers) t.join();
  sampler.join();

  report("alone_per_s", alone);
  report("attacked_per_s", attacked);
  report("ratio", attacked / alone);
  report("transactions_held", held.load());
  report("watched_writes", watched_writes.load());
  if (!pids.empty()) report("rss_growth_kb", rss_peak - std::min(rss_peak, rss_before));
  for (const std::string& pid : pids) {
    if (!process_alive(pid)) die("hostile: daemon process " + pid + " died");
  }
  return 0;
}

}  // namespace
}  // namespace xsbench

int main(int argc, char** argv) {
  using namespace xsbench;
  if (argc < 2) die("usage: xsbench WORKLOAD --option value ... (see tests/bench/xsbench.cc)");
  const std::string workload = argv[1];
  const Options o(argc, argv);
  int status = 0;
  if (workload == "ping") {
    status = run_ping(o);
  } else if (workload == "serial") {
    status = run_serial(o);
  } else if (workload == "parallel") {
    status = run_parallel(o);
  } else if (workload == "directory") {
    status = run_directory(o);
  } else if (workload == "populate") {
    status = run_populate(o);
  } else if (workload == "ls") {
    status = run_ls(o);
  } else if (workload == "txn") {
    status = run_txn(o);
  } else if (workload == "starve") {
    status = run_starve(o);
  } else if (workload == "watch") {
    status = run_watch(o);
  } else if (workload == "hostile") {
    status = run_hostile(o);
  } else {
    die("unknown workload " + workload);
  }
  std::fflush(stdout);
  return status;
}
