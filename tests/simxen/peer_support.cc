// What Debian's xenstored and oxenstored (4.17) need, beyond the three Xen libraries, to run
// on a machine without Xen. Each libc function below calls the real one (dlsym(RTLD_NEXT))
// after, at most, rewriting a path:
//
//  - /proc/xen/xsd_kva and /proc/xen/xsd_port (dom0's ring page and its unbound port, which
//    both daemons open at start-up) become $SIMXEN_DIR/ring/0, created as a zero 4096-byte
//    page, and $SIMXEN_DIR/xsd_port, created holding "1" (no newline: oxenstored
//    int_of_string's the whole file).
//  - oxenstored's compiled-in socket, /var/run/xenstored/socket or /run/xenstored/socket, is
//    bound (and unlinked) at $SIMXEN_XENSTORED_SOCKET when that is set; mkdir of the compiled-in
//    run directory then pretends it exists, so nothing is created under /run.
//  - oxenstored's state dump, /var/run/xenstored/db and db# (written on SIGTERM and in
//    persistent mode), goes to $SIMXEN_DIR/db and db#.
//  - setrlimit/prlimit that the container refuses (oxenstored raises RLIMIT_NOFILE to
//    fs.nr_open) are clamped to the hard limit and reported as successes.
//
// dxs's own binaries use none of these paths; for them this file changes nothing.

// The daemons call the 32-bit-offset names (open, setrlimit) as well as the 64-bit ones;
// meson's -D_FILE_OFFSET_BITS=64 would turn our definitions of the former into the latter.
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

using OpenFn = int (*)(const char*, int, ...);

OpenFn real_open() {
  static OpenFn fn = real<OpenFn>("open");
  return fn;
}

const char* machine() {
  const char* d = std::getenv("SIMXEN_DIR");
  return (d != nullptr && *d != '\0') ? d : nullptr;
}

bool is_one_of(const char* p, const char* a, const char* b) {
  return p != nullptr && (std::strcmp(p, a) == 0 || std::strcmp(p, b) == 0);
}

bool is_default_socket(const char* p) {
  return is_one_of(p, "/var/run/xenstored/socket", "/run/xenstored/socket");
}

bool is_default_rundir(const char* p) {
  return is_one_of(p, "/var/run/xenstored", "/run/xenstored");
}

// Creates a missing stand-in file with its initial content; an existing one is left alone
// (a test may have written its own port number).
void ensure_file(const std::string& path, const char* content, off_t size) {
  int fd = real_open()(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (content != nullptr && ::write(fd, content, std::strlen(content)) < 0) {
    // The daemon's own open and read will then report the problem.
  }
  if (size > 0 && ::ftruncate(fd, size) != 0) {
    // As above.
  }
  ::close(fd);
}

// The path to use instead of `path`, or `path` itself.
const char* redirect(const char* path, std::string& buf) {
  const char* dir = machine();
  if (path == nullptr || dir == nullptr) return path;
  if (std::strcmp(path, "/proc/xen/xsd_kva") == 0) {
    ::mkdir((std::string(dir) + "/ring").c_str(), 0755);
    buf = std::string(dir) + "/ring/0";
    ensure_file(buf, nullptr, 4096);
    return buf.c_str();
  }
  if (std::strcmp(path, "/proc/xen/xsd_port") == 0) {
    buf = std::string(dir) + "/xsd_port";
    ensure_file(buf, "1", 0);
    return buf.c_str();
  }
  for (const char* prefix : {"/var/run/xenstored/db", "/run/xenstored/db"}) {
    if (std::strncmp(path, prefix, std::strlen(prefix)) == 0) {
      buf = std::string(dir) + "/" + (std::strrchr(path, '/') + 1);
      return buf.c_str();
    }
  }
  return path;
}

const char* socket_redirect() {
  const char* s = std::getenv("SIMXEN_XENSTORED_SOCKET");
  return (s != nullptr && *s != '\0') ? s : nullptr;
}

int open_with(OpenFn fn, const char* path, int flags, va_list ap) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) mode = static_cast<mode_t>(va_arg(ap, int));
  std::string buf;
  return fn(redirect(path, buf), flags, mode);
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int r = open_with(real_open(), path, flags, ap);
  va_end(ap);
  return r;
}

int open64(const char* path, int flags, ...) {
  static OpenFn fn = real<OpenFn>("open64");
  va_list ap;
  va_start(ap, flags);
  int r = open_with(fn, path, flags, ap);
  va_end(ap);
  return r;
}

FILE* fopen(const char* path, const char* mode) {
  static auto fn = real<FILE* (*)(const char*, const char*)>("fopen");
  std::string buf;
  return fn(redirect(path, buf), mode);
}

int rename(const char* from, const char* to) noexcept {
  static auto fn = real<int (*)(const char*, const char*)>("rename");
  std::string b1, b2;
  return fn(redirect(from, b1), redirect(to, b2));
}

int unlink(const char* path) noexcept {
  static auto fn = real<int (*)(const char*)>("unlink");
  if (const char* s = socket_redirect(); s != nullptr && is_default_socket(path)) path = s;
  std::string buf;
  return fn(redirect(path, buf));
}

int mkdir(const char* path, mode_t mode) noexcept {
  static auto fn = real<int (*)(const char*, mode_t)>("mkdir");
  if (socket_redirect() != nullptr && is_default_rundir(path)) {
    errno = EEXIST;
    return -1;
  }
  return fn(path, mode);
}

int bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
  static auto fn = real<int (*)(int, const sockaddr*, socklen_t)>("bind");
  const char* want = socket_redirect();
  if (want != nullptr && addr != nullptr && addr->sa_family == AF_UNIX &&
      is_default_socket(reinterpret_cast<const sockaddr_un*>(addr)->sun_path)) {
    sockaddr_un a;
    std::memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (std::strlen(want) >= sizeof a.sun_path) {
      errno = ENAMETOOLONG;
      return -1;
    }
    std::strcpy(a.sun_path, want);
    return fn(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  return fn(fd, addr, len);
}

int prlimit64(pid_t pid, enum __rlimit_resource res, const struct rlimit64* nl,
              struct rlimit64* ol) noexcept {
  static auto fn =
      real<int (*)(pid_t, enum __rlimit_resource, const struct rlimit64*, struct rlimit64*)>(
          "prlimit64");
  if (fn(pid, res, nl, ol) == 0) return 0;
  if (nl == nullptr || errno != EPERM) return -1;
  struct rlimit64 cur;
  if (fn(pid, res, nullptr, &cur) != 0) return -1;
  if (ol != nullptr) *ol = cur;
  struct rlimit64 clamped = *nl;
  if (clamped.rlim_max > cur.rlim_max) clamped.rlim_max = cur.rlim_max;
  if (clamped.rlim_cur > clamped.rlim_max) clamped.rlim_cur = clamped.rlim_max;
  fn(pid, res, &clamped, nullptr);
  return 0;
}

int setrlimit64(__rlimit_resource_t res, const struct rlimit64* l) noexcept {
  return prlimit64(0, static_cast<enum __rlimit_resource>(res), l, nullptr);
}

int setrlimit(__rlimit_resource_t res, const struct rlimit* l) noexcept {
  struct rlimit64 l64 = {l->rlim_cur, l->rlim_max};
  return prlimit64(0, static_cast<enum __rlimit_resource>(res), &l64, nullptr);
}

}  // extern "C"
