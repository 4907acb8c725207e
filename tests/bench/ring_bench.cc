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
// With --hostile S, the hostile mix over rings instead (issue 17): guest 1's serial READs
// of its own node for S seconds alone, then for S seconds beside guests 2 and 3 filling
// their rings with WRITEs and never reading a response, guest 4 starting transactions
// until refused and holding them, and guest 5 watching its own subtree and never reading
// its ring while dom0 (the socket) writes into that subtree as fast as its replies come.
// Rows: guest 1's rate under attack as a ratio to its rate alone, both rates, and the
// growth of the daemon's resident memory (the --pid processes, peak during the attack).
//
// usage: ring_bench --simxen-dir DIR --socket SOCK [--guests G] [--ops N] [--keys K]
//                   [--first-domid D] [--pid PID[:NAME]]... [--timeout S] [--smoke]
//                   [--hostile S]

#include <getopt.h>
#include <sys/types.h>

#include <algorithm>

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
#include "proc_usage.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kRead = 2, kWatch = 4, kTransactionStart = 6, kIntroduce = 8, kWrite = 11,
                   kMkdir = 12, kSetPerms = 14;

struct Options {
  std::string simxen_dir, socket;
  int guests = 50;
  int ops = 1000;
  int keys = 100;  // distinct paths per guest: well inside the peers' 1000-node domain quota
  uint32_t first_domid = 1;
  int timeout_s = 30;
  int hostile_s = 0;  // > 0: the hostile mix for that many seconds per phase
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
          "per --pid, the daemon's CPU microseconds per request. --smoke: 4 guests, 50 ops.\n"
          "--hostile S: the hostile mix over rings instead (5 guests; see the source).\n");
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

// --- the hostile mix over rings ---------------------------------------------------------

// Resident memory of the --pid processes, in kB (0 for one that cannot be read).
uint64_t rss_kb(const Options& o) {
  uint64_t total = 0;
  for (const Options::Pid& p : o.pids) total += bench::process_rss_kb(p.pid).value_or(0);
  return total;
}

std::string raw_write(const std::string& path, const std::string& value, uint32_t req_id) {
  simguest::Message m;
  m.type = kWrite;
  m.req_id = req_id;
  m.payload = path + '\0' + value;
  return simguest::encode(m);
}

