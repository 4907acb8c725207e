// history_bench: the client side of tests/bench/history.sh. Against a running pair whose
// state history_populate filled, it times the History API's reads as dxsctl makes them
// (at, blame, log --path, show; each the median and 99th percentile of --calls calls at
// random commits and paths), then a client's serial READs over the Xenstore socket alone
// and while an export of the whole history streams (Export, read to the end as
// `dxsctl export-git` reads it): history must never hold clients up.
//
// usage: history_bench --ops unix:PATH --socket PATH --domains D [--calls N] [--seconds S]
// Output: run.sh's rows (row<TAB>LABEL<TAB>UNIT<TAB>lower|higher|info<TAB>VALUE).
#include <getopt.h>
#include <grpcpp/grpcpp.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proto/history.grpc.pb.h"
#include "xs_connection.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string ops;
  std::string socket;
  uint32_t domains = 100;
  int calls = 200;
  double seconds = 3;
};

[[noreturn]] void usage() {
  std::fputs(
      "usage: history_bench --ops unix:PATH --socket PATH --domains D [--calls N] "
      "[--seconds S]\n",
      stderr);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  static const option kOptions[] = {
      {"ops", required_argument, nullptr, 'o'},     {"socket", required_argument, nullptr, 's'},
      {"domains", required_argument, nullptr, 'd'}, {"calls", required_argument, nullptr, 'c'},
      {"seconds", required_argument, nullptr, 't'}, {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'o':
        o.ops = optarg;
        break;
      case 's':
        o.socket = optarg;
        break;
      case 'd':
        o.domains = static_cast<uint32_t>(std::strtoul(optarg, nullptr, 10));
        break;
      case 'c':
        o.calls = std::atoi(optarg);
        break;
      case 't':
        o.seconds = std::atof(optarg);
        break;
      default:
        usage();
    }
  }
  if (o.ops.empty() || o.socket.empty() || o.domains == 0 || o.calls <= 0) usage();
  return o;
}

void row(const std::string& label, const char* unit, const char* better, double value) {
  const bool ratio = std::string_view(unit) == "x";
  std::printf(ratio ? "row\t%s\t%s\t%s\t%.2f\n" : "row\t%s\t%s\t%s\t%.1f\n", label.c_str(), unit,
              better, value);
  std::fflush(stdout);
}

void check(const grpc::Status& s, const char* what) {
  if (!s.ok()) xsbench::die(fmt::format("{}: {}", what, s.error_message()));
}

