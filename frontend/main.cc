// dxs-frontend: speaks the Xenstore wire protocol to clients and carries every request to
// dxs-store. Holds no state of its own that a restart could lose.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>

#include "common/cli.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/grpc_runtime.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "frontend/dispatch.h"
#include "frontend/event_loop.h"
#include "frontend/fd_store.h"
#include "frontend/poller.h"
#include "frontend/session_client.h"
#include "frontend/settings.h"
#include "frontend/socket_transport.h"
#ifdef DXS_HAVE_XEN
#include "frontend/ring_transport.h"
#include "frontend/xen_host.h"
#endif

namespace {

constexpr const char* kUsage = R"(Usage: dxs-frontend [OPTIONS]

Serves Xenstore clients and forwards their requests to dxs-store.

Options:
  --store unix:PATH    dxs-store's private socket (default unix:/run/dxs/store.sock)
  --socket PATH        socket for Xenstore clients (default /run/xenstored/socket)
  --config FILE        configuration file (default /etc/dxs/dxs.conf if it exists)
  --xen                serve guests' rings through Xen's libraries (the default when
                       /dev/xen/evtchn exists; on simxen, with LD_PRELOAD, give it)
  --no-xen             serve the Unix socket only
  --log-level LEVEL    debug, info, warning or error (default info)
  --help               this text
  --print-config       the configuration keys and their defaults, as a file has them
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace dxs;
  using namespace dxs::frontend;
  const Settings& settings = frontend_settings();
  const Cli cli("dxs-frontend", kUsage, settings);
  std::map<std::string, std::string> opt = {
      {"store", "unix:/run/dxs/store.sock"},
      {"socket", "/run/xenstored/socket"},
      {"config", ""},
      {"log-level", ""},
      {"xen", ""},
      {"no-xen", ""},
  };
  cli.parse(argc, argv, opt, {"xen", "no-xen"});
  if (opt["xen"] == "yes" && opt["no-xen"] == "yes") cli.fail("--xen and --no-xen together");
  const bool serve_rings =
      opt["xen"] == "yes" || (opt["no-xen"] != "yes" && access("/dev/xen/evtchn", F_OK) == 0);
  configure_grpc_runtime();
  limit_malloc_arenas();

  const Config config = cli.load_config(opt["config"], {"store.", "quota.", "history.", "ops."});
  StderrLogger log("dxs-frontend", cli.log_level(opt["log-level"], config));

  EventLoopOptions loop_options;
  loop_options.spin_us =
      static_cast<int>(cli.must(settings.get_int(config, "frontend.spin-us"), "config"));
  loop_options.idle_ms =
      static_cast<int>(cli.must(settings.get_int(config, "frontend.idle-ms"), "config"));
  loop_options.sleep_after_ms =
      static_cast<int>(cli.must(settings.get_int(config, "frontend.sleep-after-ms"), "config"));

  SessionClientOptions session_options;
  session_options.store_path = cli.must(parse_unix_address(opt["store"]), "--store");
  session_options.name = "dxs-frontend pid " + std::to_string(getpid());
  session_options.batches_in_flight =
      static_cast<int>(cli.must(settings.get_int(config, "frontend.batches-in-flight"), "config"));

  DispatchOptions dispatch_options;
  dispatch_options.max_in_flight =
      static_cast<uint32_t>(cli.must(settings.get_int(config, "frontend.max-in-flight"), "config"));

  SocketTransportOptions socket_options;
  socket_options.path = opt["socket"];
  const std::string mode = settings.get_string(config, "frontend.socket-mode");
  char* end = nullptr;
  socket_options.mode = static_cast<mode_t>(std::strtoul(mode.c_str(), &end, 8));
  if (end == mode.c_str() || *end != '\0' || socket_options.mode > 0777) {
    cli.fail("bad frontend.socket-mode '" + mode + "'");
  }

  block_termination_signals();
#ifdef DXS_HAVE_XEN
  std::unique_ptr<XenHost> xen;
  if (serve_rings) {
    xen = cli.must(XenHost::open(log), "Xen (--no-xen serves the socket only)");
    session_options.dom0_ring_port = xen->dom0_ring_port();
  }
#else
  if (serve_rings) cli.fail("built without Xen's libraries (libxen-dev): no rings");
#endif
  Poller poller(log);
  if (Status s = poller.open(); !s) cli.fail(s.to_string());
  SessionClient session(session_options, poller, log);
  Dispatch dispatch(session, log, dispatch_options);
  session.set_handler(&dispatch);
  FdStore fd_store(log);
  SocketTransport sockets(poller, dispatch, fd_store, log, socket_options);
  // What systemd passed: the listening socket, and the client sockets of the frontend
  // before this one (resumed as the store's Welcome lists them).
  sockets.inherit(fd_store.inherit());
  dispatch.set_socket_host(&sockets);
  // Listen at once: clients that connect before the store answers wait in the backlog.
  if (Status s = sockets.listen(); !s) cli.fail(s.to_string());
  EventLoop loop(session, poller, log, loop_options);
  loop.add_transport(sockets);
#ifdef DXS_HAVE_XEN
  std::unique_ptr<RingTransport> rings;
  if (serve_rings) {
    RingTransportOptions ring_options;
    ring_options.quantum =
        static_cast<int>(cli.must(settings.get_int(config, "frontend.ring-quantum"), "config"));
    ring_options.rescan = std::chrono::milliseconds(
        cli.must(settings.get_int(config, "frontend.ring-rescan-ms"), "config"));
    rings = std::make_unique<RingTransport>(poller, dispatch, *xen, log, ring_options);
    if (Status s = rings->start(); !s) cli.fail(s.to_string());
    dispatch.set_ring_host(rings.get());
    loop.add_transport(*rings);
  }
#endif

  std::thread signals([&] {
    int sig = wait_for_termination_signal();
    log.info("signal {}: stopping", sig);
    notify_systemd("STOPPING=1");
    loop.stop();
  });
  signals.detach();

  log.info("connecting to the store at {}", session_options.store_path);
  loop.run();
  if (session.superseded()) {
    // Another frontend serves the clients now. Exit without touching their sockets,
    // which systemd's fd store (if it holds them) keeps for whoever serves next.
    log.error("stopped: superseded by a newer frontend");
    return 1;
  }
  log.info("stopped");
  return 0;
}
