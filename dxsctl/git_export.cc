#include "dxsctl/git_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace dxs::ctl {
namespace {

constexpr const char* kMain = "refs/heads/main";
// Scratch refs: fast-import writes a commit onto a ref, and these commits are reached
// from main through merges; the refs are deleted at the end of the stream.
constexpr const char* kBranchRef = "refs/dxs/branch";
constexpr const char* kSnapshotRef = "refs/dxs/snapshot";

bool is_name_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '@';
}

// The components of an absolute path, each with bytes outside Xenstore's name
// characters as %XX ('%' is not one of them, so the encoding cannot collide).
std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else if (is_name_byte(c)) {
      cur.push_back(static_cast<char>(c));
    } else {
      cur += fmt::format("%{:02X}", c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

// Bytes fit for one line of a commit message or an identity: control bytes and bytes
// past ASCII as \xNN (a commit message is UTF-8 text; values are not).
std::string one_line(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}

// An identity's part: one line, without the '<' and '>' that delimit the email.
std::string ident_part(std::string_view s) {
  std::string out = one_line(s);
  std::replace(out.begin(), out.end(), '<', '_');
  std::replace(out.begin(), out.end(), '>', '_');
  return out;
}

bool is_special_path(std::string_view path) {
  return !path.empty() && path[0] == '@';
}

std::string perms_text(const pb::NodeState& s) {
  if (!s.exists()) return "(none)";
  std::vector<std::string> p(s.perms().begin(), s.perms().end());
  return join(p, " ");
}

std::string author_text(const pb::CommitAuthor& a) {
  switch (a.kind()) {
    case pb::CommitAuthor::SOCKET: {
      std::string out = fmt::format("socket, dom{}", a.domid());
      if (a.pid() >= 0) out += fmt::format(", pid {}, uid {}", a.pid(), a.uid());
      if (!a.command().empty()) out += ", command " + one_line(a.command());
      return out;
    }
    case pb::CommitAuthor::RING:
      return fmt::format("ring, dom{}", a.domid());
    case pb::CommitAuthor::OPS:
      return "ops API" + (a.identity().empty() ? "" : ", " + one_line(a.identity()));
    case pb::CommitAuthor::STORE:
      return "dxs-store";
    default:
      return fmt::format("dom{}", a.domid());
  }
}

std::string time_text(int64_t time_ns) {
  return fmt::format("{} +0000", time_ns > 0 ? time_ns / 1000000000 : 0);
}

std::string data_block(std::string_view bytes) {
  return fmt::format("data {}\n", bytes.size()) + std::string(bytes) + "\n";
}

}  // namespace

std::string node_file(std::string_view path) {
  std::vector<std::string> parts = components(path);
  return parts.empty() ? ".node" : join(parts, "/") + ".node";
}

std::string node_dir(std::string_view path) {
  return join(components(path), "/");
}

std::string node_file_content(const pb::NodeState& s) {
  std::string out = "perms";
  for (const std::string& p : s.perms()) out += " " + p;
  out += "\n";
  if (s.redacted()) return out + "redacted " + hex(s.value_digest()) + "\n\n";
  return out + "\n" + s.value();
}

Result<NodeFile> parse_node_file(std::string_view content) {
  NodeFile f;
  bool saw_perms = false;
  size_t pos = 0;
  while (true) {
    const size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) return Status::error(EINVAL, "no end of the header");
    const std::string_view line = content.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) break;
    if (line == "perms" || line.starts_with("perms ")) {
      for (std::string_view rest = line.substr(5); !rest.empty();) {
        rest.remove_prefix(1);  // the space
        const size_t sp = rest.find(' ');
        f.perms.emplace_back(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      }
      saw_perms = true;
    } else if (line.starts_with("redacted ")) {
      const std::string_view h = line.substr(9);
      if (h.size() % 2 != 0) return Status::error(EINVAL, "odd digest");
      for (size_t i = 0; i < h.size(); i += 2) {
        unsigned v = 0;
        for (char c : h.substr(i, 2)) {
          v <<= 4;
          if (c >= '0' && c <= '9')
            v |= static_cast<unsigned>(c - '0');
          else if (c >= 'a' && c <= 'f')
            v |= static_cast<unsigned>(c - 'a' + 10);
          else
            return Status::error(EINVAL, "digest not hex");
        }
        f.value_digest.push_back(static_cast<char>(v));
      }
      f.redacted = true;
    } else {
      return Status::error(EINVAL, "unknown header line");
    }
  }
  if (!saw_perms) return Status::error(EINVAL, "no perms line");
  f.value = std::string(content.substr(pos));
  if (f.redacted && !f.value.empty()) return Status::error(EINVAL, "a value beside a digest");
  return f;
}

