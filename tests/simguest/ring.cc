#include "ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace simguest {

std::optional<Field> field_by_name(const std::string& name) {
  static const std::pair<const char*, Field> kFields[] = {
      {"req_cons", Field::kReqCons},
      {"req_prod", Field::kReqProd},
      {"rsp_cons", Field::kRspCons},
      {"rsp_prod", Field::kRspProd},
      {"server_features", Field::kServerFeatures},
      {"connection", Field::kConnection},
      {"error", Field::kError},
      {"evtchn_port", Field::kEvtchnPort},
  };
  for (const auto& [n, f] : kFields)
    if (name == n) return f;
  return std::nullopt;
}

RingPage::RingPage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
  void* p = ::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int saved = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw std::system_error(saved, std::generic_category(), "mmap " + path);
  page_ = static_cast<unsigned char*>(p);
}

RingPage::~RingPage() {
  ::munmap(page_, kPageSize);
}

uint32_t* RingPage::word(Field f) const {
  return reinterpret_cast<uint32_t*>(page_ + static_cast<uint32_t>(f));
}

uint32_t RingPage::load(Field f) const {
  return __atomic_load_n(word(f), __ATOMIC_ACQUIRE);
}

void RingPage::store(Field f, uint32_t v) {
  __atomic_store_n(word(f), v, __ATOMIC_RELEASE);
}

std::optional<size_t> RingPage::write_requests(const void* data, size_t n) {
  // Each index is read exactly once: the server may change req_cons at any moment, and a
  // hostile test may poke either.
  uint32_t cons = load(Field::kReqCons);
  uint32_t prod = __atomic_load_n(word(Field::kReqProd), __ATOMIC_RELAXED);
  if (prod - cons > kRingSize) return std::nullopt;
  size_t space = kRingSize - (prod - cons);
  size_t len = std::min(n, space);
  // Read req_cons before overwriting the bytes it freed.
  std::atomic_thread_fence(std::memory_order_acquire);
  const auto* src = static_cast<const unsigned char*>(data);
  for (size_t done = 0; done < len;) {
    size_t off = (prod + done) & (kRingSize - 1);
    size_t chunk = std::min(len - done, kRingSize - off);
    std::memcpy(page_ + off, src + done, chunk);
    done += chunk;
  }
  // The bytes are in place before the server can see the new req_prod.
  std::atomic_thread_fence(std::memory_order_release);
  store(Field::kReqProd, prod + static_cast<uint32_t>(len));
  return len;
}

std::optional<size_t> RingPage::read_responses(void* out, size_t n) {
  uint32_t cons = __atomic_load_n(word(Field::kRspCons), __ATOMIC_RELAXED);
  uint32_t prod = load(Field::kRspProd);
  if (prod - cons > kRingSize) return std::nullopt;
  size_t len = std::min(n, static_cast<size_t>(prod - cons));
  // rsp_prod is read before the bytes it covers.
  std::atomic_thread_fence(std::memory_order_acquire);
  auto* dst = static_cast<unsigned char*>(out);
  for (size_t done = 0; done < len;) {
    size_t off = (cons + done) & (kRingSize - 1);
    size_t chunk = std::min(len - done, kRingSize - off);
    std::memcpy(dst + done, page_ + kRingSize + off, chunk);
    done += chunk;
  }
  // The bytes are copied out before the server may overwrite them.
  std::atomic_thread_fence(std::memory_order_release);
  store(Field::kRspCons, cons + static_cast<uint32_t>(len));
  return len;
}

}  // namespace simguest
