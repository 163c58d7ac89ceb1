#include "health/health.hpp"

namespace gslb::health {

const char* to_string(State s) noexcept {
  switch (s) {
    case State::unknown: return "unknown";
    case State::up: return "up";
    case State::down: return "down";
  }
  return "?";
}

std::optional<Target::Change> Target::record(bool ok, std::string reason, core::Duration latency,
                                             MonoTime now) {
  ++checks_;
  last_ = now;
  reason_ = std::move(reason);
  latency_ = latency;
  if (ok) {
    ++passes_;
    fails_ = 0;
  } else {
    ++fails_;
    passes_ = 0;
  }
  const State from = state_;
  if (state_ == State::unknown)
    state_ = ok ? State::up : State::down;
  else if (state_ == State::up && fails_ >= t_.fall)
    state_ = State::down;
  else if (state_ == State::down && passes_ >= t_.rise)
    state_ = State::up;
  if (state_ == from) return std::nullopt;
  since_ = now;
  return Change{from, state_};
}

}  // namespace gslb::health
