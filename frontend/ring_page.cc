#include "frontend/ring_page.h"

#include <xen/io/xs_wire.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace dxs::frontend {

struct RingPage::Layout : xenstore_domain_interface {};

static_assert(sizeof(xenstore_domain_interface) <= RingPage::kPageSize);
static_assert(XENSTORE_RING_SIZE == RingPage::kRingSize);

namespace {

// The guest writes these fields concurrently: every access is a single atomic one, so
// that a value is read once and the compiler neither tears nor repeats it.
uint32_t load(const uint32_t& field) {
  return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
}

void store(uint32_t& field, uint32_t value) {
  __atomic_store_n(&field, value, __ATOMIC_RELEASE);
}

uint32_t mask(uint32_t index) {
  return index & (RingPage::kRingSize - 1);
}

}  // namespace

RingPage::RingPage(void* page) : page_(static_cast<Layout*>(page)) {}

void RingPage::adopt_indices() {
  req_cons_ = cursor_ = load(page_->req_cons);
  rsp_prod_ = load(page_->rsp_prod);
}

void RingPage::reset() {
  req_cons_ = cursor_ = rsp_prod_ = 0;
  store(page_->req_cons, 0);
  store(page_->req_prod, 0);
  store(page_->rsp_cons, 0);
  store(page_->rsp_prod, 0);
  // Stale bytes must not be mistaken for messages by a guest that reads early: poison
  // both streams (0xff is no valid message type), as oxenstored does.
  std::memset(page_->req, 0xff, sizeof page_->req);
  std::memset(page_->rsp, 0xff, sizeof page_->rsp);
  // A reset connection starts without the error an earlier one ended with.
  store(page_->error, XENSTORE_ERROR_NONE);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  store(page_->connection, XENSTORE_CONNECTED);
}

void RingPage::advertise(uint32_t features) {
  store(page_->server_features, load(page_->server_features) | features);
}

void RingPage::set_error(uint32_t code) {
  store(page_->error, code);
}

uint32_t RingPage::error() const {
  return load(page_->error);
}

uint32_t RingPage::connection() const {
  return load(page_->connection);
}

size_t RingPage::read(char* out, size_t max, Fault& fault) {
  fault = Fault::kNone;
  const uint32_t prod = load(page_->req_prod);  // once; acquire orders the copy after it
  // Valid: req_cons <= cursor <= req_prod, and req_prod at most a ring ahead of req_cons.
  const uint32_t in_ring = prod - req_cons_;
  if (in_ring > kRingSize || in_ring < cursor_ - req_cons_) {
    fault = Fault::kRequestIndex;
    return 0;
  }
  size_t n = std::min<size_t>(prod - cursor_, max);
  size_t done = 0;
  while (done < n) {
    const uint32_t at = mask(cursor_ + static_cast<uint32_t>(done));
    const size_t chunk = std::min<size_t>(n - done, kRingSize - at);
    std::memcpy(out + done, page_->req + at, chunk);
    done += chunk;
  }
  cursor_ += static_cast<uint32_t>(n);
  return n;
}

void RingPage::consume(uint32_t upto) {
  if (upto - req_cons_ > cursor_ - req_cons_) return;  // not within [req_cons, cursor]
  req_cons_ = upto;
  // Release: the copies out of req[] are complete before the guest may overwrite them.
  store(page_->req_cons, upto);
}

bool RingPage::request_ring_full() const {
  return load(page_->req_prod) - req_cons_ >= kRingSize;
}

size_t RingPage::write(const char* data, size_t n, Fault& fault) {
  fault = Fault::kNone;
  const uint32_t cons = load(page_->rsp_cons);  // once; acquire: the guest is done reading
  const uint32_t in_ring = rsp_prod_ - cons;
  if (in_ring > kRingSize) {
    fault = Fault::kResponseIndex;
    return 0;
  }
  const size_t room = std::min<size_t>(kRingSize - in_ring, n);
  size_t done = 0;
  while (done < room) {
    const uint32_t at = mask(rsp_prod_ + static_cast<uint32_t>(done));
    const size_t chunk = std::min<size_t>(room - done, kRingSize - at);
    std::memcpy(page_->rsp + at, data + done, chunk);
    done += chunk;
  }
  if (room > 0) {
    rsp_prod_ += static_cast<uint32_t>(room);
    // Release: the bytes are in rsp[] before the guest sees the new index.
    store(page_->rsp_prod, rsp_prod_);
  }
  return room;
}

}  // namespace dxs::frontend
