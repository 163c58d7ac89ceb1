#include "core/duration.hpp"

#include <charconv>
#include <fmt/format.h>

namespace gslb::core {

std::optional<Duration> parse_duration(std::string_view text) {
  using namespace std::chrono;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  std::string_view unit(end, text.data() + text.size() - end);
  // Cap at a day: anything longer is a typo, and it keeps the arithmetic far from overflow.
  constexpr uint64_t kMaxSeconds = 86400;
  Duration d;
  if (unit == "ms") {
    if (n > kMaxSeconds * 1000) return std::nullopt;
    d = milliseconds(n);
  } else if (unit == "s") {
    if (n > kMaxSeconds) return std::nullopt;
    d = seconds(n);
  } else if (unit == "m") {
    if (n > kMaxSeconds / 60) return std::nullopt;
    d = minutes(n);
  } else if (unit == "h") {
    if (n > kMaxSeconds / 3600) return std::nullopt;
    d = hours(n);
  } else {
    return std::nullopt;
  }
  return d;
}

std::string format_duration(Duration d) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(d).count();
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace gslb::core
