#include "machine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace simxen {

std::optional<std::string> machine_dir(const char* caller) {
  const char* dir = std::getenv("SIMXEN_DIR");
  if (dir == nullptr || *dir == '\0') {
    std::fprintf(stderr, "simxen: %s: SIMXEN_DIR is not set; it must name the simulated machine\n",
                 caller);
    return std::nullopt;
  }
  return std::string(dir);
}

namespace {

bool parse_domid(const char* s, uint32_t* out) {
  if (*s == '\0') return false;
  uint64_t v = 0;
  for (const char* p = s; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (v >= kDomidFirstReserved) return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

std::optional<std::string> read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 0) return std::string();
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::optional<DomainState> domain_state(const std::string& dir, uint32_t domid) {
  if (domid >= kDomidFirstReserved) return std::nullopt;
  auto content = read_small_file(dir + "/dom/" + std::to_string(domid));
  if (!content) {
    if (domid == 0) return DomainState::kRunning;
    return std::nullopt;
  }
  if (*content == "shutdown") return DomainState::kShutdown;
  if (*content == "dying") return DomainState::kDying;
  return DomainState::kRunning;
}

std::vector<DomainInfo> domains_from(const std::string& dir, uint32_t first, unsigned max) {
  std::vector<uint32_t> ids{0};
  if (DIR* d = ::opendir((dir + "/dom").c_str())) {
    while (dirent* e = ::readdir(d)) {
      uint32_t id;
      if (parse_domid(e->d_name, &id) && id != 0) ids.push_back(id);
    }
    ::closedir(d);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<DomainInfo> out;
  for (uint32_t id : ids) {
    if (id < first || out.size() >= max) continue;
    // The file may vanish between readdir and now: a dead domain is simply not listed.
    if (auto st = domain_state(dir, id)) out.push_back({id, *st});
  }
  return out;
}

std::string ring_path(const std::string& dir, uint32_t domid) {
  return dir + "/ring/" + std::to_string(domid);
}

std::string server_socket_path(const std::string& dir) {
  return dir + "/evtchn/server.sock";
}

std::string guest_socket_path(const std::string& dir, uint32_t domid) {
  return dir + "/evtchn/guest-" + std::to_string(domid) + ".sock";
}

void* map_ring(const std::string& dir, uint32_t domid, size_t len, int prot) {
  int flags = (prot & PROT_WRITE) ? O_RDWR : O_RDONLY;
  int fd = ::open(ring_path(dir, domid).c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    errno = ENOENT;
    return nullptr;
  }
  void* p = ::mmap(nullptr, len, prot, MAP_SHARED, fd, 0);
  int saved = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    errno = saved;
    return nullptr;
  }
  return p;
}

}  // namespace simxen
