// How dxsctl shows history (the History API's CommitViews and node states): one line per
// commit for logs, a header and a diff for a commit whole, and --json objects (one per
// line for streams) that keep every byte of values and names. And the commit references
// an operator types: a number, HEAD, or a local time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proto/history.pb.h"

namespace dxs::ctl {

// "HEAD", a commit number, or a time (parse_time). nullopt if it is none of them.
std::optional<pb::CommitRef> parse_commit_ref(std::string_view text);
// A time as CLOCK_REALTIME nanoseconds: "2026-12-01 12:03:05", "2026-12-01T12:03:05",
// "2026-12-01" (midnight), "12:03:05" (today), each in local time as git reads dates,
// with an optional fraction of a second ("12:03:05.25"); or "@<epoch seconds>[.frac]".
std::optional<int64_t> parse_time(std::string_view text);

// "2026-12-01 12:03:05.123", local time.
std::string format_time(int64_t time_ns);
// Who made a commit, in a few words: "socket pid 812 uid 0 xenstore-write", "ring",
// "ops uid 1000", "dxs-store".
std::string author_text(const pb::CommitAuthor& author);
// A node state's value for people: "\"vm7\"" (escaped), "<private, digest 1a2b3c4d>"
// for a redacted one, "(absent)" or "(unknown)" for no node.
std::string state_text(const pb::NodeState& state);
// One line: seq, time, author, summary.
std::string log_line(const pb::CommitView& c);
// A change as a few diff lines ("M /path", "- before", "+ after").
std::string change_text(const pb::NodeChange& change);
// The header of a commit and, if the view has them, its changes.
std::string commit_text(const pb::CommitView& c);

std::string json_state(const pb::NodeState& state);
std::string json_change(const pb::NodeChange& change);
// A commit as one JSON object (its changes and state changes if it has them).
std::string json_commit(const pb::CommitView& c);

}  // namespace dxs::ctl