GitIdent git_ident(const pb::CommitAuthor& a) {
  switch (a.kind()) {
    case pb::CommitAuthor::SOCKET:
      return {a.command().empty() ? "socket" : ident_part(a.command()),
              a.pid() >= 0 ? fmt::format("uid{}@socket.dxs", a.uid()) : "unknown@socket.dxs"};
    case pb::CommitAuthor::RING:
      return {fmt::format("dom{}", a.domid()), fmt::format("dom{}@ring.dxs", a.domid())};
    case pb::CommitAuthor::OPS:
      return {a.identity().empty() ? "ops" : "ops " + ident_part(a.identity()), "ops@dxs"};
    case pb::CommitAuthor::STORE:
      return {"dxs-store", "store@dxs"};
    default:
      return {fmt::format("dom{}", a.domid()), fmt::format("dom{}@dxs", a.domid())};
  }
}

std::string commit_message(const pb::CommitView& c, const std::vector<std::string>& extra) {
  std::string summary = one_line(c.summary());
  if (summary.empty()) summary = fmt::format("commit {}", c.seq());
  std::string out = summary + "\n\n";
  out += fmt::format("seq: {}\n", c.seq());
  if (!c.on_main()) out += "branch: a transaction's branch commit, merged into main by the next\n";
  out += "author: " + author_text(c.author()) + "\n";
  if (c.conn()) out += fmt::format("connection: {}\n", c.conn());
  if (c.req_id()) out += fmt::format("request: {}\n", c.req_id());
  if (c.tx_id()) out += fmt::format("transaction: {}\n", c.tx_id());
  if (!c.note().empty()) out += "note: " + one_line(c.note()) + "\n";
  for (const pb::NodeChange& ch : c.changes()) {
    if (!is_special_path(ch.path())) continue;
    out += fmt::format("special: {} perms {} -> {}\n", one_line(ch.path()), perms_text(ch.before()),
                       perms_text(ch.after()));
  }
  for (const pb::StateChange& s : c.state()) {
    out += fmt::format("state: {}: {} -> {}\n", one_line(s.key()),
                       s.has_before() ? one_line(s.before()) : "(none)",
                       s.has_after() ? one_line(s.after()) : "(none)");
  }
  for (const std::string& e : extra) out += one_line(e) + "\n";
  return out;
}

bool ExportedRanges::contains(uint64_t seq) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), std::make_pair(seq, UINT64_MAX));
  if (it == ranges_.begin()) return false;
  --it;
  return seq >= it->first && seq <= it->second;
}

void ExportedRanges::add(uint64_t seq) {
  if (contains(seq)) return;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), std::make_pair(seq, UINT64_MAX));
  const bool joins_before = it != ranges_.begin() && std::prev(it)->second + 1 == seq;
  const bool joins_after = it != ranges_.end() && it->first == seq + 1;
  if (joins_before && joins_after) {
    std::prev(it)->second = it->second;
    ranges_.erase(it);
  } else if (joins_before) {
    std::prev(it)->second = seq;
  } else if (joins_after) {
    it->first = seq;
  } else {
    ranges_.insert(it, {seq, seq});
  }
}

uint64_t ExportedRanges::last() const {
  return ranges_.empty() ? 0 : ranges_.back().second;
}

std::string ExportedRanges::serialize() const {
  std::string out = fmt::format("dxs-export 1\nmain {}\n", main_head_);
  for (const auto& [lo, hi] : ranges_) out += fmt::format("exported {} {}\n", lo, hi);
  return out;
}

Result<ExportedRanges> ExportedRanges::parse(std::string_view text) {
  ExportedRanges r;
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) return Status::error(EINVAL, "truncated");
    const std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    unsigned long long a = 0, b = 0;
    char tail = 0;
    if (line_no++ == 0) {
      if (line != "dxs-export 1") return Status::error(EINVAL, "not an export state: " + line);
    } else if (std::sscanf(line.c_str(), "main %llu%c", &a, &tail) == 1) {
      r.main_head_ = a;
    } else if (std::sscanf(line.c_str(), "exported %llu %llu%c", &a, &b, &tail) == 2 && a <= b &&
               a > r.last() && (r.ranges_.empty() || a > r.last() + 1)) {
      r.ranges_.emplace_back(a, b);
    } else {
      return Status::error(EINVAL, "bad line: " + line);
    }
  }
  if (line_no == 0) return Status::error(EINVAL, "empty");
  return r;
}