// The victim's serial READs for `seconds`: requests per second.
double victim_reads(simguest::Guest& g, double seconds) {
  const Clock::time_point t0 = Clock::now();
  const auto end =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  uint64_t n = 0;
  while (Clock::now() < end) {
    simguest::Message m = g.request(kRead, std::string("bench/victim") + '\0');
    if (m.is_error()) throw simguest::GuestError(m.error_name() + " (the victim's READ)");
    ++n;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
}

// Fills the guest's ring with WRITEs and never reads a response: once its rsp[] is full,
// a daemon that answers in order can take no more from it.
void flood_ring(simguest::Guest& g, const std::atomic<bool>& stop) {
  std::string burst;
  for (uint32_t i = 0; i < 64; ++i)
    burst += raw_write("bench/f" + std::to_string(i), value_of(0), i + 1);
  size_t at = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const size_t n = g.put_bytes(burst.substr(at));
    at = (at + n) % burst.size();
    // A full ring: the daemon stopped taking from it. Pacing an attacker, not syncing.
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int run_hostile(std::vector<std::unique_ptr<simguest::Guest>>& guests, simguest::Dom0Client& dom0,
                const Options& o) {
  const double seconds = o.hostile_s;
  const std::chrono::milliseconds timeout(o.timeout_s * 1000);
  simguest::Guest& victim = *guests[0];
  try {
    if (victim.request(kWrite, std::string("bench/victim") + '\0' + value_of(1)).is_error())
      throw simguest::GuestError("the victim's WRITE");
  } catch (const std::exception& e) {
    fprintf(stderr, "ring_bench: FAILED: hostile set-up: %s\n", e.what());
    return 1;
  }
  double alone = 0, attacked = 0;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> held{0}, watched_writes{0};
  std::atomic<bool> failed{false}, writer_stalled{false};
  std::mutex mu;
  std::string failure;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (!failed) failure = what;
    failed = true;
  };
  uint64_t rss_before = 0, rss_peak = 0;
  std::vector<std::thread> attackers;
  try {
    alone = victim_reads(victim, seconds);
    rss_before = rss_peak = rss_kb(o);
    for (int i = 1; i <= 2; ++i) {
      attackers.emplace_back([&, i] {
        try {
          flood_ring(*guests[i], stop);
        } catch (const std::exception& e) {
          fail("flooding guest: " + std::string(e.what()));
        }
      });
    }
    attackers.emplace_back([&] {
      try {
        while (!stop.load()) {
          simguest::Message m = guests[3]->request(kTransactionStart, std::string(1, '\0'));
          if (m.is_error()) break;  // refused: its quota
          ++held;
        }
      } catch (const std::exception& e) {
        fail("hoarding guest: " + std::string(e.what()));
      }
    });
    // The watch is registered, then the guest's ring is never looked at again.
    simguest::Guest& watcher = *guests[4];
    if (watcher.watch("bench", "hostile").is_error()) throw simguest::GuestError("WATCH");
    const std::string watched =
        "/local/domain/" + std::to_string(watcher.options().domid) + "/bench";
    // A daemon that holds the writer up (its reply does not come while the watcher is
    // full) just stops it, as xsbench's socket mix does.
    const std::chrono::milliseconds writer_timeout((o.hostile_s + 2) * 1000);
    attackers.emplace_back([&, watched, writer_timeout] {
      try {
        for (uint64_t i = 0; !stop.load(); ++i) {
          const std::string path = watched + "/k" + std::to_string(i % 64);
          if (dom0.request(kWrite, path + '\0' + value_of(static_cast<int>(i)), writer_timeout)
                  .is_error())
            throw std::runtime_error("dom0's WRITE into the watched subtree failed");
          ++watched_writes;
        }
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()).find("timed out") == std::string::npos)
          fail("dom0 writer: " + std::string(e.what()));
        writer_stalled = true;
      }
    });
    std::thread sampler([&] {
      while (!stop.load()) {
        rss_peak = std::max(rss_peak, rss_kb(o));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // sampling
      }
    });
    // The attack gets going before the victim is timed: a second of it first.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    attacked = victim_reads(victim, seconds);
    stop = true;
    sampler.join();
  } catch (const std::exception& e) {
    fail(std::string("victim: ") + e.what());
    stop = true;
  }
  for (std::thread& t : attackers) t.join();
  if (failed) {
    fprintf(stderr, "ring_bench: FAILED: hostile mix: %s\n", failure.c_str());
    return 1;
  }
  printf("row\trings, hostile mix: a guest's serial reads, under attack / alone\tx\thigher\t%.3f\n",
         attacked / alone);
  printf("row\t  the guest alone\tops/s\thigher\t%.0f\n", alone);
  printf(
      "row\t  the guest beside 2 guests flooding their rings unread, a transaction hoarder, "
      "an unread watch\tops/s\thigher\t%.0f\n",
      attacked);
  if (!o.pids.empty()) {
    // In kB: run.sh shows MiB.
    printf("row\t  the daemon's memory growth during the attack\tMiB\tlower\t%llu\n",
           static_cast<unsigned long long>(rss_peak - std::min(rss_peak, rss_before)));
  }
  fprintf(stderr, "ring_bench: hostile mix: %llu transactions held, %llu writes into the watch%s\n",
          static_cast<unsigned long long>(held.load()),
          static_cast<unsigned long long>(watched_writes.load()),
          writer_stalled ? " (then the daemon held the writer up)" : "");
  return 0;
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
      {"hostile", required_argument, nullptr, 'H'},
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
      case 'H':
        o.hostile_s = atoi(optarg);
        break;
      case 'h':
        usage(0);
      default:
        usage(2);
    }
  }
  if (optind != argc || o.simxen_dir.empty() || o.socket.empty() || o.guests < 1 || o.ops < 1 ||
      o.keys < 1 || o.timeout_s < 1 || o.first_domid < 1 || o.hostile_s < 0)
    usage(2);
  if (o.hostile_s > 0) o.guests = 5;

  std::vector<std::unique_ptr<simguest::Guest>> guests;
  std::unique_ptr<simguest::Dom0Client> dom0_conn;
  try {
    dom0_conn = std::make_unique<simguest::Dom0Client>(o.socket);
    simguest::Dom0Client& dom0 = *dom0_conn;
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

  if (o.hostile_s > 0) return run_hostile(guests, *dom0_conn, o);

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
