// The simulated machine's state on disk, shared by every simxen entry point (docs/simxen.md).
//
// $SIMXEN_DIR holds dom/<domid> (the domain exists; content "", "shutdown" or "dying"),
// ring/<domid> (the domain's 4096-byte xenstore page) and evtchn/ (the datagram sockets).
// machine_dir() prints a message on stderr and returns nullopt when SIMXEN_DIR is unset, so
// every open call fails loudly rather than touching a default location.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace simxen {

inline constexpr uint32_t kDomidFirstReserved = 0x7FF0;

enum class DomainState { kRunning, kShutdown, kDying };

struct DomainInfo {
  uint32_t domid;
  DomainState state;
};

// $SIMXEN_DIR, or nullopt after a message naming `caller` on stderr.
std::optional<std::string> machine_dir(const char* caller);

// The state of one domain, nullopt if it does not exist. dom0 always exists.
std::optional<DomainState> domain_state(const std::string& dir, uint32_t domid);

// Existing domains with domid >= first, ascending, at most max of them.
std::vector<DomainInfo> domains_from(const std::string& dir, uint32_t first, unsigned max);

std::string ring_path(const std::string& dir, uint32_t domid);
std::string server_socket_path(const std::string& dir);
std::string guest_socket_path(const std::string& dir, uint32_t domid);

// Maps ring/<domid> MAP_SHARED; nullptr with errno ENOENT if the file is missing.
void* map_ring(const std::string& dir, uint32_t domid, size_t len, int prot);

}  // namespace simxen
