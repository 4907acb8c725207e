#include "frontend/xen_host.h"

#define __XEN_TOOLS__ 1
#define XC_WANT_COMPAT_MAP_FOREIGN_API 1  // xc_map_foreign_range, the fallback
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
// Xen's headers declare C functions without extern "C" of their own.
extern "C" {
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
}

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dxs::frontend {

namespace {

constexpr uint32_t kXenstoreGrantRef = 1;         // GNTTAB_RESERVED_XENSTORE
constexpr uint32_t kDomidFirstReserved = 0x7FF0;  // DOMID_FIRST_RESERVED
constexpr unsigned kInfoChunk = 256;              // domains per getinfolist call

Status from_errno(const char* what) {
  return Status::error(errno != 0 ? errno : EIO, std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<XenHost>> XenHost::open(Logger& log) {
  std::unique_ptr<XenHost> host(new XenHost(log));
  host->evtchn_ = xenevtchn_open(nullptr, 0);
  if (host->evtchn_ == nullptr) return from_errno("xenevtchn_open");
  host->gnttab_ = xengnttab_open(nullptr, 0);
  if (host->gnttab_ == nullptr) return from_errno("xengnttab_open");
  // One grant per guest (its ring), for every possible domain, as C xenstored asks.
  xengnttab_set_max_grants(host->gnttab_, kDomidFirstReserved);
  host->xc_ = xc_interface_open(nullptr, nullptr, 0);
  if (host->xc_ == nullptr) return from_errno("xc_interface_open");
  // Non-blocking, so that the loop can take every pending port of one wake-up in turn.
  const int fd = xenevtchn_fd(host->evtchn_);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return from_errno("event fd");
  const xenevtchn_port_or_error_t port = xenevtchn_bind_virq(host->evtchn_, VIRQ_DOM_EXC);
  if (port < 0) return from_errno("binding VIRQ_DOM_EXC");
  host->dom_exc_port_ = static_cast<uint32_t>(port);
  host->find_dom0_ring();
  return host;
}

void XenHost::find_dom0_ring() {
  // Linux's xenbus backend device: the port by ioctl, the page by mmap of the device.
  constexpr unsigned long kBackendEvtchn = _IOC(_IOC_NONE, 'B', 0, 0);
  int fd = ::open("/dev/xen/xenbus_backend", O_RDWR | O_CLOEXEC);
  int port = -1;
  if (fd >= 0) {
    port = ioctl(fd, kBackendEvtchn);
  } else {
    // Older kernels: the page and the port under /proc/xen.
    fd = ::open("/proc/xen/xsd_kva", O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    char text[16] = {};
    const int port_fd = ::open("/proc/xen/xsd_port", O_RDONLY | O_CLOEXEC);
    if (port_fd >= 0) {
      if (::read(port_fd, text, sizeof text - 1) > 0) port = std::atoi(text);
      ::close(port_fd);
    }
  }
  if (port <= 0) {
    ::close(fd);
    return;
  }
  void* page = mmap(nullptr, XC_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) {
    log_.warn("dom0's kernel ring: cannot map it: {}", std::strerror(errno));
    ::close(fd);
    return;
  }
  dom0_fd_ = fd;
  dom0_page_ = page;
  dom0_port_ = static_cast<uint32_t>(port);
  log_.info("dom0's kernel ring found, event-channel port {}", dom0_port_);
}

XenHost::~XenHost() {
  if (dom0_page_ != nullptr) munmap(dom0_page_, XC_PAGE_SIZE);
  if (dom0_fd_ >= 0) ::close(dom0_fd_);
  if (xc_ != nullptr) xc_interface_close(xc_);
  if (gnttab_ != nullptr) xengnttab_close(gnttab_);
  if (evtchn_ != nullptr) xenevtchn_close(evtchn_);
}

Result<void*> XenHost::map_ring(uint32_t domid, uint64_t gfn) {
  if (domid == 0) {
    if (dom0_page_ != nullptr) return dom0_page_;
    return Status::error(ENOENT, "dom0 has no kernel ring here");
  }
  errno = 0;
  void* page = xengnttab_map_grant_ref(gnttab_, domid, kXenstoreGrantRef, PROT_READ | PROT_WRITE);
  if (page != nullptr) return page;
  const int grant_errno = errno;
  // The domain builder may not have set up grant 1 (old toolstacks): map the frame
  // INTRODUCE named instead, as oxenstored does.
  errno = 0;
  page = xc_map_foreign_range(xc_, domid, XC_PAGE_SIZE, PROT_READ | PROT_WRITE,
                              static_cast<unsigned long>(gfn));
  if (page != nullptr) {
    foreign_maps_.insert(page);
    return page;
  }
  return Status::error(
      grant_errno != 0 ? grant_errno : EIO,
      fmt::format("mapping the ring of domain {}: {}", domid, std::strerror(grant_errno)));
}

void XenHost::unmap_ring(void* page) {
  if (page == dom0_page_) return;  // mapped once, for the process's life
  // A foreign mapping is a plain mapping of privcmd's, released by munmap().
  if (foreign_maps_.erase(page) != 0) {
    munmap(page, XC_PAGE_SIZE);
  } else {
    xengnttab_unmap(gnttab_, page, 1);
  }
}

Result<uint32_t> XenHost::bind(uint32_t domid, uint32_t remote_port) {
  const xenevtchn_port_or_error_t port = xenevtchn_bind_interdomain(evtchn_, domid, remote_port);
  if (port < 0) return from_errno("binding the guest's event channel");
  return static_cast<uint32_t>(port);
}

void XenHost::unbind(uint32_t local_port) {
  xenevtchn_unbind(evtchn_, local_port);
}

void XenHost::notify(uint32_t local_port) {
  xenevtchn_notify(evtchn_, local_port);
}

int XenHost::event_fd() const {
  return xenevtchn_fd(evtchn_);
}

uint32_t XenHost::next_pending() {
  const xenevtchn_port_or_error_t port = xenevtchn_pending(evtchn_);
  return port > 0 ? static_cast<uint32_t>(port) : 0;
}

void XenHost::unmask(uint32_t port) {
  xenevtchn_unmask(evtchn_, port);
}

Result<pb::DomainStates> XenHost::domain_states() {
  pb::DomainStates states;
  info_buffer_.resize(sizeof(xc_domaininfo_t) * kInfoChunk);
  auto* info = reinterpret_cast<xc_domaininfo_t*>(info_buffer_.data());
  uint32_t next = 0;
  for (;;) {
    const int n = xc_domain_getinfolist(xc_, next, kInfoChunk, info);
    if (n < 0) return from_errno("xc_domain_getinfolist");
    for (int i = 0; i < n; ++i) {
      pb::DomainState* d = states.add_domains();
      d->set_domid(info[i].domain);
      if (info[i].flags & XEN_DOMINF_dying) {
        d->set_state(pb::DomainState::DYING);
      } else if (info[i].flags & XEN_DOMINF_shutdown) {
        d->set_state(pb::DomainState::SHUTDOWN);
      } else {
        d->set_state(pb::DomainState::RUNNING);
      }
    }
    if (n < static_cast<int>(kInfoChunk)) break;
    next = info[n - 1].domain + 1;
    if (next >= kDomidFirstReserved) break;
  }
  return states;
}

}  // namespace dxs::frontend
