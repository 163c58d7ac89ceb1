// Maintenance drains: which addresses an operator took out of the answers, and until when.
// Pure (the time comes in as ms since the epoch) and tested on a manual clock; the control loop
// applies it to the engine, arms one timer for next_expiry(), and keeps to_text() in the state
// file so drains survive restarts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gslb::daemon {

// One drain: until when (ms since the epoch, 0: until undrained), who made it (the user
// name of gslbctl's uid, from the control socket's SO_PEERCRED) and why (`--reason`).
struct Drain {
  int64_t until = 0;
  std::string by;
  std::string reason;
  bool operator==(const Drain&) const = default;
};

class DrainBook {
 public:
  // Drains `ip` until `until` (ms since the epoch), or until undrained when `until` is 0.
  void set(const std::string& ip, int64_t until, std::string by = {}, std::string reason = {}) {
    drains_[ip] = Drain{until, std::move(by), std::move(reason)};
  }
  bool remove(const std::string& ip) { return drains_.erase(ip) > 0; }
  bool contains(const std::string& ip) const { return drains_.count(ip) != 0; }
  const std::map<std::string, Drain>& all() const noexcept { return drains_; }

  // The drains whose time is up at `now` (or within `slack_ms`: a timer may fire a little
  // early), removed from the book, in address order.
  std::vector<std::string> take_expired(int64_t now, int64_t slack_ms = 5);
  // When the next timed drain ends; none when no drain has an end.
  std::optional<int64_t> next_expiry() const;

  // The state file: one "ADDRESS UNTIL" line per drain, then by= and reason= in logfmt when
  // known (a file without them, from an older gslbd, reads as drains by nobody in particular).
  std::string to_text() const;
  // Reads what to_text() wrote, dropping drains already over at `now` and lines that do not
  // parse (a state file from a crash or another version must not stop gslbd).
  static DrainBook from_text(std::string_view text, int64_t now);

 private:
  std::map<std::string, Drain> drains_;
};

}  // namespace gslb::daemon
