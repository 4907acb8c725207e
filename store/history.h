// CommitLog: the commit DAG (ARCHITECTURE.md section 3).
//
// Every mutating request is a commit on main, numbered by a sequence that only grows;
// its node changes are also stored as versions of each node (cf versions) so any
// retained commit can be read back as a tree. A transaction is a branch commit from its
// base, joined to main by a merge commit with two parents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/db.h"
#include "store/tree.h"

namespace dxs::store {

struct CommitInfo {
  uint32_t author_domid = 0;
  uint64_t conn = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  std::string summary;
  std::string note;
};

class CommitLog {
 public:
  // Finds main's head and the highest commit; 0 for an empty database.
  void load(Db& db);

  // Main's newest commit: the parent of the next commit on main, the base of a new
  // transaction.
  uint64_t head() const { return main_head_; }
  // The sequence number the next commit will get; changes made for it are stamped so.
  uint64_t next() const { return last_ + 1; }

  // Appends a commit on main with parent head() (and `merged`, for a merge), recording
  // `changes` and a version of every changed node. Returns its sequence number.
  uint64_t commit_main(WriteSet& ws, const CommitInfo& info, const ChangeList& changes,
                       int64_t now_ns, uint64_t merged = 0);
  // Appends a branch commit (not on main) with parent `base`, holding `changes` whole.
  uint64_t commit_branch(WriteSet& ws, const CommitInfo& info, uint64_t base,
                         const ChangeList& changes, int64_t now_ns);

 private:
  uint64_t main_head_ = 0;
  uint64_t last_ = 0;
};

// "vm7", or the first bytes of a long value with its length, with non-printable bytes
// escaped: values in summaries are for reading; the change set holds them whole.
std::string abbreviate_value(std::string_view value);

}  // namespace dxs::store
