#include "common/settings.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace dxs {

Settings::Settings(std::string section, std::vector<Setting> settings)
    : section_(std::move(section)), settings_(std::move(settings)) {
  settings_.push_back(
      Setting{"log.level", Setting::Type::kString, "info", 0, 0,
              "debug, info, warning or error (--log-level wins; both daemons read it)"});
}

std::set<std::string> Settings::keys() const {
  std::set<std::string> keys;
  for (const Setting& s : settings_) keys.insert(s.key);
  return keys;
}

std::string Settings::help_text() const {
  std::string out;
  for (const Setting& s : settings_) {
    const std::string first_line = s.help.substr(0, s.help.find('\n'));
    out += fmt::format("  {:<34} {}\n", fmt::format("{} = {}", s.key, s.default_value), first_line);
  }
  return out;
}

std::string Settings::example() const {
  std::string out = fmt::format("# --- {} ", section_);
  out.append(out.size() < 88 ? 88 - out.size() : 0, '-');
  out += "\n";
  for (const Setting& s : settings_) {
    size_t start = 0;
    while (start <= s.help.size()) {
      const size_t end = std::min(s.help.find('\n', start), s.help.size());
      out += fmt::format("# {}\n", s.help.substr(start, end - start));
      start = end + 1;
    }
    out += fmt::format("#{} = {}\n", s.key, s.default_value);
  }
  return out;
}

const Setting& Settings::find(std::string_view key, Setting::Type type) const {
  for (const Setting& s : settings_) {
    if (s.key == key && s.type == type) return s;
  }
  std::fprintf(stderr, "%s: no setting %.*s of that type declared\n", section_.c_str(),
               static_cast<int>(key.size()), key.data());
  std::abort();
}

Result<int64_t> Settings::get_int(const Config& config, std::string_view key) const {
  const Setting& s = find(key, Setting::Type::kInt);
  int64_t fallback = 0;
  parse_int(s.default_value, s.min, s.max, fallback);
  return config.get_int(s.key, fallback, s.min, s.max);
}

Result<bool> Settings::get_bool(const Config& config, std::string_view key) const {
  const Setting& s = find(key, Setting::Type::kBool);
  return config.get_bool(s.key, s.default_value == "true");
}

std::string Settings::get_string(const Config& config, std::string_view key) const {
  const Setting& s = find(key, Setting::Type::kString);
  return config.get_string(s.key, s.default_value);
}

}  // namespace dxs
