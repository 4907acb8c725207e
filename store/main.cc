// dxs-store: all Xenstore state and semantics, in RocksDB, served to dxs-frontend over a
// private gRPC Session stream and to dxsctl over the Ops API.
#include <sys/stat.h>

#include <map>
#include <mutex>
#include <thread>

#include "common/cli.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/grpc_runtime.h"
#include "common/log.h"
#include "common/settings.h"
#include "common/unix_socket.h"
#include "store/db.h"
#include "store/engine.h"
#include "store/history_service.h"
#include "store/ops_service.h"
#include "store/session_service.h"
#include "store/settings.h"

namespace {

using namespace dxs;

constexpr const char* kUsage = R"(Usage: dxs-store [OPTIONS]

Holds all Xenstore state in RocksDB and serves dxs-frontend and dxsctl.

Options:
  --state-dir DIR        state directory (default /var/lib/dxs)
  --listen unix:PATH     private socket for dxs-frontend (default unix:/run/dxs/store.sock)
  --ops-listen unix:PATH socket for dxsctl (default unix:/run/dxs/ops.sock)
  --config FILE          configuration file (default /etc/dxs/dxs.conf if it exists)
  --log-level LEVEL      debug, info, warning or error (default info)
  --print-config         the configuration keys and their defaults, as a file has them
  --help                 this text
)";

store::DbOptions db_options_from(const Cli& cli, const Settings& settings, const Config& config,
                                 const std::string& dir) {
  store::DbOptions options;
  options.dir = dir;
  options.sync = cli.must(settings.get_bool(config, "store.sync"), "config");
  options.block_cache_bytes =
      static_cast<size_t>(cli.must(settings.get_int(config, "store.block-cache-mb"), "config"))
      << 20;
  options.write_buffer_bytes =
      static_cast<size_t>(cli.must(settings.get_int(config, "store.write-buffer-mb"), "config"))
      << 20;
  return options;
}

store::EngineOptions engine_options_from(const Cli& cli, const Settings& settings,
                                         const Config& config) {
  store::EngineOptions options;
  for (size_t i = 0; i < static_cast<size_t>(store::QuotaKind::kCount); ++i) {
    auto kind = static_cast<store::QuotaKind>(i);
    const std::string key = "quota." + std::string(store::quota_name(kind));
    options.quota.set(kind, cli.must(settings.get_int(config, key), "config"));
  }
  if (config.has("store.privileged-domid")) {
    options.privileged_domid = static_cast<uint32_t>(
        cli.must(settings.get_int(config, "store.privileged-domid"), "config"));
  }
  options.keep_orphans = cli.must(settings.get_bool(config, "store.keep-orphans"), "config");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dxs;
  const Settings& settings = store::store_settings();
  const Cli cli("dxs-store", kUsage, settings);
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

  const Config config = cli.load_config(opt["config"], {"frontend."});
  StderrLogger log("dxs-store", cli.log_level(opt["log-level"], config));

  const std::string session_path = cli.must(parse_unix_address(opt["listen"]), "--listen");
  const std::string ops_path = cli.must(parse_unix_address(opt["ops-listen"]), "--ops-listen");

  const store::DbOptions db_options = db_options_from(cli, settings, config, opt["state-dir"]);
  const store::EngineOptions engine_options = engine_options_from(cli, settings, config);

  block_termination_signals();
  for (const auto& p : {session_path, ops_path}) {
    if (size_t slash = p.rfind('/'); slash != std::string::npos && slash > 0) {
      if (Status s = make_directories(p.substr(0, slash), 0750); !s) cli.fail(s.to_string());
    }
  }

  std::unique_ptr<store::Db> db = cli.must(store::Db::open(db_options, log), "state");
  // Before the engine, which publishes to it until it is destroyed.
  store::CommitFeed commit_feed;
  std::unique_ptr<store::Engine> engine =
      cli.must(store::Engine::open(*db, engine_options, log), "recovery");
  engine->set_commit_feed(&commit_feed);
  std::mutex engine_mu;

  store::SessionServerOptions session_options;
  session_options.socket_path = session_path;
  session_options.spin_us =
      static_cast<int>(cli.must(settings.get_int(config, "store.spin-us"), "config"));
  store::SessionServer session(*engine, engine_mu, log, session_options);
  // bind() creates a socket 0777 & ~umask, and gRPC listens on it before anyone can chmod
  // it: under a umask that leaves others write access (002, 0) the frontend's private
  // socket would be open to any local user for a moment. With 0177 both sockets are born 0600; the
  // ops socket is widened to 0660 once it exists. (The umask is the process's: files RocksDB's
  // threads create meanwhile are 0600, which the 0700 state directory makes no stricter.)
  const mode_t umask_before = umask(0177);
  if (Status s = session.start(); !s) cli.fail(s.to_string());

  store::OpsService ops(*db, *engine, engine_mu, session, log);
  store::HistoryService history(*db, commit_feed, log);
  std::unique_ptr<grpc::Server> ops_server =
      cli.must(store::start_ops_server(ops, history, ops_path, 0660), "ops API");
  umask(umask_before);
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
  commit_feed.close();  // ends every Follow, which Shutdown would otherwise wait for
  ops_server->Shutdown(std::chrono::system_clock::now());
  log.info("stopped");
  return 0;
}
