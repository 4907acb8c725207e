#include "store/refusal_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/printable.h"
#include "common/xs_error.h"

namespace dxs::store {

bool RefusalLog::admit(Allowance& a) {
  const Clock::time_point now = now_();
  if (!a.refilled) a.refilled = now;
  const double earned = std::chrono::duration<double>(now - *a.refilled) / kRefill;
  a.lines = std::min<double>(kBurst, a.lines + earned);
  a.refilled = now;
  if (a.lines < 1) {
    ++a.suppressed;
    return false;
  }
  a.lines -= 1;
  return true;
}

void RefusalLog::emit(LogLevel level, Domain& d, std::string_view line) {
  if (!log_.enabled(level)) return;
  Allowance& a = level == LogLevel::kDebug ? d.debug : d.other;
  if (!admit(a)) return;
  auto write = [&](std::string_view text) {
    switch (level) {
      case LogLevel::kDebug:
        log_.debug("{}", text);
        break;
      case LogLevel::kInfo:
        log_.info("{}", text);
        break;
      case LogLevel::kWarning:
        log_.warn("{}", text);
        break;
      case LogLevel::kError:
        log_.error("{}", text);
        break;
    }
  };
  if (a.suppressed == 0) {
    write(line);
  } else {
    write(fmt::format("{} ({} lines about this domain not logged before this one)", line,
                      a.suppressed));
    a.suppressed = 0;
  }
}

void RefusalLog::refused(LogLevel level, uint32_t domid, std::string_view request, int err,
                         std::string_view detail) {
  Domain& d = domains_[domid];
  ++d.refusals;
  if (!log_.enabled(level)) return;
  emit(level, d,
       fmt::format("dom{} {}: {} (refusal {}){}{}", domid, request, xs_error_name(err), d.refusals,
                   detail.empty() ? "" : ": ", printable(detail, kDetailMax)));
}

void RefusalLog::note(LogLevel level, uint32_t domid, std::string_view line) {
  emit(level, domains_[domid], printable(line, kDetailMax));
}

uint64_t RefusalLog::count(uint32_t domid) const {
  auto it = domains_.find(domid);
  return it == domains_.end() ? 0 : it->second.refusals;
}

}  // namespace dxs::store
