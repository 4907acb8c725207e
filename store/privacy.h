// Privacy: the paths whose values history never keeps (docs/design.md, "Privacy").
//
// Guests put secrets and clipboard contents into Xenstore. For a node under a private
// path, history keeps that its value changed and a keyed digest of it, never the value:
// its superseded versions and a branch commit's copies are `redacted` NodeRecords
// (value empty, value_digest = HMAC-SHA256(key, value)), and a write's summary says
// `<private, N bytes>`. The live node and its latest version hold the value, as do
// older versions while an open transaction or a recorded reply may still read them
// (retention.h redacts those once none can).
//
// Patterns (`history.private-paths`, separated by spaces or commas): an absolute path
// whose components may hold fnmatch(3) wildcards (`*`, `?`, `[...]`), which never
// match across a '/'; a last component `**` matches every node below the rest (not
// the node itself): `/local/domain/*/data/*`, `/local/domain/*/vm-data/**`.
//
// Thread-safety: const methods may be called from any thread once configured.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proto/records.pb.h"
#include "store/db.h"

namespace dxs::store {

class PrivatePaths {
 public:
  // EINVAL for a pattern that is not absolute, has an empty component or a `**` that is
  // not its last component.
  static Result<PrivatePaths> parse(std::string_view list);

  bool empty() const { return patterns_.empty(); }
  // Whether the canonical path p (never a special @ name) is private.
  bool matches(std::string_view p) const;
  // The patterns as one canonical string (to notice a change of them across restarts).
  std::string text() const;

 private:
  struct Pattern {
    std::string glob;          // without a trailing "/**"
    size_t components = 0;     // of glob
    bool descendants = false;  // it ended in "/**"
  };
  std::vector<Pattern> patterns_;
};

class Privacy {
 public:
  explicit Privacy(PrivatePaths paths) : paths_(std::move(paths)) {}

  bool enabled() const { return !paths_.empty(); }
  const PrivatePaths& paths() const { return paths_; }
  bool is_private(std::string_view path) const;

  // Reads the digest key from meta, creating it (32 random bytes) in ws if there is
  // none and privacy is enabled. EIO if no random bytes could be had.
  Status load_key(StateReader& state, WriteSet& ws);

  // HMAC-SHA256 of value under the key.
  std::string digest(std::string_view value) const;
  // r without its value: redacted, with the value's digest. A tombstone, or a record
  // redacted already, is left as it is.
  void redact(pb::NodeRecord& r) const;
  // The value as a commit summary shows it: abbreviate_value(value), or
  // "<private, N bytes>" under a private path.
  std::string summary_value(std::string_view path, std::string_view value) const;

 private:
  PrivatePaths paths_;
  std::array<unsigned char, 32> key_{};
};

}  // namespace dxs::store
