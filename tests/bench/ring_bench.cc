// ring_bench - the guest-ring rows of the dxs benchmark (tests/bench/run.sh).
//
// G simulated guests (tests/simguest, over libsimxen.so: docs/simxen.md) on the daemon's
// simulated machine. Set-up, untimed: each guest creates its domain (dom/<domid>, a zero
// ring page, its event-channel socket); then dom0, over the daemon's Unix socket, makes
// /local/domain/<domid> owned by the guest and INTRODUCEs it. The guest's `create` comes
// first because the peers check that a domain named in permissions exists (as xl creates
// the domain before it writes its home). Then all guests at once, one thread each, do N
// WRITEs of their own relative paths (`bench/k<i mod K>`, 16-byte values), and once all
// have finished, N READs of the same paths. Every request waits for its reply; any error
// reply or transport failure fails the run.
//
// Output on stdout, the rows of run.sh: row<TAB>LABEL<TAB>UNIT<TAB>higher|lower|info<TAB>VALUE
//   total requests per second over all rings, for the writes and for the reads; and, for
//   each --pid given, the CPU time that process spent per request during the phase
//   (/proc/<pid>/task/*/schedstat): a row for all of them together, and one per NAME.
//
// usage: ring_bench --simxen-dir DIR --socket SOCK [--guests G] [--ops N] [--keys K]
//                   [--first-domid D] [--pid PID[:NAME]]... [--timeout S] [--smoke]

#include <getopt.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dom0_client.h"
#include "guest.h"
#include "proc_cpu.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kRead = 2, kIntroduce = 8, kWrite = 11, kMkdir = 12, kSetPerms = 14;

struct Options {
  std::string simxen_dir, socket;
  int guests = 50;
  int ops = 1000;
  int keys = 100;  // distinct paths per guest: well inside the peers' 1000-node domain quota
  uint32_t first_domid = 1;
  int timeout_s = 30;
  struct Pid {
    pid_t pid;
    std::string name;
  };
  std::vector<Pid> pids;
};

[[noreturn]] void usage(int status) {
  fprintf(status ? stderr : stdout,
          "usage: ring_bench --simxen-dir DIR --socket SOCK [--guests G] [--ops N] [--keys K]\n"
          "                  [--first-domid D] [--pid PID[:NAME]]... [--timeout S] [--smoke]\n"
          "\n"
          "G simulated guests (default 50) introduced to the daemon at SOCK on the simxen\n"
          "machine DIR, then N writes (default 1000) per guest of its own relative paths,\n"
          "all guests at once, then N reads. Prints run.sh rows: ops/s over all rings and,\n"
          "per --pid, the daemon's CPU microseconds per request. --smoke: 4 guests, 50 ops.\n");
  exit(status);
}

std::string value_of(int i) {
  char buf[32];
  snprintf(buf, sizeof buf, "v%015d", i);  // 16 bytes, as xsbench writes
  return buf;
}

void check_dom0(const simguest::Message& m, const std::string& what) {
  if (m.is_error()) {
    fprintf(stderr, "ring_bench: dom0 %s -> %s\n", what.c_str(), m.error_name().c_str());
    exit(1);
  }
}

struct CpuSample {
  std::vector<uint64_t> ns;
};

CpuSample sample(const Options& o) {
  CpuSample s;
  for (const Options::Pid& p : o.pids) {
    std::optional<uint64_t> ns = bench::process_cpu_ns(p.pid);
    if (!ns) {
      fprintf(stderr, "ring_bench: cannot read the CPU time of pid %d (exited?)\n",
              static_cast<int>(p.pid));
      exit(1);
    }
    s.ns.push_back(*ns);
  }
  return s;
}

// One phase: every guest on its own thread, all released together.
double run_phase(std::vector<std::unique_ptr<simguest::Guest>>& guests, const Options& o,
                 bool write) {
  std::latch ready(static_cast<ptrdiff_t>(guests.size()) + 1);
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string failure;
  std::vector<std::thread> threads;
  for (auto& gp : guests) {
    simguest::Guest* guest = gp.get();
    threads.emplace_back([&, guest] {
      ready.arrive_and_wait();
      try {
        for (int i = 0; i < o.ops && !failed; ++i) {
          const std::string path = "bench/k" + std::to_string(i % o.keys);
          simguest::Message m = write ? guest->request(kWrite, path + '\0' + value_of(i))
                                      : guest->request(kRead, path + '\0');
          if (m.is_error()) throw simguest::GuestError(m.error_name() + " (an error reply)");
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failed) {
          failure = "guest " + std::to_string(guest->options().domid) + ": " +
                    (write ? "WRITE" : "READ") + ": " + e.what();
        }
        failed = true;
      }
    });
  }
  ready.arrive_and_wait();
  const Clock::time_point t0 = Clock::now();
  for (std::thread& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failed) {
    fprintf(stderr, "ring_bench: FAILED: %s\n", failure.c_str());
    exit(1);
  }
  return s;
}

