#include "store/history_redaction.h"

#include "common/path.h"

namespace dxs::store {
namespace {

void redact_state(const Privacy& privacy, std::string_view path, pb::NodeState& state) {
  if (!state.exists() || state.redacted() || path::is_special(path) || !privacy.is_private(path)) {
    return;
  }
  state.set_value_digest(privacy.digest(state.value()));
  state.clear_value();
  state.set_redacted(true);
}

void redact_change(const Privacy& privacy, pb::NodeChange& change) {
  redact_state(privacy, change.path(), *change.mutable_before());
  redact_state(privacy, change.path(), *change.mutable_after());
}

}  // namespace

void redact_private(const Privacy& privacy, pb::CommitView& view) {
  if (!privacy.enabled()) return;
  for (pb::NodeChange& change : *view.mutable_changes()) redact_change(privacy, change);
}

void redact_private(const Privacy& privacy, pb::AtReply& reply) {
  if (!privacy.enabled()) return;
  for (pb::AtNode& node : *reply.mutable_nodes()) {
    redact_state(privacy, node.path(), *node.mutable_state());
  }
}

void redact_private(const Privacy& privacy, pb::BlameReply& reply) {
  if (!privacy.enabled()) return;
  for (pb::BlameLine& line : *reply.mutable_lines()) {
    redact_state(privacy, line.path(), *line.mutable_state());
    if (line.has_commit()) redact_private(privacy, *line.mutable_commit());
  }
}

void redact_private(const Privacy& privacy, pb::DiffReply& reply) {
  if (!privacy.enabled()) return;
  for (pb::NodeChange& change : *reply.mutable_changes()) redact_change(privacy, change);
}

}  // namespace dxs::store
