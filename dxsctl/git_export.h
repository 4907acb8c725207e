// The git export's stream writer (docs/design.md, "Git export"): commits of the History
// API's Export in, the text `git fast-import` reads out. It knows nothing of gRPC or of
// processes: the tree at a commit comes from a TreeReader, the text goes to a Sink, so it
// is tested on CommitViews built by hand.
//
// The mapping: node /a/b is the file `a/b.node` (a name no node has, since node names have
// no '.'; the root is `.node`), holding "perms n0 r7\n", for a private path "redacted
// <hex digest>\n", then an empty line and the value's bytes verbatim. Main's commits are on
// refs/heads/main, mark :seq; a transaction's branch commit sits on its base and its merge
// has it as second parent. Special nodes and changes outside the tree are in the message.
//
// Memory is one commit at a time, whatever the length of the history: the commits already
// exported are known as ranges of sequence numbers (ExportedRanges), not one by one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "proto/history.pb.h"

namespace dxs::ctl {

// The file of the node at absolute path `path` ("/" -> ".node", "/a/b" -> "a/b.node"),
// and the directory of its children ("" for the root). Bytes no Xenstore name has (the
// store never sends them) are written as %XX, so that no path can escape its directory.
std::string node_file(std::string_view path);
std::string node_dir(std::string_view path);

// What a node's file holds for state `s`.
std::string node_file_content(const pb::NodeState& s);

// A node file read back (the tests' and the documentation's inverse of node_file_content).
struct NodeFile {
  std::vector<std::string> perms;
  bool redacted = false;
  std::string value_digest;  // raw bytes, when redacted
  std::string value;
};
Result<NodeFile> parse_node_file(std::string_view content);

// The git identity of a commit's author: name and email, neither holding '<', '>' or a
// line break. RING: "dom7 <dom7@ring.dxs>"; SOCKET: "xenstore-write <uid0@socket.dxs>";
// OPS: "ops uid 1000 <ops@dxs>"; STORE: "dxs-store <store@dxs>".
struct GitIdent {
  std::string name;
  std::string email;
};
GitIdent git_ident(const pb::CommitAuthor& a);

// The commit message: the summary, an empty line, then "key: value" lines (seq, author,
// connection, request, transaction, note, special-node changes, state changes) and
// `extra` lines, each printable.
std::string commit_message(const pb::CommitView& c, const std::vector<std::string>& extra = {});

// The sequence numbers a repository's export holds, as inclusive ranges, and main's head
// there; kept in the repository between exports (.git/dxs-export/state).
class ExportedRanges {
 public:
  bool contains(uint64_t seq) const;
  // Adds seq; it joins a range that ends at seq - 1 (sequence numbers have no holes, so
  // every commit between is in it).
  void add(uint64_t seq);
  bool empty() const { return ranges_.empty(); }
  // The highest sequence number held (0: none).
  uint64_t last() const;
  uint64_t main_head() const { return main_head_; }
  void set_main_head(uint64_t seq) { main_head_ = seq; }
  const std::vector<std::pair<uint64_t, uint64_t>>& ranges() const { return ranges_; }

  std::string serialize() const;
  // EINVAL for text serialize() did not write.
  static Result<ExportedRanges> parse(std::string_view text);

 private:
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // by lo, disjoint
  uint64_t main_head_ = 0;
};

// The store's past trees, as the export reads them. `nodes` gives every node of the tree
// right after commit seq, one at a time and in any order (a tree may be larger than
// memory should hold); ENOENT before the first node if the store no longer has that tree.
// `commit` gives the commit itself, for its time and summary (empty if it cannot).
using NodeFn = std::function<Status(const pb::AtNode&)>;
struct TreeReader {
  std::function<Status(uint64_t seq, const NodeFn& each)> nodes;
  std::function<pb::CommitView(uint64_t seq)> commit;
};
// Where the fast-import text goes; an error ends the export.
using Sink = std::function<Status(std::string_view)>;
// The git commit an earlier export wrote for a sequence number (ENOENT: none). A run
// names its own commits by mark, earlier ones by their id: git is not given the marks of
// the whole history, which would cost it some 380 bytes a commit to load.
using EarlierCommit = std::function<Result<std::string>(uint64_t seq)>;

// The git commit of mark :seq in a marks file (":seq SHA" lines, as fast-import's
// --export-marks writes them, runs appended one after another): the last such line,
// looked for from the end, where the commits a run asks for (main's head, recent
// transactions' bases) are. ENOENT if there is none.
Result<std::string> find_mark(const std::string& marks_path, uint64_t seq);

class GitExport {
 public:
  GitExport(ExportedRanges exported, TreeReader read_tree, Sink sink, EarlierCommit earlier);

  // The stream's header. Call first.
  Status begin();
  // A commit holding the whole tree at `seq`, on main (a root commit, or after main's
  // head if there is one): where an export with --since starts, and where it resumes
  // over commits pruned before they were exported.
  Status snapshot_on_main(uint64_t seq);
  // The next commit of the Export stream (oldest first). A main parent not exported is
  // read whole first (snapshot_on_main), or if the store no longer has it, the commit's
  // own tree is written in its place; a transaction's base not exported is read whole
  // on a scratch ref, or, if the store no longer has it, replaced by main's head (said so
  // in the message).
  Status add(const pb::CommitView& c);
  // Ends the stream ("done"); the scratch refs go.
  Status finish();

  // What the repository holds once git has taken the stream.
  const ExportedRanges& exported() const { return exported_; }
  uint64_t commits_written() const { return commits_; }

 private:
  // Nothing is written if the tree cannot be read at all; a tree that breaks off after
  // its first node leaves the stream broken (broken_), to be given up.
  Status write_tree_commit(uint64_t seq, const std::string& ref, uint64_t parent,
                           std::string_view why);
  Status write_header(const std::string& ref, uint64_t mark, const pb::CommitView& c,
                      const std::string& message);

  // ":seq" for a commit of this run, else the earlier export's commit id.
  Result<std::string> commitish(uint64_t seq);
  void wrote(uint64_t seq);

  ExportedRanges exported_;
  ExportedRanges written_;  // by this run
  TreeReader read_tree_;
  Sink sink_;
  EarlierCommit earlier_;
  uint64_t commits_ = 0;
  bool used_branch_ref_ = false;
  bool used_snapshot_ref_ = false;
  bool broken_ = false;
};

}  // namespace dxs::ctl
