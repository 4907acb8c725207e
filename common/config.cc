#include "common/config.h"

#include <fmt/format.h>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

namespace dxs {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool parse_int(std::string_view s, int64_t min, int64_t max, int64_t& out) {
  if (s.empty()) return false;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < min || v > max) return false;
  out = v;
  return true;
}

Result<Config> Config::parse(std::string_view text, std::string_view origin,
                             const std::set<std::string>& known_keys,
                             const std::set<std::string>& skipped_prefixes) {
  Config cfg;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::error(EINVAL, fmt::format("{}:{}: expected 'key = value'", origin, line_no));
    }
    std::string key(trim(line.substr(0, eq)));
    bool skipped = false;
    for (const auto& prefix : skipped_prefixes) skipped = skipped || key.rfind(prefix, 0) == 0;
    if (skipped) continue;
    if (!known_keys.count(key)) {
      return Status::error(EINVAL, fmt::format("{}:{}: unknown key '{}'", origin, line_no, key));
    }
    cfg.values_[key] = std::string(trim(line.substr(eq + 1)));
  }
  return cfg;
}

Result<Config> Config::load(const std::string& file, const std::set<std::string>& known_keys,
                            const std::set<std::string>& skipped_prefixes) {
  std::ifstream in(file);
  if (!in) return Status::error(ENOENT, fmt::format("cannot open config file {}", file));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file, known_keys, skipped_prefixes);
}

std::string Config::get_string(const std::string& key, std::string_view fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string(fallback) : it->second;
}

Result<int64_t> Config::get_int(const std::string& key, int64_t fallback, int64_t min,
                                int64_t max) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  int64_t v;
  if (!parse_int(it->second, min, max, v)) {
    return Status::error(EINVAL, fmt::format("{} = '{}': expected an integer in [{}, {}]", key,
                                             it->second, min, max));
  }
  return v;
}

Result<bool> Config::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (it->second == "true" || it->second == "yes" || it->second == "1") return true;
  if (it->second == "false" || it->second == "no" || it->second == "0") return false;
  return Status::error(EINVAL, fmt::format("{} = '{}': expected true or false", key, it->second));
}

}  // namespace dxs
