// The Xenstore wire format (xen/include/public/io/xs_wire.h; docs/misc/xenstore.txt).
//
// A message is a 16-byte header (type, req_id, tx_id, len; host byte order, which is
// little endian on every platform Xen supports) followed by `len` payload bytes, at most
// 4096 in either direction. The same framing is used on the Unix socket and on rings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dxs::wire {

enum class MsgType : uint32_t {
  kControl = 0,
  kDirectory = 1,
  kRead = 2,
  kGetPerms = 3,
  kWatch = 4,
  kUnwatch = 5,
  kTransactionStart = 6,
  kTransactionEnd = 7,
  kIntroduce = 8,
  kRelease = 9,
  kGetDomainPath = 10,
  kWrite = 11,
  kMkdir = 12,
  kRm = 13,
  kSetPerms = 14,
  kWatchEvent = 15,
  kError = 16,
  kIsDomainIntroduced = 17,
  kResume = 18,
  kSetTarget = 19,
  kRestrict = 20,  // removed from the protocol; answered with ENOSYS
  kResetWatches = 21,
  kDirectoryPart = 22,
  kGetFeature = 23,  // Xen 4.21
  kSetFeature = 24,  // Xen 4.21
};

constexpr uint32_t kTypeCount = 25;      // XS_GET_QUOTA (25) and XS_SET_QUOTA are next
constexpr size_t kHeaderSize = 16;       // sizeof(struct xsd_sockmsg)
constexpr uint32_t kPayloadMax = 4096;   // XENSTORE_PAYLOAD_MAX
constexpr uint32_t kAbsPathMax = 3072;   // XENSTORE_ABS_PATH_MAX
constexpr uint32_t kRelPathMax = 2048;   // XENSTORE_REL_PATH_MAX
constexpr uint32_t kDomidSelf = 0x7FF0;  // DOMID_SELF

constexpr uint32_t to_u32(MsgType t) {
  return static_cast<uint32_t>(t);
}

// Name of a message type for logs ("WRITE"), or "UNKNOWN(n)".
std::string type_name(uint32_t type);

struct Header {
  uint32_t type = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  uint32_t len = 0;
};

// REQUIRES: p points to at least kHeaderSize bytes.
Header decode_header(const uint8_t* p);
void encode_header(const Header& h, uint8_t* p);

// A whole message as framed on the wire.
struct Message {
  Header header;
  std::string payload;
};

// Appends the header and payload of a message to out.
void append_message(std::string& out, uint32_t type, uint32_t req_id, uint32_t tx_id,
                    std::string_view payload);

// Reassembles messages from a byte stream that may arrive in pieces of any size.
//
// feed() consumes bytes and returns how many it took; it stops after each complete
// message (take() it) and stops for good on a framing error: a header announcing a
// payload over kPayloadMax, after which the stream cannot be resynchronised and the
// connection must be dropped (xenstored: XENSTORE_ERROR_PROTO).
class MessageAssembler {
 public:
  size_t feed(const uint8_t* data, size_t len);
  bool has_message() const { return complete_; }
  // REQUIRES: has_message()
  Message take();
  bool failed() const { return failed_; }
  // The announced length that made the stream fail.
  uint32_t bad_length() const { return bad_length_; }
  // Bytes of a message received so far (header included); 0 between messages.
  size_t partial_bytes() const { return header_used_ + payload_used_; }

 private:
  uint8_t header_buf_[kHeaderSize] = {};
  size_t header_used_ = 0;
  Message current_;
  size_t payload_used_ = 0;
  bool complete_ = false;
  bool failed_ = false;
  uint32_t bad_length_ = 0;
};

// The NUL-terminated strings at the start of a payload, as xenstored's get_strings()
// sees them: every string that ends in a NUL, and whatever follows the last NUL.
struct Strings {
  std::vector<std::string_view> strings;
  std::string_view trailing;
};
Strings split_strings(std::string_view payload);

// Joins strings as a payload: each followed by a NUL.
std::string join_strings(const std::vector<std::string>& strings);

}  // namespace dxs::wire
