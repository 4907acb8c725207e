// Settings: every configuration key a binary reads, declared once, with its default,
// its range and what it does. The binary reads its values through the declaration, so
// a default is written in one place; --help lists the keys from it; the configuration
// file is checked against it (an unknown key is an error); and --print-config prints
// the keys in the form of deploy/dxs.conf.example, which a test holds against both
// binaries (tests/integration/config_docs.py).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/result.h"

namespace dxs {

struct Setting {
  enum class Type { kBool, kInt, kString };
  std::string key;  // "store.spin-us"
  Type type = Type::kString;
  std::string default_value;  // as written in a file; "" for none
  int64_t min = 0;            // kInt only
  int64_t max = 0;
  std::string help;  // what it does; lines separated by '\n'
};

class Settings {
 public:
  // `section` names the binary in --print-config ("dxs-store"). log.level, which both
  // binaries read, is added to every table.
  Settings(std::string section, std::vector<Setting> settings);

  std::set<std::string> keys() const;
  // "  key = default   first line of help", one line per key, for --help.
  std::string help_text() const;
  // The keys as a configuration file shows them, commented out, under a section line.
  std::string example() const;

  // The value of a declared key in config, else its default. REQUIRES: key declared
  // with that type (a programming error otherwise, which aborts).
  Result<int64_t> get_int(const Config& config, std::string_view key) const;
  Result<bool> get_bool(const Config& config, std::string_view key) const;
  std::string get_string(const Config& config, std::string_view key) const;

 private:
  const Setting& find(std::string_view key, Setting::Type type) const;

  std::string section_;
  std::vector<Setting> settings_;
};

}  // namespace dxs
