// dxs-store: all Xenstore state and semantics, in RocksDB, served to dxs-frontend over a
// private gRPC Session stream and to dxsctl over the Ops API.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/daemon.h"
#include "common/grpc_polling.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "store/db.h"
#include "store/engine.h"
#include "store/ops_service.h"
#include "store/session_service.h"

namespace {

constexpr const char* kUsage = R"(Usage: dxs-store [OPTIONS]

Holds all Xenstore state in RocksDB and serves dxs-frontend and dxsctl.

Options:
  --state-dir DIR        state directory (default /var/lib/dxs)
  --listen unix:PATH     private socket for dxs-frontend (default unix:/run/dxs/store.sock)
  --ops-listen unix:PATH socket for dxsctl (default unix:/run/dxs/ops.sock)
  --config FILE          configuration file (default /etc/dxs/dxs.conf if it exists)
  --log-level LEVEL      debug, info, warning or error (default info)
  --help                 this text

Configuration keys (FILE, "key = value"):
  store.sync = false           fsync the WAL on every group commit
  store.block-cache-mb = 32    RocksDB block cache
  store.write-buffer-mb = 16   RocksDB memtable size
  store.spin-us = 200          poll this long for the next batch before sleeping
  store.privileged-domid = N   a domain with dom0's rights (xenstored -p)
  store.keep-orphans = false   hand a released domain's nodes to dom0 instead of removing them
  quota.nodes = 1000           quota.node-size = 2048     quota.watches = 128
  quota.transactions = 10      quota.transaction-nodes = 1024
  quota.permissions = 5        quota.path-max = 2048      quota.watch-events = 1024
  log.level = info
)";

const std::set<std::string> kConfigKeys = {
    "store.sync",
    "store.block-cache-mb",
    "store.write-buffer-mb",
    "store.spin-us",
    "store.privileged-domid",
    "store.keep-orphans",
    "log.level",
    "quota.nodes",
    "quota.node-size",
    "quota.watches",
    "quota.transactions",
    "quota.transaction-nodes",
    "quota.permissions",
    "quota.path-max",
    "quota.watch-events",
};

struct Args {
  std::string state_dir = "/var/lib/dxs";
  std::string listen = "unix:/run/dxs/store.sock";
  std::string ops_listen = "unix:/run/dxs/ops.sock";
  std::string config;
  std::string log_level;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "dxs-store: %s\n", message.c_str());
  std::exit(1);
}

Args parse_args(int argc, char** argv) {
  Args args;
  static const option kOptions[] = {
      {"state-dir", required_argument, nullptr, 's'},
      {"listen", required_argument, nullptr, 'l'},
      {"ops-listen", required_argument, nullptr, 'o'},
      {"config", required_argument, nullptr, 'c'},
      {"log-level", required_argument, nullptr, 'L'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 's':
        args.state_dir = optarg;
        break;
      case 'l':
        args.listen = optarg;
        break;
      case 'o':
        args.ops_listen = optarg;
        break;
      case 'c':
        args.config = optarg;
        break;
      case 'L':
        args.log_level = optarg;
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        std::exit(0);
      default:
        std::fputs(kUsage, stderr);
        std::exit(2);
    }
  }
  if (optind != argc) fail(std::string("unexpected argument '") + argv[optind] + "' (see --help)");
  return args;
}

template <typename T>
T must(dxs::Result<T> r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.status().to_string());
  return std::move(r.value());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dxs;
  Args args = parse_args(argc, argv);
  use_per_queue_polling();

  Config config;
  if (!args.config.empty()) {
    config = must(Config::load(args.config, kConfigKeys, {"frontend."}), "config");
  } else if (access("/etc/dxs/dxs.conf", R_OK) == 0) {
    config = must(Config::load("/etc/dxs/dxs.conf", kConfigKeys, {"frontend."}), "config");
  }

  LogLevel level = LogLevel::kInfo;
  const std::string level_name =
      args.log_level.empty() ? config.get_string("log.level", "info") : args.log_level;
  if (!parse_log_level(level_name, level)) fail("bad log level '" + level_name + "'");
  StderrLogger log("dxs-store", level);

  const std::string session_path = must(parse_unix_address(args.listen), "--listen");
  const std::string ops_path = must(parse_unix_address(args.ops_listen), "--ops-listen");

  store::DbOptions db_options;
  db_options.dir = args.state_dir;
  db_options.sync = must(config.get_bool("store.sync", false), "config");
  db_options.block_cache_bytes =
      static_cast<size_t>(must(config.get_int("store.block-cache-mb", 32, 1, 1 << 20), "config"))
      << 20;
  db_options.write_buffer_bytes =
      static_cast<size_t>(must(config.get_int("store.write-buffer-mb", 16, 1, 1 << 16), "config"))
      << 20;

  store::EngineOptions engine_options;
  for (size_t i = 0; i < static_cast<size_t>(store::QuotaKind::kCount); ++i) {
    auto kind = static_cast<store::QuotaKind>(i);
    const std::string key = "quota." + std::string(store::quota_name(kind));
    engine_options.quota.set(
        kind, must(config.get_int(key, engine_options.quota.get(kind), 0, INT32_MAX), "config"));
  }
  if (config.has("store.privileged-domid")) {
    engine_options.privileged_domid = static_cast<uint32_t>(
        must(config.get_int("store.privileged-domid", 0, 0, 0x7fef), "config"));
  }
  engine_options.keep_orphans = must(config.get_bool("store.keep-orphans", false), "config");

  block_termination_signals();
  auto socket_dirs = {session_path, ops_path};
  for (const auto& p : socket_dirs) {
    if (size_t slash = p.rfind('/'); slash != std::string::npos && slash > 0) {
      Status s = make_directories(p.substr(0, slash), 0755);
      if (!s) fail(s.to_string());
    }
  }

  std::unique_ptr<store::Db> db = must(store::Db::open(db_options, log), "state");
  std::unique_ptr<store::Engine> engine =
      must(store::Engine::open(*db, engine_options, log), "recovery");
  std::mutex engine_mu;

  store::SessionServerOptions session_options;
  session_options.socket_path = session_path;
  session_options.spin_us =
      static_cast<int>(must(config.get_int("store.spin-us", 200, 0, 100000), "config"));
  store::SessionServer session(*engine, engine_mu, log, session_options);
  if (Status s = session.start(); !s) fail(s.to_string());

  store::OpsService ops(*engine, engine_mu, session, log);
  std::unique_ptr<grpc::Server> ops_server =
      must(store::start_ops_server(ops, ops_path, 0660), "ops API");
  log.info("ops API on {}", ops_path);

  std::thread signals([&] {
    int sig = wait_for_termination_signal();
    log.info("signal {}: stopping", sig);
    notify_systemd("STOPPING=1");
    session.shutdown();
  });
  signals.detach();

  notify_systemd("READY=1");
  Status result = session.run();
  ops_server->Shutdown(std::chrono::system_clock::now());
  if (!result) {
    log.error("{}", result.to_string());
    return 1;
  }
  log.info("stopped");
  return 0;
}
