// store/refusal_log: what a hostile guest's refusals put into dom0's log.
#include "store/refusal_log.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "common/log.h"

using dxs::CapturingLogger;
using dxs::LogLevel;
using dxs::store::RefusalLog;

namespace {

RefusalLog::Clock::time_point fake_now;
RefusalLog::Clock::time_point now() {
  return fake_now;
}

size_t lines_with(const CapturingLogger& log, std::string_view part) {
  size_t n = 0;
  for (const auto& l : log.lines()) n += l.find(part) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("a refusal names the domain, the request, the errno and the running count") {
  CapturingLogger log;
  RefusalLog refusals(log, now);
  refusals.refused(LogLevel::kInfo, 7, "WRITE", EACCES, "/local/domain/3/secret");
  refusals.refused(LogLevel::kInfo, 7, "READ", EINVAL, "");
  CHECK(log.contains({"dom7 WRITE: EACCES (refusal 1): /local/domain/3/secret"}));
  CHECK(log.contains({"dom7 READ: EINVAL (refusal 2)"}));
  CHECK(refusals.count(7) == 2);
  CHECK(refusals.count(8) == 0);
}

TEST_CASE("guest bytes are cut short and escaped") {
  CapturingLogger log;
  RefusalLog refusals(log, now);
  const std::string detail = std::string("a\nb\0c", 5) + std::string(10000, 'x');
  refusals.refused(LogLevel::kInfo, 7, "WRITE", EINVAL, detail);
  REQUIRE(log.lines().size() == 1);
  const std::string line = log.lines()[0];
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\0') == std::string::npos);
  CHECK(line.find("a\\x0ab\\x00c") != std::string::npos);
  CHECK(line.find("(10005 bytes)") != std::string::npos);
  CHECK(line.size() < 2 * RefusalLog::kDetailMax);
}

TEST_CASE("a flooding domain gets a burst, then a line a second with what was not logged") {
  CapturingLogger log;
  RefusalLog refusals(log, now);
  for (int i = 0; i < 1000; ++i) refusals.refused(LogLevel::kInfo, 7, "WRITE", EACCES, "flood");
  CHECK(log.lines().size() == static_cast<size_t>(RefusalLog::kBurst));
  CHECK(refusals.count(7) == 1000);  // counted, logged or not
  // Another domain is not held up by the flooder.
  refusals.refused(LogLevel::kInfo, 8, "READ", EACCES, "victim");
  CHECK(log.contains({"dom8 READ: EACCES (refusal 1): victim"}));

  fake_now += RefusalLog::kRefill;
  refusals.refused(LogLevel::kInfo, 7, "WRITE", EACCES, "flood");
  CHECK(log.contains(
      {"dom7 WRITE: EACCES (refusal 1001): flood", "980 lines about this domain not logged"}));
  refusals.refused(LogLevel::kInfo, 7, "WRITE", EACCES, "flood");
  CHECK(lines_with(log, "(refusal 1002)") == 0);  // the allowance is spent again
}

TEST_CASE("routine lines at debug never use up the allowance of the others") {
  CapturingLogger log(LogLevel::kDebug);
  RefusalLog refusals(log, now);
  for (int i = 0; i < 500; ++i) refusals.refused(LogLevel::kDebug, 7, "READ", ENOENT, "absent");
  refusals.note(LogLevel::kWarning, 7, "quota: dom7 hit nodes (limit 1000): creating /x");
  CHECK(log.contains({"quota: dom7 hit nodes"}));
  CHECK(lines_with(log, "ENOENT") == static_cast<size_t>(RefusalLog::kBurst));
}

TEST_CASE("lines of a level the logger does not print are counted but never take allowance") {
  CapturingLogger log(LogLevel::kInfo);
  RefusalLog refusals(log, now);
  for (int i = 0; i < 100; ++i) refusals.refused(LogLevel::kDebug, 7, "READ", ENOENT, "");
  CHECK(log.lines().empty());
  CHECK(refusals.count(7) == 100);
  log.set_level(LogLevel::kDebug);
  refusals.refused(LogLevel::kDebug, 7, "READ", ENOENT, "");
  CHECK(log.contains({"(refusal 101)"}));
  CHECK(lines_with(log, "not logged") == 0);
}
