#include "probe/plan.hpp"

#include <algorithm>

namespace gslb::probe {

namespace {

uint64_t startup_window_ms(uint64_t interval_ms) { return std::min<uint64_t>(interval_ms / 10, 100); }

// Targets that share a probe do not stay in lock-step with each other, or with periodic work on
// the servers they check.
uint64_t jitter_ms(uint64_t interval_ms) { return std::min<uint64_t>(interval_ms / 20, 50); }

}  // namespace

void Plan::push(uint32_t id, Slot& s) {
  s.gen = next_gen_++;
  heap_.emplace(s.due, id, s.gen);
}

void Plan::add(uint32_t id, uint64_t interval_ms, uint64_t now, size_t batch) {
  Slot& s = slots_[id];
  s = Slot{};
  const uint64_t spread = std::min<uint64_t>(interval_ms, uint64_t(batch) * 1000 / kStartsPerSecond);
  s.grid = s.due = now + random_(std::max(startup_window_ms(interval_ms), spread) + 1);
  push(id, s);
}

void Plan::remove(uint32_t id) { slots_.erase(id); }  // its heap entry goes stale

void Plan::drop_stale() {
  while (!heap_.empty()) {
    const auto& [due, id, gen] = heap_.top();
    auto it = slots_.find(id);
    if (it != slots_.end() && it->second.gen == gen && !it->second.running) return;
    heap_.pop();
  }
}

std::vector<uint32_t> Plan::take_due(uint64_t now) {
  std::vector<uint32_t> out;
  for (drop_stale(); !heap_.empty() && std::get<0>(heap_.top()) <= now; drop_stale()) {
    const uint32_t id = std::get<1>(heap_.top());
    heap_.pop();
    slots_[id].running = true;
    out.push_back(id);
  }
  return out;
}

void Plan::finished(uint32_t id, uint64_t interval_ms, uint64_t now) {
  auto it = slots_.find(id);
  if (it == slots_.end()) return;
  Slot& s = it->second;
  s.running = false;
  s.grid += std::max<uint64_t>(interval_ms, 1);
  if (s.grid < now) s.grid = now;
  s.due = s.grid + random_(jitter_ms(interval_ms) + 1);
  push(id, s);
}

std::optional<uint64_t> Plan::next_due() {
  drop_stale();
  if (heap_.empty()) return std::nullopt;
  return std::get<0>(heap_.top());
}

}  // namespace gslb::probe
