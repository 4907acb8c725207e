#include "store/snapshot_reads.h"

#include <fmt/format.h>

#include <cerrno>

#include "common/config.h"
#include "common/message_table.h"
#include "common/path.h"
#include "common/wire.h"
#include "common/xs_error.h"
#include "store/directory_listing.h"
#include "store/node_view.h"

namespace dxs::store {
namespace {

using wire::MsgType;

// The path a read names, and for DIRECTORY_PART its offset.
struct ReadArgs {
  std::string path;
  size_t offset = 0;
};

Result<ReadArgs> parse_args(const pb::Request& req) {
  if (req.has_malformed()) return Status::error(EINVAL, req.malformed().reason());
  ReadArgs args;
  std::string_view raw = req.path().path();
  if (req.type() == wire::to_u32(MsgType::kDirectoryPart)) {
    const auto& strings = req.strings();
    if (wire::arity_error(*wire::find_message(req.type()), strings.strings_size(),
                          !strings.trailing().empty())) {
      return Status::error(EINVAL, "DIRECTORY_PART takes a path and an offset");
    }
    int64_t offset = 0;
    if (!parse_int(strings.strings(1), 0, UINT32_MAX, offset)) return Status::error(EINVAL);
    args.offset = static_cast<size_t>(offset);
    raw = strings.strings(0);
  }
  // The ops client is dom0: relative paths resolve against dom0's home, and any path a
  // node can have is allowed.
  Result<std::string> path = path::canonicalize(raw, 0, wire::kAbsPathMax);
  if (!path) return path.status();
  args.path = std::move(*path);
  return args;
}

Result<std::string> answer(StateReader& snapshot, const pb::Request& req) {
  Result<ReadArgs> args = parse_args(req);
  if (!args) return args.status();
  CurrentNodes nodes(snapshot);
  std::optional<Node> n = nodes.get(args->path);
  if (!n) return Status::error(ENOENT);
  switch (static_cast<MsgType>(req.type())) {
    case MsgType::kRead:
      return std::move(n->value);
    case MsgType::kGetPerms:
      return format_perms_payload(n->perms);
    case MsgType::kDirectory:
      return n->child_count == 0 ? std::string() : join_children(nodes.children(args->path));
    default:
      return directory_part(join_children(nodes.children(args->path)), n->children_modified,
                            args->offset);
  }
}

}  // namespace

bool is_snapshot_read(const pb::Request& request) {
  if (request.tx_id() != 0) return false;
  switch (static_cast<MsgType>(request.type())) {
    case MsgType::kRead:
    case MsgType::kGetPerms:
    case MsgType::kDirectory:
    case MsgType::kDirectoryPart:
      return true;
    default:
      return false;
  }
}

pb::Reply read_from_snapshot(Db& db, const pb::Request& request) {
  DbSnapshot snapshot(db);
  Result<std::string> result = answer(snapshot, request);
  if (result.is_ok() && result->size() > wire::kPayloadMax) {
    result = Status::error(E2BIG, fmt::format("reply of {} bytes", result->size()));
  }
  pb::Reply reply;
  reply.set_req_id(request.req_id());
  if (result.is_ok()) {
    reply.set_type(request.type());
    reply.set_payload(std::move(*result));
  } else {
    reply.set_type(wire::to_u32(MsgType::kError));
    reply.set_payload(std::string(xs_error_name(result.status().err())) + '\0');
  }
  return reply;
}

}  // namespace dxs::store
