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

}  // namespace gslb::core
