// The event-channel datagram of simxen: 8 bytes, {u32 domid, u32 port}, little endian.
// A guest sends {its domid, its unbound port} to evtchn/server.sock; the server's notify sends
// the same pair to evtchn/guest-<domid>.sock; {0xFFFFFFFF, 3} raises VIRQ_DOM_EXC.
#pragma once

#include <cstdint>
#include <cstring>

namespace simxen {

inline constexpr uint32_t kVirqDomid = 0xFFFFFFFF;
inline constexpr uint32_t kVirqDomExc = 3;

struct EvtchnMessage {
  uint32_t domid;
  uint32_t port;
};

inline void encode(const EvtchnMessage& m, unsigned char out[8]) {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<unsigned char>(m.domid >> (8 * i));
    out[4 + i] = static_cast<unsigned char>(m.port >> (8 * i));
  }
}

inline EvtchnMessage decode(const unsigned char in[8]) {
  EvtchnMessage m{0, 0};
  for (int i = 0; i < 4; ++i) {
    m.domid |= static_cast<uint32_t>(in[i]) << (8 * i);
    m.port |= static_cast<uint32_t>(in[4 + i]) << (8 * i);
  }
  return m;
}

}  // namespace simxen