Result<std::string> find_mark(const std::string& marks_path, uint64_t seq) {
  FILE* f = std::fopen(marks_path.c_str(), "rb");
  if (!f) return Status::error(ENOENT, marks_path);
  const std::string prefix = fmt::format(":{} ", seq);
  std::fseek(f, 0, SEEK_END);
  long end = std::ftell(f);
  std::string tail;  // the start of the line that began before the block read last
  constexpr long kBlock = 1 << 16;
  while (end > 0) {
    const long start = end > kBlock ? end - kBlock : 0;
    std::string block(static_cast<size_t>(end - start), '\0');
    std::fseek(f, start, SEEK_SET);
    if (std::fread(block.data(), 1, block.size(), f) != block.size()) break;
    block += tail;
    // Whole lines of this block, last first; the first may continue in the next block.
    size_t line_end = block.size();
    while (true) {
      const size_t nl = line_end == 0 ? std::string::npos : block.rfind('\n', line_end - 1);
      const size_t line_start = nl == std::string::npos ? 0 : nl + 1;
      if (nl == std::string::npos && start > 0) {
        tail = block.substr(0, line_end);
        break;
      }
      const std::string_view line(block.data() + line_start, line_end - line_start);
      if (line.starts_with(prefix)) {
        std::fclose(f);
        return std::string(line.substr(prefix.size()));
      }
      if (nl == std::string::npos) break;
      line_end = nl;
    }
    end = start;
  }
  std::fclose(f);
  return Status::error(ENOENT, fmt::format("no mark :{} in {}", seq, marks_path));
}

GitExport::GitExport(ExportedRanges exported, TreeReader read_tree, Sink sink,
                     EarlierCommit earlier)
    : exported_(std::move(exported)),
      read_tree_(std::move(read_tree)),
      sink_(std::move(sink)),
      earlier_(std::move(earlier)) {}

Result<std::string> GitExport::commitish(uint64_t seq) {
  if (written_.contains(seq)) return fmt::format(":{}", seq);
  Result<std::string> id = earlier_(seq);
  // Not ENOENT, which would say the store lacks a tree: the repository lacks a commit.
  if (!id) return Status::error(EIO, fmt::format("commit {}: {}", seq, id.status().to_string()));
  return id;
}

void GitExport::wrote(uint64_t seq) {
  exported_.add(seq);
  written_.add(seq);
}

Status GitExport::begin() {
  return sink_("feature done\n");
}

Status GitExport::write_header(const std::string& ref, uint64_t mark, const pb::CommitView& c,
                               const std::string& message) {
  const GitIdent who = git_ident(c.author());
  const std::string sig = fmt::format("{} <{}> {}\n", who.name, who.email, time_text(c.time_ns()));
  return sink_(fmt::format("commit {}\nmark :{}\nauthor {}committer {}", ref, mark, sig, sig) +
               data_block(message));
}

Status GitExport::write_tree_commit(uint64_t seq, const std::string& ref, uint64_t parent,
                                    std::string_view why) {
  const pb::CommitView of = read_tree_.commit(seq);
  pb::CommitView c;
  c.set_seq(seq);
  c.set_on_main(true);
  c.set_time_ns(of.time_ns());
  c.mutable_author()->set_kind(pb::CommitAuthor::STORE);
  c.set_summary(fmt::format("dxs: the tree at commit {}", seq));
  std::vector<std::string> extra = {"snapshot: " + std::string(why)};
  if (!of.summary().empty()) extra.push_back(fmt::format("commit {}: {}", seq, of.summary()));
  // Not the commit's own author: the snapshot is the exporter's.
  const std::string sig = fmt::format("dxs-export <export@dxs> {}\n", time_text(c.time_ns()));
  // Held until the first node comes, so that a tree the store no longer has writes nothing.
  std::string head = parent == 0 ? "reset " + ref + "\n" : "";
  head += fmt::format("commit {}\nmark :{}\nauthor {}committer {}", ref, seq, sig, sig) +
          data_block(commit_message(c, extra));
  if (parent != 0) {
    Result<std::string> p = commitish(parent);
    if (!p) return p.status();
    head += "from " + *p + "\n";
  }
  head += "deleteall\n";
  Status s = read_tree_.nodes(seq, [&](const pb::AtNode& n) -> Status {
    if (!head.empty()) {
      DXS_RETURN_IF_ERROR(sink_(head));
      head.clear();
    }
    if (is_special_path(n.path()) || !n.state().exists()) return Status::ok();
    return sink_("M 100644 inline " + node_file(n.path()) + "\n" +
                 data_block(node_file_content(n.state())));
  });
  if (!s.is_ok()) {
    if (head.empty()) broken_ = true;
    return s;
  }
  if (!head.empty()) {
    return Status::error(EIO, fmt::format("the tree at commit {} has no nodes", seq));
  }
  ++commits_;
  return Status::ok();
}

