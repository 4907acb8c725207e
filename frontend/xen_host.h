// XenHost: what the frontend asks of the hypervisor to serve guests' rings, through Xen's
// own libraries: the ring page (libxengnttab, grant reference 1, with libxenctrl's
// foreign mapping of the frame INTRODUCE named as the fallback), interdomain event
// channels and VIRQ_DOM_EXC (libxenevtchn), and domain states (libxenctrl).
//
// On a machine without Xen the same code runs on simxen (tests/simxen, docs/simxen.md):
// a library preloaded in place of these that simulates them over files and sockets.
//
// Single-threaded: the event loop's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "proto/session.pb.h"

struct xenevtchn_handle;
struct xengntdev_handle;
struct xc_interface_core;

namespace dxs::frontend {

class XenHost {
 public:
  // Opens the three libraries' handles and binds VIRQ_DOM_EXC.
  static Result<std::unique_ptr<XenHost>> open(Logger& log);
  ~XenHost();
  XenHost(const XenHost&) = delete;
  XenHost& operator=(const XenHost&) = delete;

  // dom0's kernel's own ring, where this process runs beside it (the page of
  // /dev/xen/xenbus_backend, or of /proc/xen/xsd_kva with the port in /proc/xen/xsd_port,
  // as C xenstored finds them): its event-channel port, or 0 if there is none.
  uint32_t dom0_ring_port() const { return dom0_port_; }

  // The guest's Xenstore page, read-write and shared; unmap_ring() when done. For dom0,
  // its kernel's ring.
  Result<void*> map_ring(uint32_t domid, uint64_t gfn);
  void unmap_ring(void* page);

  // A local port bound to the guest's (remote) port.
  Result<uint32_t> bind(uint32_t domid, uint32_t remote_port);
  void unbind(uint32_t local_port);
  void notify(uint32_t local_port);

  // Readable when a port has fired (register it with the Poller; it is non-blocking).
  int event_fd() const;
  // The next port that fired, or 0 when none has. A port that fired stays masked (its
  // further notifications held) until unmask().
  uint32_t next_pending();
  void unmask(uint32_t port);
  uint32_t dom_exc_port() const { return dom_exc_port_; }

  // Every domain that exists, with its state; an error if libxenctrl cannot say.
  Result<pb::DomainStates> domain_states();

 private:
  explicit XenHost(Logger& log) : log_(log) {}
  void find_dom0_ring();

  Logger& log_;
  xenevtchn_handle* evtchn_ = nullptr;
  xengntdev_handle* gnttab_ = nullptr;
  xc_interface_core* xc_ = nullptr;
  uint32_t dom_exc_port_ = 0;
  void* dom0_page_ = nullptr;
  uint32_t dom0_port_ = 0;
  int dom0_fd_ = -1;
  std::unordered_set<void*> foreign_maps_;  // mapped by frame, not by grant
  std::vector<uint8_t> info_buffer_;
};

}  // namespace dxs::frontend
