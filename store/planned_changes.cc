#include "store/planned_changes.h"

#include "common/path.h"
#include "common/wire.h"
#include "store/state.h"

namespace dxs::store {
namespace {

using wire::MsgType;
using Reach = PlannedChange::Reach;

void plan(StoreState& s, uint32_t type, std::string path, std::vector<PlannedChange>& out) {
  switch (static_cast<MsgType>(type)) {
    case MsgType::kWrite:
    case MsgType::kMkdir: {
      const bool exists = CurrentNodes(s.ws).get(path).has_value();
      if (exists && static_cast<MsgType>(type) == MsgType::kMkdir) return;
      out.push_back({std::move(path), exists ? Reach::kValue : Reach::kCreate});
      return;
    }
    case MsgType::kRm:
      out.push_back({std::move(path), Reach::kRemove});
      return;
    case MsgType::kSetPerms:
      out.push_back({std::move(path), Reach::kPerms});
      return;
    default:
      return;
  }
}

}  // namespace

std::vector<PlannedChange> planned_changes(StoreState& s, const Connection& c,
                                           const pb::Request& req) {
  std::vector<PlannedChange> out;
  if (req.tx_id() != 0) {
    if (req.type() != wire::to_u32(MsgType::kTransactionEnd) || req.strings().strings_size() < 1 ||
        req.strings().strings(0) != "T") {
      return out;
    }
    Transaction* t = s.txns.find(c.record.id(), req.tx_id());
    if (t == nullptr) return out;
    for (const pb::TxnLogEntry& e : s.txns.read_log(s.ws, *t)) {
      if (e.op_type() != 0) plan(s, e.op_type(), e.path(), out);
    }
    return out;
  }
  const std::string* raw = nullptr;
  switch (req.args_case()) {
    case pb::Request::kPath:
      raw = &req.path().path();
      break;
    case pb::Request::kWrite:
      raw = &req.write().path();
      break;
    case pb::Request::kSetPerms:
      raw = &req.set_perms().path();
      break;
    default:
      return out;
  }
  Result<std::string> p = path::canonicalize(*raw, StoreState::home_domid(c), UINT32_MAX);
  if (p.is_ok() && !path::is_special(*p)) plan(s, req.type(), std::move(*p), out);
  return out;
}

}  // namespace dxs::store
