// dxs-store: all Xenstore state and semantics, in RocksDB, served to dxs-frontend over a
// private gRPC Session stream and to dxsctl over the Ops API.
#include <sys/stat.h>
#include <unistd.h>

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
#include "store/ops_auth.h"
#include "store/ops_server.h"
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
  --ops-listen unix:PATH local socket for dxsctl (default unix:/run/dxs/ops.sock; a TCP
                         listener, mutual TLS only, is configured: ops.tcp-listen)
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
  options.retention.max_commits =
      static_cast<uint64_t>(cli.must(settings.get_int(config, "history.max-commits"), "config"));
  options.retention.max_age_s = cli.must(settings.get_int(config, "history.max-age-s"), "config");
  options.guard.losses =
      static_cast<uint32_t>(cli.must(settings.get_int(config, "store.txn-guard-after"), "config"));
  options.guard.hold_ns =
      cli.must(settings.get_int(config, "store.txn-guard-ms"), "config") * int64_t{1'000'000};
  options.backpressure.behind =
      static_cast<uint64_t>(cli.must(settings.get_int(config, "store.watcher-behind"), "config"));
  options.backpressure.hold_ns =
      cli.must(settings.get_int(config, "store.watcher-hold-ms"), "config") * int64_t{1'000'000};
  options.private_paths = cli.must(
      store::PrivatePaths::parse(settings.get_string(config, "history.private-paths")), "config");
  return options;
}

store::OpsAuthOptions ops_auth_options_from(const Cli& cli, const Settings& settings,
                                            const Config& config) {
  store::OpsAuthOptions options;
  const std::string group = settings.get_string(config, "ops.group");
  options.read_group =
      group.empty() ? getegid() : cli.must(store::resolve_group(group), "ops.group");
  const std::string admin_group = settings.get_string(config, "ops.admin-group");
  if (!admin_group.empty()) {
    options.admin_group = cli.must(store::resolve_group(admin_group), "ops.admin-group");
  }
  options.tls_admin = store::identity_list(settings.get_string(config, "ops.tls-admin"));
  options.tls_read = store::identity_list(settings.get_string(config, "ops.tls-read"));
  return options;
}

store::OpsServerOptions ops_server_options_from(const Settings& settings, const Config& config,
                                                const std::string& path,
                                                const store::OpsAuthOptions& auth) {
  store::OpsServerOptions options;
  options.unix_path = path;
  options.unix_group = *auth.read_group;
  options.tcp_address = settings.get_string(config, "ops.tcp-listen");
  options.tls_cert_file = settings.get_string(config, "ops.tls-cert");
  options.tls_key_file = settings.get_string(config, "ops.tls-key");
  options.tls_client_ca_file = settings.get_string(config, "ops.tls-client-ca");
  options.tls_roles_configured = !auth.tls_admin.empty() || !auth.tls_read.empty();
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
  const store::OpsAuthOptions auth_options = ops_auth_options_from(cli, settings, config);
  const store::OpsServerOptions ops_options =
      ops_server_options_from(settings, config, ops_path, auth_options);

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
  // Both sockets are listened on by the store itself (peer_acceptor.h), born 0600 whatever
  // the umask, checked per connection.
  if (Status s = session.start(); !s) cli.fail(s.to_string());

  store::OpsAuth ops_auth(auth_options, log);
  store::OpsService ops(*db, *engine, engine_mu, session, ops_auth, log);
  store::HistoryService history(*db, commit_feed, ops_auth, engine->privacy(), log);
  store::OpsServer ops_server(ops_auth, log);
  if (Status s = ops_server.start(ops_options, {&ops, &history}); !s) {
    cli.fail("ops API: " + s.to_string());
  }

  std::thread signals([&] {
    int sig = wait_for_termination_signal();
    log.info("signal {}: stopping", sig);
    notify_systemd("STOPPING=1");
    session.shutdown();
  });
  signals.detach();

  notify_systemd("READY=1");
  session.run();
  commit_feed.close();  // ends every Follow, which the shutdown would otherwise wait for
  ops_server.shutdown();
  log.info("stopped");
  return 0;
}
