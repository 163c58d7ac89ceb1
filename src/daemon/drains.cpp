#include "daemon/drains.hpp"

#include <fmt/format.h>

#include <charconv>

#include "core/logfmt.hpp"

namespace gslb::daemon {

std::vector<std::string> DrainBook::take_expired(int64_t now, int64_t slack_ms) {
  std::vector<std::string> out;
  for (auto it = drains_.begin(); it != drains_.end();) {
    if (it->second.until != 0 && it->second.until <= now + slack_ms) {
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
  for (const auto& [ip, d] : drains_)
    if (d.until != 0 && (!next || d.until < *next)) next = d.until;
  return next;
}

std::string DrainBook::to_text() const {
  std::string out;
  for (const auto& [ip, d] : drains_) {
    std::string line = fmt::format("{} {}", ip, d.until);
    if (!d.by.empty()) core::append_logfmt(line, "by", d.by, false);
    if (!d.reason.empty()) core::append_logfmt(line, "reason", d.reason, true);
    out += line + '\n';
  }
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
    std::string_view num = line.substr(sp + 1), extra;
    if (const size_t sp2 = num.find(' '); sp2 != std::string_view::npos) {
      extra = num.substr(sp2 + 1);
      num = num.substr(0, sp2);
    }
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), until);
    if (ec != std::errc() || end != num.data() + num.size() || until < 0) continue;
    std::string by, reason;
    for (auto& f : core::parse_logfmt(extra)) {
      if (f.key == "by") by = std::move(f.value);
      else if (f.key == "reason") reason = std::move(f.value);
    }
    if (until == 0 || until > now) book.set(std::string(line.substr(0, sp)), until, std::move(by), std::move(reason));
  }
  return book;
}

}  // namespace gslb::daemon
