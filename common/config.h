// Configuration files: "key = value" lines; '#' starts a comment; blank lines ignored.
// Keys are dotted names (quota.nodes, store.sync). Unknown keys are an error, so a typo
// never silently leaves a default in place: each binary declares the keys it accepts,
// and the prefixes of the other binary's keys it skips (one file serves the pair).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dxs {

class Config {
 public:
  // Parses text; EINVAL with "file:line: reason" on a syntax error or an unknown key.
  static Result<Config> parse(std::string_view text, std::string_view origin,
                              const std::set<std::string>& known_keys,
                              const std::set<std::string>& skipped_prefixes = {});
  static Result<Config> load(const std::string& file, const std::set<std::string>& known_keys,
                             const std::set<std::string>& skipped_prefixes = {});

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::string get_string(const std::string& key, std::string_view fallback) const;
  // EINVAL if present but not a number in range.
  Result<int64_t> get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  Result<bool> get_bool(const std::string& key, bool fallback) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Parses a decimal integer in [min, max] with nothing else around it.
bool parse_int(std::string_view s, int64_t min, int64_t max, int64_t& out);

}  // namespace dxs
