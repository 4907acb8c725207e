// dxs-store: all Xenstore state and semantics, in RocksDB, served to dxs-frontend over a
// private gRPC Session stream and to dxsctl over the Ops API.
#include <map>
#include <mutex>
#include <thread>

#include "common/cli.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/grpc_runtime.h"
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
  store.block-cache-mb = 16    RocksDB memory: block cache, memtables charged to it
  store.write-buffer-mb = 4    a column family's memtable is flushed at this size
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

}  // namespace

int main(int argc, char** argv) {
  using namespace dxs;
  const Cli cli("dxs-store", kUsage);
  std::map<std::string, std::string> opt = {
      {"state-dir", "/var/lib/dxs"},
      {"listen", "unix:/run/dxs/store.sock"},
      {"ops-listen", "unix:/run/dxs/ops.sock"},
      {"config", ""},
      {"log-level", ""},
  };
  cli.parse(argc, argv, opt);
  configure_grpc_runtime();
  limit_malloc_arenas();

  const Config config = cli.load_config(opt["config"], kConfigKeys, {"frontend."});
  StderrLogger log("dxs-store", cli.log_level(opt["log-level"], config));

  const std::string session_path = cli.must(parse_unix_address(opt["listen"]), "--listen");
  const std::string ops_path = cli.must(parse_unix_address(opt["ops-listen"]), "--ops-listen");

  store::DbOptions db_options;
  db_options.dir = opt["state-dir"];
  db_options.sync = cli.must(config.get_bool("store.sync", false), "config");
  db_options.block_cache_bytes =
      static_cast<size_t>(
          cli.must(config.get_int("store.block-cache-mb", 16, 1, 1 << 20), "config"))
      << 20;
  db_options.write_buffer_bytes =
      static_cast<size_t>(
          cli.must(config.get_int("store.write-buffer-mb", 4, 1, 1 << 16), "config"))
      << 20;

  store::EngineOptions engine_options;
  for (size_t i = 0; i < static_cast<size_t>(store::QuotaKind::kCount); ++i) {
    auto kind = static_cast<store::QuotaKind>(i);
    const std::string key = "quota." + std::string(store::quota_name(kind));
    engine_options.quota.set(
        kind,
        cli.must(config.get_int(key, engine_options.quota.get(kind), 0, INT32_MAX), "config"));
  }
  if (config.has("store.privileged-domid")) {
    engine_options.privileged_domid = static_cast<uint32_t>(
        cli.must(config.get_int("store.privileged-domid", 0, 0, 0x7fef), "config"));
  }
  engine_options.keep_orphans = cli.must(config.get_bool("store.keep-orphans", false), "config");

  block_termination_signals();
  for (const auto& p : {session_path, ops_path}) {
    if (size_t slash = p.rfind('/'); slash != std::string::npos && slash > 0) {
      if (Status s = make_directories(p.substr(0, slash), 0755); !s) cli.fail(s.to_string());
    }
  }

  std::unique_ptr<store::Db> db = cli.must(store::Db::open(db_options, log), "state");
  std::unique_ptr<store::Engine> engine =
      cli.must(store::Engine::open(*db, engine_options, log), "recovery");
  std::mutex engine_mu;

  store::SessionServerOptions session_options;
  session_options.socket_path = session_path;
  session_options.spin_us =
      static_cast<int>(cli.must(config.get_int("store.spin-us", 200, 0, 100000), "config"));
  store::SessionServer session(*engine, engine_mu, log, session_options);
  if (Status s = session.start(); !s) cli.fail(s.to_string());

  store::OpsService ops(*engine, engine_mu, session, log);
  std::unique_ptr<grpc::Server> ops_server =
      cli.must(store::start_ops_server(ops, ops_path, 0660), "ops API");
  log.info("ops API on {}", ops_path);

  std::thread signals([&] {
    int sig = wait_for_termination_signal();
    log.info("signal {}: stopping", sig);
    notify_systemd("STOPPING=1");
    session.shutdown();
  });
  signals.detach();

  notify_systemd("READY=1");
  session.run();
  ops_server->Shutdown(std::chrono::system_clock::now());
  log.info("stopped");
  return 0;
}
