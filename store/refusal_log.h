// RefusalLog: the log lines of refused requests. A hostile guest controls how many
// there are and what they say, so each line names the domain, the request, the errno
// and the domain's running count of refusals; the detail (which may quote the guest's
// paths and values) is cut short and escaped; and each domain gets a burst of lines,
// then one a second at most, the next line saying how many were not logged. Debug
// lines (routine errors: ENOENT, EACCES, ...) have an allowance of their own, so a
// flood of them never hides a quota hit. No guest can fill dom0's journal, and the
// counts stay exact whatever is logged.
//
// Thread-safety: none (the engine's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "common/log.h"

namespace dxs::store {

class RefusalLog {
 public:
  // Lines a domain may log at once, and the rate at which that allowance comes back.
  static constexpr int kBurst = 20;
  static constexpr std::chrono::milliseconds kRefill{1000};
  // Bytes of the detail kept.
  static constexpr size_t kDetailMax = 160;

  using Clock = std::chrono::steady_clock;
  // `now` is the clock allowances are earned by (tests give their own).
  explicit RefusalLog(Logger& log, Clock::time_point (*now)() = &Clock::now)
      : log_(log), now_(now) {}

  // One refused request of domid: "dom7 WRITE: EACCES (refusal 12): <detail>".
  void refused(LogLevel level, uint32_t domid, std::string_view request, int err,
               std::string_view detail);
  // Any other line about what domid did (a quota hit, a dropped event).
  void note(LogLevel level, uint32_t domid, std::string_view line);

  // Refusals of domid so far.
  uint64_t count(uint32_t domid) const;

 private:
  struct Allowance {
    double lines = kBurst;
    std::optional<Clock::time_point> refilled;
    uint64_t suppressed = 0;
  };
  struct Domain {
    uint64_t refusals = 0;
    Allowance debug;
    Allowance other;
  };
  // Whether a line may be logged now; takes one from the allowance.
  bool admit(Allowance& a);
  void emit(LogLevel level, Domain& d, std::string_view line);

  Logger& log_;
  Clock::time_point (*now_)();
  // Bounded: domids are 16 bits.
  std::unordered_map<uint32_t, Domain> domains_;
};

}  // namespace dxs::store
