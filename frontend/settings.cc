#include "frontend/settings.h"

#include <fmt/format.h>

#include <string>

#include "frontend/dispatch.h"
#include "frontend/event_loop.h"
#include "frontend/ring_transport.h"
#include "frontend/session_client.h"
#include "frontend/socket_transport.h"

namespace dxs::frontend {
namespace {

using Type = Setting::Type;

std::vector<Setting> declare() {
  const EventLoopOptions loop;
  const SessionClientOptions session;
  const DispatchOptions dispatch;
  const SocketTransportOptions sockets;
  const RingTransportOptions rings;
  return {
      {"frontend.socket-mode", Type::kString, fmt::format("{:04o}", sockets.mode), 0, 0,
       "file mode of the client socket (octal)"},
      {"frontend.max-in-flight", Type::kInt, std::to_string(dispatch.max_in_flight), 1, 65536,
       "requests of one client in flight before the frontend stops reading it"},
      {"frontend.spin-us", Type::kInt, std::to_string(loop.spin_us), 0, 100000,
       "poll this long for more work before sleeping\n"
       "(clients or the store's answer: on a small VM a wake-up costs more than a request)"},
      {"frontend.batches-in-flight", Type::kInt, std::to_string(session.batches_in_flight), 1, 1024,
       "batches at the store at once; requests that arrive meanwhile merge into the next"},
      {"frontend.idle-ms", Type::kInt, std::to_string(loop.idle_ms), 1, 1000,
       "when idle (until sleep-after-ms), look at the store session this often\n"
       "(for events caused via dxsctl)"},
      {"frontend.sleep-after-ms", Type::kInt, std::to_string(loop.sleep_after_ms), 0, 3600000,
       "idle this long, sleep until something happens instead of looking every idle-ms\n"
       "(an idle frontend then uses no CPU; its first event costs a thread wake-up more)"},
      {"frontend.ring-quantum", Type::kInt, std::to_string(rings.quantum), 1, 1024,
       "requests taken from one guest's ring before the other rings get their turn"},
      {"frontend.ring-rescan-ms", Type::kInt, std::to_string(rings.rescan.count()), 10, 600000,
       "look at every ring this often even if its guest did not notify\n"
       "(a lost notification then costs a guest this delay, never a hang)"},
  };
}

}  // namespace

const Settings& frontend_settings() {
  static const Settings settings("dxs-frontend", declare());
  return settings;
}

}  // namespace dxs::frontend
