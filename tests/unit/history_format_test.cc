// dxsctl's history output and the references an operator types (dxsctl/history_format.h):
// times in local time as git reads them, commit numbers and HEAD, values for people
// (private ones by digest) and --json that keeps every byte.
#include "dxsctl/history_format.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>

using namespace dxs;
using namespace dxs::ctl;

namespace {

// Every case in one zone with a daylight-saving change, so local time is not UTC.
struct LocalZone {
  LocalZone() {
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
  }
};

constexpr int64_t kSecond = 1000000000;

}  // namespace

TEST_CASE("times: local dates and times, today's time, epoch seconds, fractions") {
  LocalZone zone;
  // 2026-12-01 12:03:05 in Berlin (CET, UTC+1) is 11:03:05 UTC.
  const int64_t t = int64_t{1796122985} * kSecond;
  CHECK(parse_time("2026-12-01 12:03:05") == t);
  CHECK(parse_time("2026-12-01T12:03:05") == t);
  CHECK(parse_time("2026-12-01T12:03:05.25") == t + kSecond / 4);
  CHECK(parse_time("2026-12-01") == t - (12 * 3600 + 3 * 60 + 5) * kSecond);
  // Summer time: 2026-07-01 12:00:00 CEST is 10:00:00 UTC.
  CHECK(parse_time("2026-07-01 12:00:00") == int64_t{1782900000} * kSecond);
  CHECK(parse_time("@1796122985") == t);
  CHECK(parse_time("@1796122985.000000001") == t + 1);
  // A time alone is today's.
  const std::optional<int64_t> noon = parse_time("12:00:00");
  REQUIRE(noon);
  const time_t secs = static_cast<time_t>(*noon / kSecond);
  struct tm tm;
  localtime_r(&secs, &tm);
  const time_t now = time(nullptr);
  struct tm today;
  localtime_r(&now, &today);
  CHECK(tm.tm_hour == 12);
  CHECK(tm.tm_mday == today.tm_mday);
  for (const char* bad : {"", "yesterday", "2026-12-01 12:03", "2026-12-01 12:03:05x", "12:03:05.",
                          "@", "@12a", "2026-13-01"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_time(bad));
  }
  CHECK(format_time(t + 5 * kSecond / 1000) == "2026-12-01 12:03:05.005");
}

TEST_CASE("commit references: HEAD, a number, a time") {
  LocalZone zone;
  std::optional<pb::CommitRef> r = parse_commit_ref("HEAD");
  REQUIRE(r);
  CHECK(r->head());
  r = parse_commit_ref("363");
  REQUIRE(r);
  CHECK(r->seq() == 363);
  r = parse_commit_ref("@10");
  REQUIRE(r);
  CHECK(r->time_ns() == 10 * kSecond);
  CHECK_FALSE(parse_commit_ref("99999999999999999999999"));
  CHECK_FALSE(parse_commit_ref("HEAD~1"));
}

TEST_CASE("node states for people: escaped values, private ones by digest, absent or unknown") {
  pb::NodeState s;
  s.set_exists(true);
  s.set_value(std::string("a\n\0b", 4));
  s.add_perms("n0");
  s.add_perms("r7");
  s.set_version(5);
  CHECK(state_text(s) == "\"a\\x0a\\x00b\" [n0 r7]");
  s.set_redacted(true);
  s.clear_value();
  s.set_value_digest(std::string("\x1a\x2b\x3c\x4d\x5e\x6f", 6));
  CHECK(state_text(s) == "<private, digest 1a2b3c4d> [n0 r7]");
  CHECK(json_state(s) ==
        "{\"exists\": true, \"redacted\": true, \"value_digest\": \"1a2b3c4d5e6f\", \"perms\": "
        "[\"n0\", \"r7\"], \"version\": 5}");
  pb::NodeState none;
  CHECK(state_text(none) == "(absent)");
  CHECK(json_state(none) == "{\"exists\": false, \"version\": 0}");
}

TEST_CASE("a commit as a log line, whole, and as JSON") {
  LocalZone zone;
  pb::CommitView c;
  c.set_seq(42);
  c.add_parents(41);
  c.set_on_main(true);
  c.set_time_ns(int64_t{1796122985} * kSecond);
  c.set_summary("dom0: write /local/domain/7/name = vm7");
  c.mutable_author()->set_kind(pb::CommitAuthor::SOCKET);
  c.mutable_author()->set_pid(812);
  c.mutable_author()->set_command("xl");
  pb::NodeChange* ch = c.add_changes();
  ch->set_path("/local/domain/7/name");
  ch->set_kind(pb::Change::MODIFIED);
  ch->mutable_before()->set_exists(true);
  ch->mutable_before()->set_value("vm6");
  ch->mutable_before()->add_perms("n0");
  ch->mutable_after()->set_exists(true);
  ch->mutable_after()->set_value("vm7");
  ch->mutable_after()->add_perms("n0");
  CHECK(log_line(c) ==
        "    42 2026-12-01 12:03:05.000 socket pid 812 uid 0 xl  dom0: write "
        "/local/domain/7/name = vm7");
  const std::string whole = commit_text(c);
  CHECK(whole.find("commit 42 (parent 41)\n") == 0);
  CHECK(whole.find("Author: SOCKET, domain 0, pid 812, uid 0, command xl") != std::string::npos);
  CHECK(whole.find("M /local/domain/7/name\n  - \"vm6\" [n0]\n  + \"vm7\" [n0]\n") !=
        std::string::npos);
  const std::string json = json_commit(c);
  CHECK(json.find("\"seq\": 42, \"parents\": [41], \"on_main\": true") != std::string::npos);
  CHECK(json.find("\"command\": \"xl\"") != std::string::npos);
  CHECK(json.find("\"kind\": \"MODIFIED\"") != std::string::npos);
}
