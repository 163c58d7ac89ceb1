#include <fmt/format.h>

#include "gslb/route/types.hpp"

namespace gslb::route {

TimePoint SteadyClock::now() const noexcept {
  return std::chrono::duration_cast<TimePoint>(std::chrono::steady_clock::now().time_since_epoch());
}

uint64_t SplitMixRandom::next() noexcept {
  // The golden-ratio increment visits every 64-bit state once per 2^64 calls; the finaliser
  // (Stafford's mix 13) turns consecutive states into independent-looking outputs.
  uint64_t z = state_.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Locality Locality::parse(std::string_view text) {
  Locality l;
  std::string* parts[] = {&l.region, &l.zone, &l.subzone};
  for (size_t i = 0; i < 3 && !text.empty(); ++i) {
    size_t slash = i < 2 ? text.find('/') : std::string_view::npos;
    *parts[i] = std::string(text.substr(0, slash));
    text = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
  }
  return l;
}

std::string Locality::to_string() const {
  if (subzone.empty()) return zone.empty() ? region : region + "/" + zone;
  return region + "/" + zone + "/" + subzone;
}

bool locality_matches(std::string_view pattern, const Locality& locality) {
  const std::string* parts[] = {&locality.region, &locality.zone, &locality.subzone};
  for (size_t i = 0; i < 3; ++i) {
    // Istio treats missing trailing parts as wildcards: "cn-hangzhou" covers the whole region.
    if (pattern.empty()) return true;
    size_t slash = pattern.find('/');
    std::string_view head = pattern.substr(0, slash);
    if (head == "*") return true;
    if (head != *parts[i]) return false;
    pattern = slash == std::string_view::npos ? std::string_view{} : pattern.substr(slash + 1);
  }
  return pattern.empty();
}

std::string Error::to_string() const {
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line > 0) out += fmt::format(":{}:{}", line, col);
    out += ": ";
  }
  if (!path.empty()) out += path + ": ";
  return out + message;
}

}  // namespace gslb::route
