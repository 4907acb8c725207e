// The guest's side of a xenstore_domain_interface page (docs/simxen.md, "Ring pages"), as
// Linux's xenbus driver drives it: the indices are free-running u32s, each access reads the
// two indices it needs once into locals, validates prod - cons <= 1024, and then copies
// between acquire/release fences; the new index is published with a release store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace simguest {

inline constexpr size_t kRingSize = 1024;
inline constexpr size_t kPageSize = 4096;

// The page's u32 fields, by byte offset.
enum class Field : uint32_t {
  kReqCons = 2048,
  kReqProd = 2052,
  kRspCons = 2056,
  kRspProd = 2060,
  kServerFeatures = 2064,
  kConnection = 2068,
  kError = 2072,
  kEvtchnPort = 2076,
};

std::optional<Field> field_by_name(const std::string& name);

class RingPage {
 public:
  // Maps an existing 4096-byte file MAP_SHARED. Throws std::system_error on failure.
  explicit RingPage(const std::string& path);
  ~RingPage();
  RingPage(const RingPage&) = delete;
  RingPage& operator=(const RingPage&) = delete;

  uint32_t load(Field f) const;
  void store(Field f, uint32_t v);

  // Copies up to n bytes into req[] at req_prod and publishes the new req_prod. Returns the
  // number of bytes written (0 if the ring is full), or nullopt if the server's indices are
  // invalid (req_prod - req_cons > 1024).
  std::optional<size_t> write_requests(const void* data, size_t n);
  // Copies up to n bytes out of rsp[] at rsp_cons and publishes the new rsp_cons; nullopt on
  // invalid indices.
  std::optional<size_t> read_responses(void* out, size_t n);

 private:
  uint32_t* word(Field f) const;
  unsigned char* page_;
};

}  // namespace simguest
