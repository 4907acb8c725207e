#include "store/retention.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/path.h"
#include "store/state.h"

namespace dxs::store {
namespace {

// The paths whose version a main commit wrote: every tree node it lists, and the
// parent of each node it created or removed, whose list of children changed (a version,
// not a listed change: history.h).
std::vector<std::string> versioned_paths(const pb::CommitRecord& c, bool parents_only) {
  std::set<std::string> listed, parents;
  for (const pb::Change& ch : c.changes()) {
    if (path::is_special(ch.path()) || ch.path().empty()) continue;
    listed.insert(ch.path());
    if (ch.path() != "/" &&
        (ch.kind() == pb::Change::CREATED || ch.kind() == pb::Change::DELETED)) {
      parents.emplace(path::parent(ch.path()));
    }
  }
  std::vector<std::string> out;
  for (const std::string& p : parents) {
    if (!listed.contains(p)) out.push_back(p);
  }
  if (!parents_only) out.insert(out.end(), listed.begin(), listed.end());
  return out;
}

std::optional<pb::CommitRecord> read_commit(StateReader& state, uint64_t seq) {
  pb::CommitRecord c;
  if (!state.get_record(Cf::kCommits, keys::commit(seq), &c)) return std::nullopt;
  return c;
}

// Commit records in ascending order from `first`, read with one iterator: a pass walks
// consecutive commits, and a point read each would search every level of the LSM each
// time (it was most of the pass's cost).
class CommitCursor {
 public:
  CommitCursor(Db& db, uint64_t first) : it_(db.iterate(Cf::kCommits)) {
    it_->Seek(keys::commit(first));
  }

