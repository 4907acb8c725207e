// Start-up plumbing shared by the binaries: options, the configuration file, the log
// level, and failing with a clear message.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/result.h"
#include "common/settings.h"

namespace dxs {

class Cli {
 public:
  // `usage`, followed by the configuration keys of `settings`, is printed by --help (to
  // stdout, exit 0) and after a wrong option (stderr, 2); --print-config prints the keys
  // as a configuration file shows them.
  Cli(std::string program, const char* usage, const Settings& settings);

  // Parses "--name VALUE" for each of `values`' names, "--flag" for each of `flags`
  // (which sets values[flag] to "yes"), and --help. Options not given keep the values
  // already in `values` (the defaults).
  void parse(int argc, char** argv, std::map<std::string, std::string>& values,
             const std::set<std::string>& flags = {}) const;

  [[noreturn]] void fail(const std::string& message) const;

  template <typename T>
  T must(Result<T> r, std::string_view what) const {
    if (!r) fail(std::string(what) + ": " + r.status().to_string());
    return std::move(r.value());
  }

  // `file` if not empty, else /etc/dxs/dxs.conf if it exists, else no configuration;
  // checked against the settings' keys, skipping those of the other binary.
  Config load_config(const std::string& file, const std::set<std::string>& skipped_prefixes) const;

  // --log-level if given, else the configuration's log.level, else info.
  LogLevel log_level(const std::string& option, const Config& config) const;

 private:
  std::string program_;
  std::string usage_;
  const Settings& settings_;
};

}  // namespace dxs
