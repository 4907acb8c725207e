// libxenctrl's domain-information and foreign-mapping calls over $SIMXEN_DIR/dom/ and ring/.
//
// A domain exists while dom/<domid> does (dom0 always); the file's content is its state:
// empty = running, "shutdown" = shut down with reason poweroff, "dying" = being destroyed.
// xc_map_foreign_range maps the same ring file as grant reference 1 (oxenstored maps rings
// this way, by the gfn that INTRODUCE carries, which simxen ignores).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

extern "C" {
#include <xenctrl.h>
}

#include "machine.h"

struct xc_interface_core {
  std::string dir;
  xc_error last_error;
};

namespace {

void set_error(xc_interface* xch, xc_error_code code, const char* what) {
  xch->last_error.code = code;
  std::snprintf(xch->last_error.message, sizeof xch->last_error.message, "simxen: %s", what);
}

}  // namespace

extern "C" {

xc_interface* xc_interface_open(xentoollog_logger* /*logger*/,
                                xentoollog_logger* /*dombuild_logger*/, unsigned /*open_flags*/) {
  auto dir = simxen::machine_dir("xc_interface_open");
  if (!dir) {
    errno = ENOENT;
    return nullptr;
  }
  auto* xch = new (std::nothrow) xc_interface_core;
  if (xch == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  xch->dir = *dir;
  std::memset(&xch->last_error, 0, sizeof xch->last_error);
  return xch;
}

int xc_interface_close(xc_interface* xch) {
  delete xch;
  return 0;
}

int xc_domain_getinfo(xc_interface* xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t* info) {
  auto doms = simxen::domains_from(xch->dir, first_domid, max_doms);
  for (size_t i = 0; i < doms.size(); ++i) {
    xc_dominfo_t& d = info[i];
    std::memset(&d, 0, sizeof d);
    d.domid = doms[i].domid;
    d.running = doms[i].state == simxen::DomainState::kRunning;
    d.shutdown = doms[i].state == simxen::DomainState::kShutdown;
    d.shutdown_reason = SHUTDOWN_poweroff;
    d.dying = doms[i].state == simxen::DomainState::kDying;
    d.xenstore = doms[i].domid == 0;
    d.nr_online_vcpus = 1;
  }
  return static_cast<int>(doms.size());
}

int xc_domain_getinfolist(xc_interface* xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t* info) {
  auto doms = simxen::domains_from(xch->dir, first_domain, max_domains);
  for (size_t i = 0; i < doms.size(); ++i) {
    xc_domaininfo_t& d = info[i];
    std::memset(&d, 0, sizeof d);
    d.domain = static_cast<domid_t>(doms[i].domid);
    switch (doms[i].state) {
      case simxen::DomainState::kRunning:
        d.flags = XEN_DOMINF_running;
        break;
      case simxen::DomainState::kShutdown:
        d.flags = XEN_DOMINF_shutdown | (SHUTDOWN_poweroff << XEN_DOMINF_shutdownshift);
        break;
      case simxen::DomainState::kDying:
        d.flags = XEN_DOMINF_dying;
        break;
    }
    if (doms[i].domid == 0) d.flags |= XEN_DOMINF_xs_domain;
    d.nr_online_vcpus = 1;
  }
  return static_cast<int>(doms.size());
}

void* xc_map_foreign_range(xc_interface* xch, uint32_t dom, int size, int prot,
                           unsigned long /*mfn*/) {
  if (size <= 0) {
    errno = EINVAL;
    return nullptr;
  }
  void* p = simxen::map_ring(xch->dir, dom, static_cast<size_t>(size), prot);
  if (p == nullptr) set_error(xch, XC_INTERNAL_ERROR, "no ring page for this domain");
  return p;
}

const xc_error* xc_get_last_error(xc_interface* xch) {
  return &xch->last_error;
}

void xc_clear_last_error(xc_interface* xch) {
  xch->last_error.code = XC_ERROR_NONE;
}

const char* xc_error_code_to_desc(int code) {
  switch (code) {
    case XC_ERROR_NONE:
      return "No error details";
    case XC_INTERNAL_ERROR:
      return "Internal error";
    case XC_INVALID_KERNEL:
      return "Invalid kernel";
    case XC_INVALID_PARAM:
      return "Invalid configuration";
    case XC_OUT_OF_MEMORY:
      return "Out of memory";
    default:
      return "Unknown error code";
  }
}

}  // extern "C"