  // The record of commit seq, or nullopt if there is none. REQUIRES: seq grows from
  // one call to the next.
  std::optional<pb::CommitRecord> at(uint64_t seq) {
    for (; it_->Valid(); it_->Next()) {
      const std::string_view key(it_->key().data(), it_->key().size());
      const std::optional<uint64_t> at = keys::commit_seq(key);
      if (!at) fail_stop_corrupt(Cf::kCommits, key);
      if (*at > seq) return std::nullopt;
      if (*at < seq) continue;
      pb::CommitRecord c;
      if (!c.ParseFromArray(it_->value().data(), static_cast<int>(it_->value().size()))) {
        fail_stop_corrupt(Cf::kCommits, key);
      }
      it_->Next();
      return c;
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Deletes the version of path that the one at seq superseded, if seq wrote one.
void delete_superseded(Db& db, WriteSet& ws, const std::string& path, uint64_t seq) {
  const std::string prefix = keys::versions_prefix(path);
  const std::string at = keys::version(path, seq);
  auto it = db.iterate(Cf::kVersions, prefix);
  it->Seek(at);
  if (!it->Valid() || it->key().ToString() != at) return;
  it->Next();
  if (!it->Valid() || !keys::is_version_of({it->key().data(), it->key().size()}, prefix)) return;
  ws.del(Cf::kVersions, {it->key().data(), it->key().size()});
}

// Deletes every version of path at or below seq (seq removed it).
void delete_through(Db& db, WriteSet& ws, const std::string& path, uint64_t seq) {
  const std::string prefix = keys::versions_prefix(path);
  auto it = db.iterate(Cf::kVersions, prefix);
  for (it->Seek(keys::version(path, seq)); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (!keys::is_version_of(key, prefix)) break;
    ws.del(Cf::kVersions, key);
  }
}

void prune_commit(Db& db, WriteSet& ws, uint64_t seq, const pb::CommitRecord& c) {
  if (c.on_main()) {
    for (const pb::Change& ch : c.changes()) {
      if (path::is_special(ch.path()) || ch.path().empty()) continue;
      if (ch.kind() == pb::Change::DELETED) {
        // All of them, not only the one before: whatever an older commit left (a
        // version it wrote but did not list) must not make the node exist again.
        delete_through(db, ws, ch.path(), seq);
      } else if (ch.before_version() != 0) {
        ws.del(Cf::kVersions, keys::version(ch.path(), ch.before_version()));
      }
    }
    for (const std::string& parent : versioned_paths(c, true))
      delete_superseded(db, ws, parent, seq);
  }
  ws.del(Cf::kCommits, keys::commit(seq));
}

// Redacts the versions of path older than seq, newest first, down to one redacted
// already (everything older is, by induction) or the newest below the horizon (the
// only one kept there).
void redact_older(Db& db, WriteSet& ws, const Privacy& privacy, const std::string& path,
                  uint64_t seq, uint64_t horizon) {
  if (seq <= 1) return;
  const std::string prefix = keys::versions_prefix(path);
  auto it = db.iterate(Cf::kVersions, prefix);
  for (it->Seek(keys::version(path, seq - 1)); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (!keys::is_version_of(key, prefix)) break;
    pb::NodeRecord r;
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      fail_stop_corrupt(Cf::kVersions, key);
    }
    if (r.redacted()) break;
    if (!r.deleted()) {
      privacy.redact(r);
      ws.put_record(Cf::kVersions, key, r);
    }
    if (keys::version_seq(key) < horizon) break;
  }
}

void redact_commit(Db& db, WriteSet& ws, const Privacy& privacy, uint64_t seq, pb::CommitRecord& c,
                   uint64_t horizon) {
  if (!c.on_main()) {
    // A branch commit's copies (written redacted since privacy was on).
    bool changed = false;
    for (pb::Change& ch : *c.mutable_changes()) {
      if (!ch.has_after() || ch.after().redacted() || ch.after().deleted()) continue;
      if (!privacy.is_private(ch.path())) continue;
      privacy.redact(*ch.mutable_after());
      changed = true;
    }
    if (changed) ws.put_record(Cf::kCommits, keys::commit(seq), c);
    return;
  }
  for (const std::string& p : versioned_paths(c, false)) {
    if (privacy.is_private(p)) redact_older(db, ws, privacy, p, seq, horizon);
  }
}

// Whether a limit lets commit seq (made at time_ns) go, the newest commit being `last`.
bool prunable(const RetentionLimits& limits, uint64_t last, uint64_t seq, int64_t time_ns,
              int64_t now_ns) {
  if (limits.max_commits != 0 && last >= limits.max_commits && seq <= last - limits.max_commits) {
    return true;
  }
  return limits.max_age_s != 0 && time_ns < now_ns - limits.max_age_s * 1'000'000'000;
}

std::string redacted_marker(uint64_t upto, const Privacy& privacy) {
  return keys::be64(upto) + privacy.paths().text();
}

}  // namespace

uint64_t read_horizon(StoreState& s, uint64_t horizon) {
  uint64_t r = s.history.head();
  r = std::min(r, s.txns.oldest_base(r));
  s.connections.for_each([&](Connection& c) {
    for (const pb::ReplyRecord& reply : c.record.replies()) {
      // Below the horizon, a re-sent read is answered from the current tree (engine.cc).
      if (reply.base() >= horizon) r = std::min(r, reply.base());
    }
  });
  return r;
}

void HistoryKeeper::load(StateReader& state, const Privacy& privacy) {
  std::string value;
  horizon_ = 1;
  if (state.get(Cf::kMeta, meta::kHistoryHorizon, &value)) {
    if (value.size() != 8) fail_stop_corrupt(Cf::kMeta, meta::kHistoryHorizon);
    horizon_ = keys::load_be64(value);
  }
  // Patterns changed since: history is redacted again from the horizon up.
  redacted_ = 0;
  if (state.get(Cf::kMeta, meta::kPrivacyRedacted, &value) && value.size() >= 8 &&
      value.substr(8) == privacy.paths().text()) {
    redacted_ = keys::load_be64(value);
  }
}

bool HistoryKeeper::run(StoreState& s, const RetentionLimits& limits, int64_t now_ns,
                        size_t budget) {
  // Most batches find nothing due: that costs a point read, not a look at every
  // connection's replies.
  const uint64_t head = s.history.head();
  const bool redaction_due = s.privacy.enabled() && std::max(redacted_ + 1, horizon_) <= head;
  bool pruning_due = false;
  if (horizon_ < head) {
    if (oldest_seq_ != horizon_) {
      std::optional<pb::CommitRecord> oldest = read_commit(s.db, horizon_);
      oldest_seq_ = oldest ? horizon_ : 0;
      oldest_time_ns_ = oldest ? oldest->time_ns() : 0;
    }
    pruning_due = oldest_seq_ != horizon_ ||
                  prunable(limits, s.history.next() - 1, horizon_, oldest_time_ns_, now_ns);
  }
  if (!redaction_due && !pruning_due) return false;
  // Redacted first: in one batch, a version pruned after it was redacted stays deleted.
  const bool more_redaction = redaction_due && redact(s, read_horizon(s, horizon_), budget);
  // Pruning goes as far as the limits say, whoever reads below: the readers the new
  // horizon leaves behind are told to read the current tree instead.
  const bool more_pruning = pruning_due && prune(s, limits, head, now_ns, budget);
  if (pruning_due) outdate_readers(s);
  return more_redaction || more_pruning;
}

bool HistoryKeeper::redact(StoreState& s, uint64_t upto, size_t budget) {
  uint64_t seq = std::max(redacted_ + 1, horizon_);
  if (seq > upto) return false;
  CommitCursor commits(s.db, seq);
  for (size_t n = 0; seq <= upto && n < budget; ++seq, ++n) {
    std::optional<pb::CommitRecord> c = commits.at(seq);
    if (c) redact_commit(s.db, s.ws, s.privacy, seq, *c, horizon_);
  }
  redacted_ = seq - 1;
  s.ws.put(Cf::kMeta, meta::kPrivacyRedacted, redacted_marker(redacted_, s.privacy));
  return seq <= upto;
}

bool HistoryKeeper::prune(StoreState& s, const RetentionLimits& limits, uint64_t upto,
                          int64_t now_ns, size_t budget) {
  const uint64_t last = s.history.next() - 1;
  uint64_t seq = horizon_;
  size_t n = 0;
  CommitCursor commits(s.db, seq);
  for (; seq < upto && n < budget; ++seq, ++n) {
    std::optional<pb::CommitRecord> c = commits.at(seq);
    if (c) {
      if (!prunable(limits, last, seq, c->time_ns(), now_ns)) break;
      prune_commit(s.db, s.ws, seq, *c);
    }
  }
  if (seq == horizon_) return false;
  horizon_ = seq;
  s.ws.put(Cf::kMeta, meta::kHistoryHorizon, keys::be64(horizon_));
  return n == budget && seq < upto;
}

void HistoryKeeper::outdate_readers(StoreState& s) {
  // Their records go in the batch that moves the horizon (Engine::maintain flushes
  // them), so after a restart both agree.
  for (const Transaction* t : s.txns.outdate_below(horizon_)) {
    const Connection* c = s.connections.find(t->conn);
    const uint32_t domid = c != nullptr ? s.caller_of(*c).domid : 0;
    s.refusals.note(LogLevel::kInfo, domid,
                    fmt::format("dom{} transaction {} outdated: base {} below the history "
                                "horizon {}; it reads the current tree, commits EAGAIN",
                                domid, t->record.id(), t->record.base(), horizon_));
  }
}

}  // namespace dxs::store
