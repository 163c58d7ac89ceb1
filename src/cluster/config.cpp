#include "cluster/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace gslb::cluster {

namespace {

bool parse_uint(std::string_view s, unsigned& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

core::Result<DownWhen> DownWhen::parse(std::string_view text) {
  if (text == "any") return DownWhen{Kind::any, 0};
  if (text == "majority") return DownWhen{Kind::majority, 0};
  if (text == "all") return DownWhen{Kind::all, 0};
  unsigned n = 0;
  if (!text.empty() && text.back() == '%') {
    if (!parse_uint(text.substr(0, text.size() - 1), n) || n < 1 || n > 100)
      return core::Error{"", 0, 0, "a share must be 1% to 100%"};
    return DownWhen{Kind::share, n};
  }
  if (!parse_uint(text, n) || n < 1)
    return core::Error{"", 0, 0,
                       R"(must be "any", "majority", "all", a count ("2") or a share ("50%"))"};
  return DownWhen{Kind::count, n};
}

std::string DownWhen::to_string() const {
  switch (kind) {
    case Kind::any: return "any";
    case Kind::majority: return "majority";
    case Kind::all: return "all";
    case Kind::count: return std::to_string(n);
    case Kind::share: return fmt::format("{}%", n);
  }
  return "?";
}

unsigned DownWhen::needed(unsigned voters) const {
  if (voters == 0) voters = 1;
  switch (kind) {
    case Kind::any: return 1;
    case Kind::majority: return voters / 2 + 1;  // more than half: 2 of 3, 3 of 4
    case Kind::all: return voters;
    case Kind::count: return std::min(n, voters);
    case Kind::share: return std::max(1u, (voters * n + 99) / 100);
  }
  return voters;
}

}  // namespace gslb::cluster
