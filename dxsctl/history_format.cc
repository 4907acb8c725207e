#include "dxsctl/history_format.h"

#include <fmt/format.h>
#include <time.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "dxsctl/output.h"

namespace dxs::ctl {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// ".25" -> 250000000 ns; false unless it is a dot and 1 to 9 digits.
bool parse_fraction(std::string_view s, int64_t* ns) {
  *ns = 0;
  if (s.empty()) return true;
  if (s[0] != '.' || s.size() < 2 || s.size() > 10 || !all_digits(s.substr(1))) return false;
  int64_t scale = 100000000;
  for (char c : s.substr(1)) {
    *ns += (c - '0') * scale;
    scale /= 10;
  }
  return true;
}

// The part of `text` that strptime's `format` reads; false unless all but a fraction is.
bool parse_local(std::string_view text, const char* format, struct tm* tm, int64_t* frac_ns) {
  const std::string s(text);
  const char* end = strptime(s.c_str(), format, tm);
  if (!end) return false;
  return parse_fraction(std::string_view(end), frac_ns);
}

const char* kind_letter(pb::Change::Kind k) {
  switch (k) {
    case pb::Change::CREATED:
      return "A";
    case pb::Change::MODIFIED:
      return "M";
    case pb::Change::DELETED:
      return "D";
    case pb::Change::PERMS:
      return "P";
    default:
      return "?";
  }
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string perms_text(const pb::NodeState& s) {
  std::string out;
  for (const std::string& p : s.perms()) out += (out.empty() ? "" : " ") + printable(p);
  return out;
}

std::string json_strings(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::string out = "[";
  for (int i = 0; i < v.size(); ++i) out += (i ? ", " : "") + json_string(v[i]);
  return out + "]";
}

}  // namespace

std::optional<pb::CommitRef> parse_commit_ref(std::string_view text) {
  pb::CommitRef ref;
  if (text == "HEAD" || text == "head") {
    ref.set_head(true);
    return ref;
  }
  if (all_digits(text)) {
    uint64_t seq = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    ref.set_seq(seq);
    return ref;
  }
  std::optional<int64_t> t = parse_time(text);
  if (!t) return std::nullopt;
  ref.set_time_ns(*t);
  return ref;
}

std::optional<int64_t> parse_time(std::string_view text) {
  int64_t frac = 0;
  if (!text.empty() && text[0] == '@') {
    std::string_view rest = text.substr(1);
    const size_t dot = rest.find('.');
    std::string_view whole = rest.substr(0, dot);
    if (!all_digits(whole)) return std::nullopt;
    if (dot != std::string_view::npos && !parse_fraction(rest.substr(dot), &frac))
      return std::nullopt;
    int64_t secs = 0;
    auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
    if (ec != std::errc() || secs > INT64_MAX / 1000000000 - 1) return std::nullopt;
    return secs * 1000000000 + frac;
  }
  struct tm tm;
  bool ok = false;
  for (const char* format : {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"}) {
    std::memset(&tm, 0, sizeof tm);
    if (parse_local(text, format, &tm, &frac)) {
      ok = true;
      break;
    }
  }
  if (!ok) {
    std::memset(&tm, 0, sizeof tm);
    frac = 0;
    const std::string s(text);
    const char* end = strptime(s.c_str(), "%Y-%m-%d", &tm);
    ok = end && *end == '\0';
  }
  if (!ok) {
    std::memset(&tm, 0, sizeof tm);
    if (parse_local(text, "%H:%M:%S", &tm, &frac)) {
      const time_t now = time(nullptr);
      struct tm today;
      localtime_r(&now, &today);
      tm.tm_year = today.tm_year;
      tm.tm_mon = today.tm_mon;
      tm.tm_mday = today.tm_mday;
      ok = true;
    }
  }
  if (!ok) return std::nullopt;
  tm.tm_isdst = -1;
  const time_t secs = mktime(&tm);
  if (secs == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(secs) * 1000000000 + frac;
}

std::string format_time(int64_t time_ns) {
  const time_t secs = static_cast<time_t>(time_ns / 1000000000);
  struct tm tm;
  localtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:03}", buf, (time_ns % 1000000000) / 1000000);
}

std::string author_text(const pb::CommitAuthor& a) {
  switch (a.kind()) {
    case pb::CommitAuthor::SOCKET: {
      std::string out = "socket";
      if (a.pid() >= 0) out += fmt::format(" pid {}", a.pid());
      out += fmt::format(" uid {}", a.uid());
      if (!a.command().empty()) out += " " + printable(a.command());
      return out;
    }
    case pb::CommitAuthor::RING:
      return fmt::format("ring of dom{}", a.domid());
    case pb::CommitAuthor::OPS:
      return a.identity().empty() ? "ops" : "ops " + printable(a.identity());
    case pb::CommitAuthor::STORE:
      return "dxs-store";
    default:
      return "unknown";
  }
}

std::string state_text(const pb::NodeState& s) {
  if (!s.exists()) return s.version() == 0 ? "(absent)" : "(unknown)";
  std::string value = s.redacted()
                          ? fmt::format("<private, digest {}>", hex(s.value_digest()).substr(0, 8))
                          : "\"" + printable(s.value()) + "\"";
  return value + " [" + perms_text(s) + "]";
}

std::string log_line(const pb::CommitView& c) {
  return fmt::format("{:>6} {} {}{}  {}", c.seq(), format_time(c.time_ns()),
                     author_text(c.author()), c.on_main() ? "" : " (branch)",
                     printable(c.summary()));
}

std::string change_text(const pb::NodeChange& ch) {
  std::string out = fmt::format("{} {}\n", kind_letter(ch.kind()), printable(ch.path()));
  // Before a creation there was no node, after a removal there is none: nothing to show.
  if (ch.kind() != pb::Change::CREATED) out += "  - " + state_text(ch.before()) + "\n";
  if (ch.kind() != pb::Change::DELETED) out += "  + " + state_text(ch.after()) + "\n";
  return out;
}

std::string commit_text(const pb::CommitView& c) {
  std::string out = fmt::format("commit {}{}", c.seq(), c.on_main() ? "" : " (branch)");
  if (c.parents_size() > 0) {
    out += c.parents_size() > 1 ? " (merge of" : " (parent";
    for (uint64_t p : c.parents()) out += fmt::format(" {}", p);
    out += ")";
  }
  out += "\n";
  const pb::CommitAuthor& a = c.author();
  out += fmt::format("Author: {}, domain {}", pb::CommitAuthor::Kind_Name(a.kind()), a.domid());
  if (a.kind() == pb::CommitAuthor::SOCKET) {
    out += fmt::format(", pid {}, uid {}", a.pid(), a.uid());
    if (!a.command().empty()) out += ", command " + printable(a.command());
  }
  if (!a.identity().empty()) out += ", identity " + printable(a.identity());
  if (c.conn() != 0) out += fmt::format(" (connection {})", c.conn());
  out += "\nDate:   " + format_time(c.time_ns()) + "\n";
  if (c.tx_id() != 0) out += fmt::format("Transaction: {}\n", c.tx_id());
  out += "\n    " + printable(c.summary()) + "\n";
  if (!c.note().empty()) out += "    " + printable(c.note()) + "\n";
  if (c.changes_size() > 0 || c.state_size() > 0) out += "\n";
  for (const pb::NodeChange& ch : c.changes()) out += change_text(ch);
  for (const pb::StateChange& sc : c.state()) {
    out += fmt::format("S {}\n  - {}\n  + {}\n", printable(sc.key()),
                       sc.has_before() ? printable(sc.before()) : "(none)",
                       sc.has_after() ? printable(sc.after()) : "(none)");
  }
  return out;
}

std::string json_state(const pb::NodeState& s) {
  std::string out = fmt::format("{{\"exists\": {}", s.exists() ? "true" : "false");
  if (s.exists()) {
    if (s.redacted()) {
      out += ", \"redacted\": true, \"value_digest\": \"" + hex(s.value_digest()) + "\"";
    } else {
      out += ", \"value\": " + json_string(s.value());
    }
    out += ", \"perms\": " + json_strings(s.perms());
  }
  return out + fmt::format(", \"version\": {}}}", s.version());
}

std::string json_change(const pb::NodeChange& ch) {
  return fmt::format("{{\"path\": {}, \"kind\": \"{}\", \"before\": {}, \"after\": {}}}",
                     json_string(ch.path()), pb::Change::Kind_Name(ch.kind()),
                     json_state(ch.before()), json_state(ch.after()));
}

std::string json_commit(const pb::CommitView& c) {
  std::string parents;
  for (uint64_t p : c.parents()) parents += (parents.empty() ? "" : ", ") + std::to_string(p);
  const pb::CommitAuthor& a = c.author();
  std::string out = fmt::format(
      "{{\"seq\": {}, \"parents\": [{}], \"on_main\": {}, \"time_ns\": {}, \"time\": {}, "
      "\"summary\": {}, \"note\": {}, \"author\": {{\"kind\": \"{}\", \"domid\": {}, \"pid\": {}, "
      "\"uid\": {}, \"command\": {}, \"identity\": {}}}, \"conn\": {}, \"req_id\": {}, "
      "\"tx_id\": {}",
      c.seq(), parents, c.on_main() ? "true" : "false", c.time_ns(),
      json_string(format_time(c.time_ns())), json_string(c.summary()), json_string(c.note()),
      pb::CommitAuthor::Kind_Name(a.kind()), a.domid(), a.pid(), a.uid(), json_string(a.command()),
      json_string(a.identity()), c.conn(), c.req_id(), c.tx_id());
  if (c.changes_size() > 0 || c.state_size() > 0) {
    out += ", \"changes\": [";
    for (int i = 0; i < c.changes_size(); ++i) out += (i ? ", " : "") + json_change(c.changes(i));
    out += "], \"state\": [";
    for (int i = 0; i < c.state_size(); ++i) {
      const pb::StateChange& sc = c.state(i);
      out += fmt::format("{}{{\"key\": {}, \"before\": {}, \"after\": {}}}", i ? ", " : "",
                         json_string(sc.key()), sc.has_before() ? json_string(sc.before()) : "null",
                         sc.has_after() ? json_string(sc.after()) : "null");
    }
    out += "]";
  }
  return out + "}";
}

}  // namespace dxs::ctl
