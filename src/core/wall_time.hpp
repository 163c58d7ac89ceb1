// Wall-clock time as the daemon reports it: milliseconds since the Unix epoch, and RFC 3339
// UTC stamps (event lines, the verdict stream, drain expiries in the state file).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace gslb::core {

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-28T04:50:02Z" for `ms` since the epoch (seconds precision).
inline std::string rfc3339(int64_t ms) {
  const std::time_t t = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return stamp;
}

}  // namespace gslb::core
