// libxengnttab: grant reference 1 (GNTTAB_RESERVED_XENSTORE) of a domain is its ring file,
// ring/<domid>, mapped MAP_SHARED so that the server and the simulated guest see one page.
// Other references were never granted by anybody: EINVAL, as an unknown grant is on Xen.
#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <string>

extern "C" {
#include <xengnttab.h>
}

#include "machine.h"

struct xengntdev_handle {
  std::string dir;
};

namespace {

constexpr uint32_t kXenstoreRef = 1;
constexpr size_t kPage = 4096;

void* map_one(xengnttab_handle* h, uint32_t domid, uint32_t ref, int prot) {
  if (ref != kXenstoreRef) {
    errno = EINVAL;
    return nullptr;
  }
  return simxen::map_ring(h->dir, domid, kPage, prot);
}

}  // namespace

extern "C" {

xengnttab_handle* xengnttab_open(xentoollog_logger* /*logger*/, unsigned /*open_flags*/) {
  auto dir = simxen::machine_dir("xengnttab_open");
  if (!dir) {
    errno = ENOENT;
    return nullptr;
  }
  auto* h = new (std::nothrow) xengntdev_handle{*dir};
  if (h == nullptr) errno = ENOMEM;
  return h;
}

int xengnttab_close(xengnttab_handle* h) {
  delete h;
  return 0;
}

int xengnttab_set_max_grants(xengnttab_handle* /*h*/, uint32_t /*nr_grants*/) {
  return 0;
}

void* xengnttab_map_grant_ref(xengnttab_handle* h, uint32_t domid, uint32_t ref, int prot) {
  return map_one(h, domid, ref, prot);
}

// Only single-page maps exist in this machine: a ring is one page.
void* xengnttab_map_grant_refs(xengnttab_handle* h, uint32_t count, uint32_t* domids,
                               uint32_t* refs, int prot) {
  if (count != 1) {
    errno = EINVAL;
    return nullptr;
  }
  return map_one(h, domids[0], refs[0], prot);
}

void* xengnttab_map_domain_grant_refs(xengnttab_handle* h, uint32_t count, uint32_t domid,
                                      uint32_t* refs, int prot) {
  if (count != 1) {
    errno = EINVAL;
    return nullptr;
  }
  return map_one(h, domid, refs[0], prot);
}

int xengnttab_unmap(xengnttab_handle* /*h*/, void* start_address, uint32_t count) {
  return ::munmap(start_address, static_cast<size_t>(count) * kPage);
}

}  // extern "C"
