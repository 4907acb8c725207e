#include "store/privacy.h"

#include <fmt/format.h>
#include <fnmatch.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>

#include "common/path.h"
#include "store/history.h"

namespace dxs::store {
namespace {

size_t count_components(std::string_view p) {
  return static_cast<size_t>(std::count(p.begin(), p.end(), '/'));
}

}  // namespace

Result<PrivatePaths> PrivatePaths::parse(std::string_view list) {
  PrivatePaths out;
  size_t at = 0;
  while (at < list.size()) {
    const size_t end = std::min(list.find_first_of(" ,\t", at), list.size());
    std::string_view word = list.substr(at, end - at);
    at = end + 1;
    if (word.empty()) continue;
    if (word.front() != '/' || word.size() < 2 || word.back() == '/' ||
        word.find("//") != std::string_view::npos) {
      return Status::error(EINVAL, fmt::format("private path pattern {}: not an absolute path "
                                               "without empty components",
                                               word));
    }
    Pattern p;
    if (word.size() >= 3 && word.substr(word.size() - 3) == "/**") {
      p.descendants = true;
      word.remove_suffix(3);
      if (word.empty()) word = "/";
    }
    if (word.find("**") != std::string_view::npos) {
      return Status::error(
          EINVAL, fmt::format("private path pattern {}: `**` only as the last component", word));
    }
    p.glob = std::string(word);
    p.components = word == "/" ? 0 : count_components(word);
    out.patterns_.push_back(std::move(p));
  }
  return out;
}

bool PrivatePaths::matches(std::string_view path) const {
  if (path.empty() || path::is_special(path)) return false;
  const size_t depth = path == "/" ? 0 : count_components(path);
  for (const Pattern& p : patterns_) {
    if (!p.descendants) {
      if (depth != p.components) continue;
      if (fnmatch(p.glob.c_str(), std::string(path).c_str(), FNM_PATHNAME) == 0) return true;
      continue;
    }
    // Strictly below a node the rest matches: that node is the path's first
    // p.components components.
    if (depth <= p.components) continue;
    if (p.components == 0) return true;
    size_t cut = 0;
    for (size_t i = 0; i < p.components; ++i) cut = path.find('/', cut + 1);
    const std::string ancestor(path.substr(0, cut));
    if (fnmatch(p.glob.c_str(), ancestor.c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}

std::string PrivatePaths::text() const {
  std::string out;
  for (const Pattern& p : patterns_) {
    if (!out.empty()) out += ' ';
    out += p.glob;
    if (p.descendants) out += p.glob == "/" ? "**" : "/**";
  }
  return out;
}

bool Privacy::is_private(std::string_view path) const {
  return paths_.matches(path);
}

Status Privacy::load_key(StateReader& state, WriteSet& ws) {
  std::string key;
  if (state.get(Cf::kMeta, meta::kPrivacyKey, &key)) {
    if (key.size() != key_.size()) fail_stop_corrupt(Cf::kMeta, meta::kPrivacyKey);
    std::copy(key.begin(), key.end(), key_.begin());
    return Status::ok();
  }
  if (!enabled()) return Status::ok();
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    return Status::error(EIO, "no random bytes for the privacy key");
  }
  ws.put(Cf::kMeta, meta::kPrivacyKey,
         std::string_view(reinterpret_cast<const char*>(key_.data()), key_.size()));
  return Status::ok();
}

std::string Privacy::digest(std::string_view value) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

void Privacy::redact(pb::NodeRecord& r) const {
  if (r.deleted() || r.redacted()) return;
  r.set_value_digest(digest(r.value()));
  r.clear_value();
  r.set_redacted(true);
}

std::string Privacy::summary_value(std::string_view path, std::string_view value) const {
  if (is_private(path)) return fmt::format("<private, {} bytes>", value.size());
  return abbreviate_value(value);
}

}  // namespace dxs::store
