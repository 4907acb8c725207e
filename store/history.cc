#include "store/history.h"

#include <fmt/format.h>

#include "common/printable.h"

namespace dxs::store {
namespace {

pb::Change::Kind kind_of(Change::Kind k) {
  switch (k) {
    case Change::Kind::kCreated:
      return pb::Change::CREATED;
    case Change::Kind::kModified:
      return pb::Change::MODIFIED;
    case Change::Kind::kPerms:
      return pb::Change::PERMS;
    case Change::Kind::kDeleted:
      return pb::Change::DELETED;
    case Change::Kind::kChildren:
      break;
  }
  return pb::Change::KIND_UNSPECIFIED;
}

void fill(pb::CommitRecord& c, const CommitInfo& info, int64_t now_ns) {
  c.set_author_domid(info.author_domid);
  c.set_conn(info.conn);
  c.set_req_id(info.req_id);
  c.set_tx_id(info.tx_id);
  c.set_time_ns(now_ns);
  c.set_summary(info.summary);
  if (!info.note.empty()) c.set_note(info.note);
}

}  // namespace

void CommitLog::load(Db& db) {
  auto it = db.iterate(Cf::kCommits);
  main_head_ = last_ = 0;
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    const std::string_view key(it->key().data(), it->key().size());
    const std::optional<uint64_t> seq_of_key = keys::commit_seq(key);
    if (!seq_of_key) fail_stop_corrupt(Cf::kCommits, key);
    const uint64_t seq = *seq_of_key;
    if (last_ == 0) last_ = seq;
    pb::CommitRecord c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      fail_stop_corrupt(Cf::kCommits, key);
    if (c.on_main()) {
      main_head_ = seq;
      break;
    }
  }
}

uint64_t CommitLog::commit_main(WriteSet& ws, const CommitInfo& info, const ChangeList& changes,
                                int64_t now_ns, uint64_t merged) {
  const uint64_t seq = next();
  pb::CommitRecord c;
  if (main_head_ != 0) c.add_parents(main_head_);
  if (merged != 0) c.add_parents(merged);
  fill(c, info, now_ns);
  c.set_on_main(true);
  pb::NodeRecord version;
  for (const Change& ch : changes) {
    // A parent's new list of children is a version of the parent, not a change a
    // commit lists: the child created or removed is.
    if (ch.kind != Change::Kind::kChildren) {
      pb::Change* out = c.add_changes();
      out->set_path(ch.path);
      out->set_kind(kind_of(ch.kind));
    }
    if (ch.after) {
      node_to_record(*ch.after, version);
    } else {
      version.Clear();
      version.set_deleted(true);
    }
    ws.put_record(Cf::kVersions, keys::version(ch.path, seq), version);
  }
  ws.put_record(Cf::kCommits, keys::commit(seq), c);
  main_head_ = last_ = seq;
  return seq;
}

uint64_t CommitLog::commit_branch(WriteSet& ws, const CommitInfo& info, uint64_t base,
                                  const ChangeList& changes, int64_t now_ns) {
  const uint64_t seq = next();
  pb::CommitRecord c;
  if (base != 0) c.add_parents(base);
  fill(c, info, now_ns);
  c.set_on_main(false);
  for (const Change& ch : changes) {
    pb::Change* out = c.add_changes();
    out->set_path(ch.path);
    out->set_kind(kind_of(ch.kind));
    if (ch.after) node_to_record(*ch.after, *out->mutable_after());
  }
  ws.put_record(Cf::kCommits, keys::commit(seq), c);
  last_ = seq;
  return seq;
}

std::string abbreviate_value(std::string_view value) {
  return printable(value, 48);
}

}  // namespace dxs::store
