// Logging. Components take a Logger& (as LevelDB's Options::info_log) instead of writing
// to a global, so tests can capture and assert what a component logged.
#pragma once

#include <fmt/format.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dxs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning" or "error".
bool parse_log_level(std::string_view s, LogLevel& out);

class Logger {
 public:
  explicit Logger(LogLevel min_level = LogLevel::kInfo) : min_level_(min_level) {}
  virtual ~Logger() = default;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(LogLevel level) const { return level >= min_level_; }
  void set_level(LogLevel level) { min_level_ = level; }

  template <typename... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::kDebug, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::kInfo, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::kWarning, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::kError, f, std::forward<Args>(args)...);
  }

 protected:
  // Called only for enabled levels. Must be thread-safe.
  virtual void write(LogLevel level, std::string_view message) = 0;

 private:
  template <typename... Args>
  void log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level)) write(level, fmt::format(f, std::forward<Args>(args)...));
  }

  LogLevel min_level_;
};

// Writes to stderr: "<N>message" lines for journald when running under systemd
// (JOURNAL_STREAM set), "time name L: message" otherwise.
class StderrLogger final : public Logger {
 public:
  StderrLogger(std::string name, LogLevel min_level);

 protected:
  void write(LogLevel level, std::string_view message) override;

 private:
  std::string name_;
  bool journal_;
  std::mutex mu_;
};

// Keeps every line in memory; for tests.
class CapturingLogger final : public Logger {
 public:
  explicit CapturingLogger(LogLevel min_level = LogLevel::kDebug) : Logger(min_level) {}
  std::vector<std::string> lines() const;
  // True if some line contains every one of `parts`.
  bool contains(std::initializer_list<std::string_view> parts) const;
  void clear();

 protected:
  void write(LogLevel level, std::string_view message) override;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace dxs