void print_phase(const Options& o, const char* what, double seconds, const CpuSample& a,
                 const CpuSample& b) {
  const double requests = static_cast<double>(o.guests) * o.ops;
  const std::string p = "rings, " + std::to_string(o.guests) + " guests: " + what;
  printf("row\t%s (%d ops in total)\tops/s\thigher\t%.0f\n", p.c_str(), o.guests * o.ops,
         requests / seconds);
  if (o.pids.empty()) return;
  uint64_t total = 0;
  for (size_t i = 0; i < o.pids.size(); ++i) total += b.ns[i] - a.ns[i];
  printf("row\t%s: daemon CPU per request\tus\tlower\t%.2f\n", p.c_str(), total / 1e3 / requests);
  for (size_t i = 0; i < o.pids.size(); ++i) {
    if (o.pids[i].name.empty()) continue;
    printf("row\t%s: CPU per request, %s\tus\tinfo\t%.2f\n", p.c_str(), o.pids[i].name.c_str(),
           (b.ns[i] - a.ns[i]) / 1e3 / requests);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  static const option longopts[] = {
      {"simxen-dir", required_argument, nullptr, 'x'},
      {"socket", required_argument, nullptr, 's'},
      {"guests", required_argument, nullptr, 'g'},
      {"ops", required_argument, nullptr, 'n'},
      {"keys", required_argument, nullptr, 'k'},
      {"first-domid", required_argument, nullptr, 'd'},
      {"pid", required_argument, nullptr, 'p'},
      {"timeout", required_argument, nullptr, 't'},
      {"smoke", no_argument, nullptr, 'S'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, nullptr)) != -1) {
    switch (opt) {
      case 'x':
        o.simxen_dir = optarg;
        break;
      case 's':
        o.socket = optarg;
        break;
      case 'g':
        o.guests = atoi(optarg);
        break;
      case 'n':
        o.ops = atoi(optarg);
        break;
      case 'k':
        o.keys = atoi(optarg);
        break;
      case 'd':
        o.first_domid = static_cast<uint32_t>(strtoul(optarg, nullptr, 10));
        break;
      case 'p': {
        Options::Pid p;
        char* end = nullptr;
        p.pid = static_cast<pid_t>(strtol(optarg, &end, 10));
        if (end == optarg || p.pid <= 0) usage(2);
        if (*end == ':') p.name = end + 1;
        o.pids.push_back(p);
        break;
      }
      case 't':
        o.timeout_s = atoi(optarg);
        break;
      case 'S':
        o.guests = 4;
        o.ops = 50;
        break;
      case 'h':
        usage(0);
      default:
        usage(2);
    }
  }
  if (optind != argc || o.simxen_dir.empty() || o.socket.empty() || o.guests < 1 || o.ops < 1 ||
      o.keys < 1 || o.timeout_s < 1 || o.first_domid < 1)
    usage(2);

  std::vector<std::unique_ptr<simguest::Guest>> guests;
  try {
    simguest::Dom0Client dom0(o.socket);
    const std::chrono::milliseconds timeout(o.timeout_s * 1000);
    for (int i = 0; i < o.guests; ++i) {
      simguest::Guest::Options go;
      go.simxen_dir = o.simxen_dir;
      go.domid = o.first_domid + static_cast<uint32_t>(i);
      go.port = 1;
      go.timeout = timeout;
      auto guest = std::make_unique<simguest::Guest>(go);
      guest->create();
      const std::string d = std::to_string(go.domid);
      const std::string home = "/local/domain/" + d;
      check_dom0(dom0.request(kMkdir, home + '\0', timeout), "MKDIR " + home);
      check_dom0(dom0.request(kSetPerms, home + '\0' + "n" + d + '\0', timeout),
                 "SET_PERMS " + home + " n" + d);
      check_dom0(
          dom0.request(kIntroduce, d + '\0' + "1" + '\0' + std::to_string(go.port) + '\0', timeout),
          "INTRODUCE " + d);
      guests.push_back(std::move(guest));
    }
  } catch (const std::exception& e) {
    fprintf(stderr, "ring_bench: FAILED: set-up: %s\n", e.what());
    return 1;
  }
  // Each guest's first request proves its ring is served before the clock starts (the
  // daemon maps the page and binds the channel when it handles INTRODUCE, or soon after).
  for (auto& guest : guests) {
    try {
      simguest::Message m = guest->request(kWrite, std::string("bench") + '\0');
      if (m.is_error()) throw simguest::GuestError(m.error_name() + " (an error reply)");
    } catch (const std::exception& e) {
      fprintf(stderr, "ring_bench: FAILED: guest %u's first request over its ring: %s\n",
              guest->options().domid, e.what());
      return 1;
    }
  }

  CpuSample c0 = sample(o);
  const double write_s = run_phase(guests, o, true);
  CpuSample c1 = sample(o);
  const double read_s = run_phase(guests, o, false);
  CpuSample c2 = sample(o);
  print_phase(o, "writes", write_s, c0, c1);
  print_phase(o, "reads", read_s, c1, c2);
  fprintf(stderr, "ring_bench: %d guests x %d ops: writes %.3f s, reads %.3f s\n", o.guests, o.ops,
          write_s, read_s);
  return 0;
}
