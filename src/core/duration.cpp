#include "core/duration.hpp"

#include <gslb/duration.hpp>

#include <charconv>
#include <fmt/format.h>

namespace gslb::core {

std::optional<Duration> parse_duration(std::string_view text) { return gslb::parse_duration(text); }

std::string format_duration(Duration d) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(d).count();
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace gslb::core