// Median and 99th percentile, in microseconds, of `calls` runs of fn.
template <typename Fn>
std::pair<double, double> latency(int calls, Fn&& fn) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    fn(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// Serial READs on one socket connection for `seconds`: requests per second.
double serial_reads(const std::string& socket, double seconds) {
  xsbench::Connection c(socket);
  const std::string payload = xsbench::path_payload("/local/domain/1/name");
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  uint64_t n = 0;
  const auto t0 = Clock::now();
  while (Clock::now() < end) {
    c.call_ok(xsbench::kRead, payload);
    ++n;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  auto channel = grpc::CreateChannel(o.ops, grpc::InsecureChannelCredentials());
  auto history = dxs::pb::History::NewStub(channel);

  // The range of commits to pick from: the oldest retained to main's head.
  dxs::pb::CommitView head;
  {
    grpc::ClientContext ctx;
    dxs::pb::ShowRequest req;
    req.mutable_commit()->set_head(true);
    check(history->Show(&ctx, req, &head), "show HEAD");
  }
  uint64_t oldest = 1;
  {
    grpc::ClientContext ctx;
    dxs::pb::ExportRequest req;
    auto reader = history->Export(&ctx, req);
    dxs::pb::CommitView first;
    if (reader->Read(&first)) oldest = first.seq();
    ctx.TryCancel();
    reader->Finish();
  }
  std::printf("# commits %llu..%llu\n", static_cast<unsigned long long>(oldest),
              static_cast<unsigned long long>(head.seq()));
  row("history: commits retained", "commits", "info", static_cast<double>(head.seq() - oldest + 1));

  std::mt19937_64 rng(7);
  auto some_commit = [&] { return oldest + rng() % (head.seq() - oldest + 1); };
  auto some_domain = [&] { return fmt::format("/local/domain/{}", 1 + rng() % o.domains); };

  auto [at_med, at_p99] = latency(o.calls, [&](int) {
    grpc::ClientContext ctx;
    dxs::pb::AtRequest req;
    req.mutable_at()->set_seq(some_commit());
    req.set_op(dxs::pb::AtRequest::READ);
    req.set_path(some_domain() + "/memory/target");
    dxs::pb::AtReply reply;
    check(history->At(&ctx, req, &reply), "at read");
  });
  row("history: at COMMIT read, median", "us", "lower", at_med);
  row("history: at COMMIT read, p99", "us", "lower", at_p99);

  auto [ls_med, ls_p99] = latency(o.calls, [&](int) {
    grpc::ClientContext ctx;
    dxs::pb::AtRequest req;
    req.mutable_at()->set_seq(some_commit());
    req.set_op(dxs::pb::AtRequest::LS);
    req.set_path(some_domain());
    dxs::pb::AtReply reply;
    check(history->At(&ctx, req, &reply), "at ls");
  });
  row("history: at COMMIT ls (a domain's tree), median", "us", "lower", ls_med);
  row("history: at COMMIT ls (a domain's tree), p99", "us", "lower", ls_p99);

  auto [blame_med, blame_p99] = latency(o.calls, [&](int) {
    grpc::ClientContext ctx;
    dxs::pb::BlameRequest req;
    req.set_path(some_domain());
    dxs::pb::BlameReply reply;
    check(history->Blame(&ctx, req, &reply), "blame");
  });
  row("history: blame (a domain's tree), median", "us", "lower", blame_med);
  row("history: blame (a domain's tree), p99", "us", "lower", blame_p99);

  auto [log_med, log_p99] = latency(o.calls, [&](int) {
    grpc::ClientContext ctx;
    dxs::pb::LogRequest req;
    req.set_path(some_domain() + "/device");
    req.set_limit(20);
    auto reader = history->Log(&ctx, req);
    dxs::pb::CommitView c;
    while (reader->Read(&c)) {
    }
    check(reader->Finish(), "log --path");
  });
  row("history: log --path (a domain's devices) -n 20, median", "us", "lower", log_med);
  row("history: log --path (a domain's devices) -n 20, p99", "us", "lower", log_p99);

  auto [show_med, show_p99] = latency(o.calls, [&](int) {
    grpc::ClientContext ctx;
    dxs::pb::ShowRequest req;
    req.mutable_commit()->set_seq(some_commit());
    dxs::pb::CommitView c;
    grpc::Status s = history->Show(&ctx, req, &c);
    // A number may be a branch commit's or, after pruning, gone: only a failure of
    // another kind is one.
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) check(s, "show");
  });
  row("history: show COMMIT, median", "us", "lower", show_med);
  (void)show_p99;

  // Serial reads alone, then while the whole history is exported.
  const double alone = serial_reads(o.socket, o.seconds);
  std::atomic<bool> exporting{true};
  std::atomic<uint64_t> exported{0};
  double export_seconds = 0;
  std::thread exporter([&] {
    const auto t0 = Clock::now();
    grpc::ClientContext ctx;
    dxs::pb::ExportRequest req;
    auto reader = history->Export(&ctx, req);
    dxs::pb::CommitView c;
    while (reader->Read(&c)) exported.fetch_add(1, std::memory_order_relaxed);
    check(reader->Finish(), "export");
    export_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    exporting = false;
  });
  // Measured while the export runs (at most o.seconds; a short export ends first).
  const double during = serial_reads(o.socket, o.seconds);
  const bool overlapped = exporting.load();
  exporter.join();
  row("history: serial reads alone", "req/s", "higher", alone);
  row("history: serial reads during an export", "req/s", "higher", during);
  row("history: serial reads during an export, ratio to alone", "x", "higher", during / alone);
  row("history: export rate", "commits/s", "higher",
      static_cast<double>(exported.load()) / std::max(export_seconds, 1e-3));
  if (!overlapped) std::printf("# the export ended before the reads did\n");
  return 0;
}
