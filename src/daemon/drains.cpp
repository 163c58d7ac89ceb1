#include "daemon/drains.hpp"

#include <fmt/format.h>

#include <charconv>

namespace gslb::daemon {

std::vector<std::string> DrainBook::take_expired(int64_t now, int64_t slack_ms) {
  std::vector<std::string> out;
  for (auto it = drains_.begin(); it != drains_.end();) {
    if (it->second != 0 && it->second <= now + slack_ms) {
      out.push_back(it->first);
      it = drains_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<int64_t> DrainBook::next_expiry() const {
  std::optional<int64_t> next;
  for (const auto& [ip, until] : drains_)
    if (until != 0 && (!next || until < *next)) next = until;
  return next;
}

std::string DrainBook::to_text() const {
  std::string out;
  for (const auto& [ip, until] : drains_) out += fmt::format("{} {}\n", ip, until);
  return out;
}

DrainBook DrainBook::from_text(std::string_view text, int64_t now) {
  DrainBook book;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const size_t sp = line.find(' ');
    if (sp == 0 || sp == std::string_view::npos) continue;
    int64_t until = 0;
    const std::string_view num = line.substr(sp + 1);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), until);
    if (ec != std::errc() || end != num.data() + num.size() || until < 0) continue;
    if (until == 0 || until > now) book.set(std::string(line.substr(0, sp)), until);
  }
  return book;
}

}  // namespace gslb::daemon
