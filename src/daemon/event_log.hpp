// The event lines gslbd has written lately, and the gslbctl clients that follow a stream of
// lines (events, verdicts). Both live on the control loop.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "core/log.hpp"

namespace gslb::daemon {

// Clients following one stream. A follower may be dropped (and removed) from inside its own
// call, so tell() walks a copy of the ids.
class Followers {
 public:
  using Follower = std::function<void(const std::string& text)>;
  uint64_t add(Follower f);
  void remove(uint64_t id) { followers_.erase(id); }
  void clear() { followers_.clear(); }
  bool empty() const noexcept { return followers_.empty(); }
  void tell(const std::string& text) const;

 private:
  std::map<uint64_t, Follower> followers_;
  uint64_t next_ = 1;
};

// Every event line: logged (syslog/stderr), kept stamped in a ring of the last `capacity`, and
// handed to the followers.
class EventLog {
 public:
  explicit EventLog(size_t capacity) : capacity_(capacity) {}
  void emit(core::Level level, const std::string& text);
  // Each event as its stamped line, and as a JSON object of its fields (`gslbctl events
  // --json`): {"time":"...","level":"warning","event":"address-down","pool":"hangzhou",...},
  // counts as numbers, a closing remark in parentheses as "note".
  struct Entry {
    std::string line;  // "2026-11-28T04:50:02Z event=..."
    std::string json;
  };
  const std::deque<Entry>& recent() const noexcept { return recent_; }
  // Followers of the lines, and of the JSON objects.
  Followers& followers() noexcept { return followers_; }
  Followers& json_followers() noexcept { return json_followers_; }

 private:
  size_t capacity_;
  std::deque<Entry> recent_;
  Followers followers_, json_followers_;
};

}  // namespace gslb::daemon
