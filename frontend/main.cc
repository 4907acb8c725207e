// dxs-frontend: speaks the Xenstore wire protocol to clients and carries every request to
// dxs-store. Holds no state of its own that a restart could lose.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/config.h"
#include "common/daemon.h"
#include "common/grpc_polling.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "frontend/dispatch.h"
#include "frontend/event_loop.h"
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
  log.level = info
)";

const std::set<std::string> kConfigKeys = {
    "frontend.socket-mode",
    "frontend.max-in-flight",
    "frontend.spin-us",
    "frontend.idle-ms",
    "log.level",
};

struct Args {
  std::string store = "unix:/run/dxs/store.sock";
  std::string socket = "/run/xenstored/socket";
  std::string config;
  std::string log_level;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "dxs-frontend: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T must(dxs::Result<T> r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.status().to_string());
  return std::move(r.value());
}

Args parse_args(int argc, char** argv) {
  Args args;
  static const option kOptions[] = {
      {"store", required_argument, nullptr, 's'},  {"socket", required_argument, nullptr, 'S'},
      {"config", required_argument, nullptr, 'c'}, {"log-level", required_argument, nullptr, 'L'},
      {"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 's':
        args.store = optarg;
        break;
      case 'S':
        args.socket = optarg;
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

}  // namespace

int main(int argc, char** argv) {
  using namespace dxs;
  using namespace dxs::frontend;
  Args args = parse_args(argc, argv);
  use_per_queue_polling();

  Config config;
  const std::set<std::string> skipped = {"store.", "quota."};
  if (!args.config.empty()) {
    config = must(Config::load(args.config, kConfigKeys, skipped), "config");
  } else if (access("/etc/dxs/dxs.conf", R_OK) == 0) {
    config = must(Config::load("/etc/dxs/dxs.conf", kConfigKeys, skipped), "config");
  }
  LogLevel level = LogLevel::kInfo;
  const std::string level_name =
      args.log_level.empty() ? config.get_string("log.level", "info") : args.log_level;
  if (!parse_log_level(level_name, level)) fail("bad log level '" + level_name + "'");
  StderrLogger log("dxs-frontend", level);

  EventLoopOptions loop_options;
  loop_options.spin_us =
      static_cast<int>(must(config.get_int("frontend.spin-us", 50, 0, 100000), "config"));
  loop_options.idle_ms =
      static_cast<int>(must(config.get_int("frontend.idle-ms", 10, 1, 1000), "config"));

  SessionClientOptions session_options;
  session_options.store_path = must(parse_unix_address(args.store), "--store");
  session_options.name = "dxs-frontend pid " + std::to_string(getpid());

  DispatchOptions dispatch_options;
  dispatch_options.max_in_flight =
      static_cast<uint32_t>(must(config.get_int("frontend.max-in-flight", 64, 1, 65536), "config"));

  SocketTransportOptions socket_options;
  socket_options.path = args.socket;
  const std::string mode = config.get_string("frontend.socket-mode", "0600");
  char* end = nullptr;
  socket_options.mode = static_cast<mode_t>(std::strtoul(mode.c_str(), &end, 8));
  if (end == mode.c_str() || *end != '\0' || socket_options.mode > 0777)
    fail("bad frontend.socket-mode '" + mode + "'");

  block_termination_signals();
  SessionClient session(session_options, log);
  Dispatch dispatch(session, log, dispatch_options);
  session.set_handler(&dispatch);
  SocketTransport sockets(dispatch, log, socket_options);
  // Listen at once: clients that connect before the store answers wait in the backlog.
  if (Status s = sockets.listen(); !s) fail(s.to_string());
  EventLoop loop(session, sockets, log, loop_options);

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
