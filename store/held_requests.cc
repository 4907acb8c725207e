#include "store/held_requests.h"

#include <algorithm>

namespace dxs::store {

void HeldRequests::hold(const pb::Request& req) {
  auto [it, fresh] = queues_.try_emplace(req.conn());
  if (fresh) it->second.since = next_++;
  it->second.requests.push_back(req);
}

std::vector<uint64_t> HeldRequests::connections() const {
  std::vector<std::pair<uint64_t, uint64_t>> order;
  order.reserve(queues_.size());
  for (const auto& [conn, q] : queues_) order.emplace_back(q.since, conn);
  std::sort(order.begin(), order.end());
  std::vector<uint64_t> out;
  out.reserve(order.size());
  for (const auto& [since, conn] : order) out.push_back(conn);
  return out;
}

pb::Request HeldRequests::pop(uint64_t conn) {
  auto it = queues_.find(conn);
  pb::Request req = std::move(it->second.requests.front());
  it->second.requests.pop_front();
  if (it->second.requests.empty()) queues_.erase(it);
  return req;
}

}  // namespace dxs::store
