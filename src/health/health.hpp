// Health of one check target, (address, probe): a pure state machine. Probes report pass/fail
// with a reason; this decides up/down by consecutive results (rise/fall) and knows the admin
// drain. Lives on the control loop; the caller supplies `now`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/duration.hpp"

namespace gslb::health {

using MonoTime = std::chrono::steady_clock::time_point;

enum class State : uint8_t { unknown, up, down };
const char* to_string(State s) noexcept;

struct Thresholds {
  unsigned rise = 2;  // consecutive passes that bring a down target up
  unsigned fall = 2;  // consecutive failures that take an up target down
};

class Target {
 public:
  explicit Target(Thresholds t = {}) : t_(t) {}

  struct Change {
    State from, to;
  };
  // One probe result. The first result decides an unknown target at once (so start-up
  // converges within one timeout); after that, rise/fall consecutive results are needed.
  std::optional<Change> record(bool ok, std::string reason, core::Duration latency, MonoTime now);

  State state() const noexcept { return state_; }
  // The last result disagrees with the state: a transition is under way (check again soon).
  bool pending() const noexcept {
    return (state_ == State::up && fails_ > 0) || (state_ == State::down && passes_ > 0);
  }
  // May answers use this target? Drained never; unknown as the operator chose.
  bool usable(bool unknown_is_up) const noexcept {
    if (drained_) return false;
    return state_ == State::up || (state_ == State::unknown && unknown_is_up);
  }
  void set_drained(bool d) noexcept { drained_ = d; }
  bool drained() const noexcept { return drained_; }
  void set_thresholds(Thresholds t) noexcept { t_ = t; }

  const Thresholds& thresholds() const noexcept { return t_; }
  unsigned passes() const noexcept { return passes_; }  // consecutive
  unsigned fails() const noexcept { return fails_; }    // consecutive
  const std::string& reason() const noexcept { return reason_; }
  core::Duration latency() const noexcept { return latency_; }
  MonoTime since() const noexcept { return since_; }       // of the current state
  MonoTime last_check() const noexcept { return last_; }
  uint64_t checks() const noexcept { return checks_; }

 private:
  Thresholds t_;
  State state_ = State::unknown;
  bool drained_ = false;
  unsigned passes_ = 0, fails_ = 0;
  std::string reason_;
  core::Duration latency_{};
  MonoTime since_{}, last_{};
  uint64_t checks_ = 0;
};

}  // namespace gslb::health
