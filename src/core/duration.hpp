// Durations written the way operators write them: "250ms", "1s", "5m", "1h".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gslb::core {

using Duration = std::chrono::nanoseconds;

std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);

// The wall clock as Unix seconds with a fraction: what metrics and status report as "when".
inline double unix_now() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace gslb::core
