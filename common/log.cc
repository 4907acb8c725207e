#include "common/log.h"

#include <sys/time.h>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace dxs {

bool parse_log_level(std::string_view s, LogLevel& out) {
  if (s == "debug")
    out = LogLevel::kDebug;
  else if (s == "info")
    out = LogLevel::kInfo;
  else if (s == "warning" || s == "warn")
    out = LogLevel::kWarning;
  else if (s == "error")
    out = LogLevel::kError;
  else
    return false;
  return true;
}

StderrLogger::StderrLogger(std::string name, LogLevel min_level)
    : Logger(min_level),
      name_(std::move(name)),
      journal_(std::getenv("JOURNAL_STREAM") != nullptr) {}

void StderrLogger::write(LogLevel level, std::string_view message) {
  std::string line;
  if (journal_) {
    // sd-daemon(3) priority prefixes: 7 debug, 6 info, 4 warning, 3 error.
    static constexpr int kPriority[] = {7, 6, 4, 3};
    line = fmt::format("<{}>{}\n", kPriority[static_cast<int>(level)], message);
  } else {
    static constexpr char kLetter[] = {'D', 'I', 'W', 'E'};
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    line = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} {} {}: {}\n", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       tv.tv_usec / 1000, name_, kLetter[static_cast<int>(level)], message);
  }
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void CapturingLogger::write(LogLevel, std::string_view message) {
  std::lock_guard lock(mu_);
  lines_.emplace_back(message);
}

std::vector<std::string> CapturingLogger::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

bool CapturingLogger::contains(std::initializer_list<std::string_view> parts) const {
  std::lock_guard lock(mu_);
  for (const auto& line : lines_) {
    bool all = true;
    for (auto p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

void CapturingLogger::clear() {
  std::lock_guard lock(mu_);
  lines_.clear();
}

}  // namespace dxs
