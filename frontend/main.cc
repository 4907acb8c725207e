// dxs-frontend: speaks the Xenstore wire protocol to clients and carries every request to
// dxs-store. Holds no state of its own that a restart could lose.
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <thread>

#include "common/cli.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/grpc_runtime.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "frontend/dispatch.h"
#include "frontend/event_loop.h"
#include "frontend/poller.h"
#include "frontend/session_client.h"
#include "frontend/socket_transport.h"

namespace {

constexpr const char* kUsage = R"(Usage: dxs-frontend [OPTIONS]

Serves Xenstore clients and forwards their requests to dxs-store.

Options:
  --store unix:PATH    dxs-store's private socket (default unix:/run/dxs/store.sock)
  --socket PATH        socket for Xenstore clients (default /run/xenstored/socket)
  --config FILE        configuration file (default /etc/dxs/dxs.conf if it exists)
  --log-level LEVEL    debug, info, warning or error (default info)
  --help               this text

Configuration keys (FILE, "key = value"):
  frontend.socket-mode = 0600     file mode of the client socket (octal)
  frontend.max-in-flight = 64     requests of one client in flight before it is not read
  frontend.spin-us = 50           poll for more work this long before sleeping
  frontend.idle-ms = 10           when idle, look at the store session this often
  frontend.batches-in-flight = 2  batches at the store at once; more wait and merge
  log.level = info
)";

const std::set<std::string> kConfigKeys = {
    "frontend.socket-mode", "frontend.max-in-flight",     "frontend.spin-us",
    "frontend.idle-ms",     "frontend.batches-in-flight", "log.level",
};

}  // namespace

int main(int argc, char** argv) {
  using namespace dxs;
  using namespace dxs::frontend;
  const Cli cli("dxs-frontend", kUsage);
  std::map<std::string, std::string> opt = {
      {"store", "unix:/run/dxs/store.sock"},
      {"socket", "/run/xenstored/socket"},
      {"config", ""},
      {"log-level", ""},
  };
  cli.parse(argc, argv, opt);
  configure_grpc_runtime();
  limit_malloc_arenas();

  const Config config = cli.load_config(opt["config"], kConfigKeys, {"store.", "quota."});
  StderrLogger log("dxs-frontend", cli.log_level(opt["log-level"], config));

  EventLoopOptions loop_options;
  loop_options.spin_us =
      static_cast<int>(cli.must(config.get_int("frontend.spin-us", 50, 0, 100000), "config"));
  loop_options.idle_ms =
      static_cast<int>(cli.must(config.get_int("frontend.idle-ms", 10, 1, 1000), "config"));

  SessionClientOptions session_options;
  session_options.store_path = cli.must(parse_unix_address(opt["store"]), "--store");
  session_options.name = "dxs-frontend pid " + std::to_string(getpid());
  session_options.batches_in_flight = static_cast<int>(
      cli.must(config.get_int("frontend.batches-in-flight", 2, 1, 1024), "config"));

  DispatchOptions dispatch_options;
  dispatch_options.max_in_flight = static_cast<uint32_t>(
      cli.must(config.get_int("frontend.max-in-flight", 64, 1, 65536), "config"));

  SocketTransportOptions socket_options;
  socket_options.path = opt["socket"];
  const std::string mode = config.get_string("frontend.socket-mode", "0600");
  char* end = nullptr;
  socket_options.mode = static_cast<mode_t>(std::strtoul(mode.c_str(), &end, 8));
  if (end == mode.c_str() || *end != '\0' || socket_options.mode > 0777) {
    cli.fail("bad frontend.socket-mode '" + mode + "'");
  }

  block_termination_signals();
  SessionClient session(session_options, log);
  Dispatch dispatch(session, log, dispatch_options);
  session.set_handler(&dispatch);
  Poller poller(log);
  if (Status s = poller.open(); !s) cli.fail(s.to_string());
  SocketTransport sockets(poller, dispatch, log, socket_options);
  // Listen at once: clients that connect before the store answers wait in the backlog.
  if (Status s = sockets.listen(); !s) cli.fail(s.to_string());
  EventLoop loop(session, poller, log, loop_options);
  loop.add_transport(sockets);

  std::thread signals([&] {
    int sig = wait_for_termination_signal();
    log.info("signal {}: stopping", sig);
    notify_systemd("STOPPING=1");
    loop.stop();
  });
  signals.detach();

  log.info("connecting to the store at {}", session_options.store_path);
  loop.run();
  log.info("stopped");
  return 0;
}
