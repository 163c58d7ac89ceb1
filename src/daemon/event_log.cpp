#include "daemon/event_log.hpp"

#include <fmt/format.h>

#include <vector>

#include "core/logfmt.hpp"
#include "core/wall_time.hpp"

namespace gslb::daemon {

uint64_t Followers::add(Follower f) {
  followers_[next_] = std::move(f);
  return next_++;
}

void Followers::tell(const std::string& text) const {
  std::vector<uint64_t> ids;
  ids.reserve(followers_.size());
  for (const auto& [id, f] : followers_) ids.push_back(id);
  for (uint64_t id : ids)
    if (auto it = followers_.find(id); it != followers_.end()) {
      Follower f = it->second;  // its call may remove it from the map
      f(text);
    }
}

void EventLog::emit(core::Level level, const std::string& text) {
  core::log(level, text);
  const std::string stamp = core::rfc3339(core::wall_ms());
  std::string rest;
  auto fields = core::parse_logfmt(text, &rest);
  if (!rest.empty()) fields.push_back({"note", rest, true});
  static const char* const kLevels[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
  Entry e{fmt::format("{} {}", stamp, text),
          core::fields_json({{"time", core::json_quote(stamp)},
                             {"level", core::json_quote(kLevels[int(level) & 7])}},
                            fields)};
  followers_.tell(e.line);
  json_followers_.tell(e.json);
  recent_.push_back(std::move(e));
  if (recent_.size() > capacity_) recent_.pop_front();
}

}  // namespace gslb::daemon
