// Durations written the way operators write them: "250ms", "1s", "5m", "1h". One parser for
// gslbd's config and probes and gslb::route's TOML: std only, installed with the library.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gslb {

// An unsigned count and a unit (ms, s, m, h); nothing else, and at most a day: anything longer
// is a typo, and the cap keeps later arithmetic far from overflow.
inline std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  using namespace std::chrono;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  const std::string_view unit(end, size_t(text.data() + text.size() - end));
  constexpr uint64_t kMaxSeconds = 86400;
  uint64_t per = 0;  // seconds per unit; 0: milliseconds
  if (unit == "ms") per = 0;
  else if (unit == "s") per = 1;
  else if (unit == "m") per = 60;
  else if (unit == "h") per = 3600;
  else return std::nullopt;
  if (per == 0) {
    if (n > kMaxSeconds * 1000) return std::nullopt;
    return milliseconds(n);
  }
  if (n > kMaxSeconds / per) return std::nullopt;
  return seconds(n * per);
}

}  // namespace gslb