Status GitExport::snapshot_on_main(uint64_t seq) {
  const uint64_t parent = exported_.main_head();
  const std::string why =
      parent == 0 ? "the commits before it are not in this repository"
                  : fmt::format("the commits after {} up to it were gone before they were exported",
                                parent);
  if (Status s = write_tree_commit(seq, kMain, parent, why); !s) {
    return Status::error(s.err(), fmt::format("the tree at commit {}: {}", seq, s.to_string()));
  }
  wrote(seq);
  exported_.set_main_head(seq);
  return Status::ok();
}

Status GitExport::add(const pb::CommitView& c) {
  if (broken_) return Status::error(EIO, "the stream broke off");
  if (c.seq() == 0) return Status::error(EINVAL, "a commit without a sequence number");
  if (exported_.contains(c.seq())) return Status::ok();  // sent again: it is here already
  std::vector<std::string> extra;
  uint64_t from = 0;
  uint64_t merge = 0;
  std::string ref = kMain;
  if (c.on_main()) {
    if (c.parents_size() > 0) {
      from = c.parents(0);
      if (!exported_.contains(from)) {
        Status s = snapshot_on_main(from);
        // The parent is before the retention horizon (an export from the start of a
        // pruned history): the tree at this commit stands for it.
        if (!s && s.err() == ENOENT && !broken_) return snapshot_on_main(c.seq());
        DXS_RETURN_IF_ERROR(s);
      }
    }
    if (c.parents_size() > 1) {
      if (exported_.contains(c.parents(1)))
        merge = c.parents(1);
      else
        extra.push_back(
            fmt::format("merged: branch commit {}, not in this repository", c.parents(1)));
    }
  } else {
    ref = kBranchRef;
    used_branch_ref_ = true;
    const uint64_t base = c.parents_size() > 0 ? c.parents(0) : 0;
    if (base != 0 && exported_.contains(base)) {
      from = base;
    } else if (base != 0) {
      Status s = write_tree_commit(
          base, kSnapshotRef, 0,
          fmt::format("the base of branch commit {}, from before this repository", c.seq()));
      if (s) {
        used_snapshot_ref_ = true;
        wrote(base);
        from = base;
      } else if (broken_ || s.err() != ENOENT) {
        return s;
      } else {
        from = exported_.main_head();
        extra.push_back(
            fmt::format("base: commit {}, gone from the store; shown on top of {}", base, from));
      }
    }
  }
  std::string head;
  if (from == 0) head += "reset " + ref + "\n";
  DXS_RETURN_IF_ERROR(sink_(head));
  DXS_RETURN_IF_ERROR(write_header(ref, c.seq(), c, commit_message(c, extra)));
  std::string out;
  if (from != 0) {
    Result<std::string> p = commitish(from);
    if (!p) return p.status();
    out += "from " + *p + "\n";
  }
  if (merge != 0) {
    Result<std::string> p = commitish(merge);
    if (!p) return p.status();
    out += "merge " + *p + "\n";
  }
  // Removals first: a node removed takes its subtree with it, and nothing the commit
  // writes can be below it, but the order makes that hold whatever the change set's.
  for (const pb::NodeChange& ch : c.changes()) {
    if (is_special_path(ch.path())) continue;
    if (ch.kind() == pb::Change::DELETED || !ch.after().exists()) {
      out += "D " + node_file(ch.path()) + "\n";
      const std::string dir = node_dir(ch.path());
      if (!dir.empty()) out += "D " + dir + "\n";
    }
  }
  DXS_RETURN_IF_ERROR(sink_(out));
  for (const pb::NodeChange& ch : c.changes()) {
    if (is_special_path(ch.path())) continue;
    if (ch.kind() == pb::Change::DELETED || !ch.after().exists()) continue;
    DXS_RETURN_IF_ERROR(sink_("M 100644 inline " + node_file(ch.path()) + "\n" +
                              data_block(node_file_content(ch.after()))));
  }
  wrote(c.seq());
  if (c.on_main()) exported_.set_main_head(c.seq());
  ++commits_;
  return Status::ok();
}

Status GitExport::finish() {
  std::string out;
  if (used_branch_ref_) out += std::string("reset ") + kBranchRef + "\n";
  if (used_snapshot_ref_) out += std::string("reset ") + kSnapshotRef + "\n";
  return sink_(out + "done\n");
}

}  // namespace dxs::ctl
