// history_disk - disk use of dxs-store's history under a steady workload, in process:
// an Engine on a fresh RocksDB directory, fed batches as the frontend feeds them, with
// history's upkeep (Engine::maintain) after each batch as the session service runs it.
//
//   history_disk [--commits N] [--max-commits M] [--batch B] [--keys K] [--report R]
//                [--private] [--dir DIR]
//
// The workload: B requests a batch; each a WRITE of one of K keys (/bench/kI, 64-byte
// values) rewritten over and over, and every 50th batch a domain's nodes created (20
// nodes under /local/domain/D) and the previous domain's removed: the same tree, written
// again. Retention keeps M commits (0: all). Every R commits it prints one line:
// commits, horizon, disk bytes (Db::disk_bytes: SST files and WAL), bytes per retained
// commit, and the time per commit spent applying batches and in upkeep.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/wire.h"
#include "frontend/request_codec.h"
#include "store/db.h"
#include "store/engine.h"

namespace {

using namespace dxs;
using Clock = std::chrono::steady_clock;

struct Args {
  uint64_t commits = 200000;
  uint64_t max_commits = 10000;
  int batch = 16;
  int keys = 100;
  uint64_t report = 20000;
  bool private_values = false;
  std::string dir;
};

class NullLogger final : public Logger {
 public:
  NullLogger() : Logger(LogLevel::kWarning) {}
  void write(LogLevel, std::string_view) override {}
};

pb::Request request(uint64_t conn, uint64_t seq, wire::MsgType type, std::string_view payload) {
  wire::Message msg;
  msg.header = wire::Header{wire::to_u32(type), 1, 0, static_cast<uint32_t>(payload.size())};
  msg.payload.assign(payload);
  pb::Request req;
  codec::decode_request(msg, req);
  req.set_conn(conn);
  req.set_seq(seq);
  req.set_replied_seq(seq - 1);
  return req;
}

std::string write_payload(std::string_view path, std::string_view value) {
  std::string p(path);
  p += '\0';
  p += value;
  return p;
}

int run(const Args& a) {
  NullLogger log;
  store::DbOptions db_options;
  db_options.dir = a.dir;
  auto db = store::Db::open(db_options, log);
  if (!db) {
    fmt::print(stderr, "{}\n", db.status().to_string());
    return 1;
  }
  store::EngineOptions options;
  options.retention.max_commits = a.max_commits;
  options.retention.max_age_s = 0;
  if (a.private_values) options.private_paths = *store::PrivatePaths::parse("/bench/*");
  auto engine = store::Engine::open(**db, options, log);
  if (!engine) {
    fmt::print(stderr, "{}\n", engine.status().to_string());
    return 1;
  }
  store::Engine& e = **engine;
  const uint64_t conn = uint64_t{1} << 32;
  {
    google::protobuf::RepeatedPtrField<pb::Inbound> items;
    items.Add()->mutable_open()->set_conn(conn);
    items.Mutable(0)->mutable_open()->set_kind(pb::SOCKET);
    std::vector<pb::Outbound> out;
    e.apply(items, out);
  }
  fmt::print(
      "# commits horizon disk_bytes bytes/retained-commit apply_us/commit upkeep_us/commit\n");
  uint64_t seq = 0, writes = 0, batches = 0, domain = 1;
  Clock::duration applying{}, upkeep{};
  uint64_t next_report = a.report;
  const std::string value(64, 'v');
  while (e.head() < a.commits) {
    google::protobuf::RepeatedPtrField<pb::Inbound> items;
    for (int i = 0; i < a.batch; ++i) {
      const std::string path = fmt::format("/bench/k{}", writes % a.keys);
      *items.Add()->mutable_request() =
          request(conn, ++seq, wire::MsgType::kWrite,
                  write_payload(path, fmt::format("{}{}", writes, value)));
      ++writes;
    }
    if (++batches % 50 == 0) {
      for (int n = 0; n < 20; ++n) {
        *items.Add()->mutable_request() = request(
            conn, ++seq, wire::MsgType::kWrite,
            write_payload(fmt::format("/local/domain/{}/device/vif/{}/state", domain, n), "4"));
      }
      if (domain > 1) {
        std::string rm = fmt::format("/local/domain/{}", domain - 1);
        rm += '\0';
        *items.Add()->mutable_request() = request(conn, ++seq, wire::MsgType::kRm, rm);
      }
      ++domain;
    }
    std::vector<pb::Outbound> out;
    auto t0 = Clock::now();
    e.apply(items, out);
    auto t1 = Clock::now();
    e.maintain();
    auto t2 = Clock::now();
    applying += t1 - t0;
    upkeep += t2 - t1;
    if (e.head() >= next_report) {
      next_report += a.report;
      const uint64_t disk = (*db)->disk_bytes();
      const uint64_t retained = e.head() - e.history_horizon() + 1;
      auto us = [&](Clock::duration d) {
        return std::chrono::duration<double, std::micro>(d).count() / static_cast<double>(e.head());
      };
      fmt::print("{} {} {} {} {:.2f} {:.2f}\n", e.head(), e.history_horizon(), disk,
                 disk / retained, us(applying), us(upkeep));
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "history_disk: {} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--commits")
      a.commits = std::stoull(next());
    else if (arg == "--max-commits")
      a.max_commits = std::stoull(next());
    else if (arg == "--batch")
      a.batch = std::stoi(next());
    else if (arg == "--keys")
      a.keys = std::stoi(next());
    else if (arg == "--report")
      a.report = std::stoull(next());
    else if (arg == "--private")
      a.private_values = true;
    else if (arg == "--dir")
      a.dir = next();
    else {
      fmt::print(stderr, "history_disk: unknown argument {}\n", arg);
      return 2;
    }
  }
  bool temporary = a.dir.empty();
  if (temporary) {
    char tmpl[] = "/tmp/history_disk.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    a.dir = tmpl;
  }
  const int rc = run(a);
  if (temporary) std::filesystem::remove_all(a.dir);
  return rc;
}
