// When each target is checked next: the first checks spread over a short start-up window, then
// a fixed grid of the target's interval (or its fast interval while a transition is pending),
// with a little jitter that never accumulates, and never two checks of one target at once. Pure:
// the caller passes the time (ms on any monotonic clock) and the randomness, so tests step a
// manual clock; the Scheduler drives it from one libuv timer, however many targets there are.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace gslb::probe {

class Plan {
 public:
  using Random = std::function<uint64_t(uint64_t n)>;  // uniform in [0, n), n >= 1

  explicit Plan(Random random) : random_(std::move(random)) {}

  // A new target, first checked within min(interval / 10, 100 ms) of `now`: at once for an
  // operator, yet a thousand targets do not open a thousand connections in one millisecond.
  // `batch` targets added together spread wider, so that they start at most kStartsPerSecond
  // a second (never wider than the interval): the grid keeps the phase each target starts
  // on, so 20,000 targets started in 100 ms would burst at 200,000 connects a second forever.
  static constexpr uint64_t kStartsPerSecond = 10'000;
  void add(uint32_t id, uint64_t interval_ms, uint64_t now, size_t batch = 1);
  void remove(uint32_t id);
  bool contains(uint32_t id) const { return slots_.count(id) != 0; }

  // Every waiting target whose time has come, earliest first; each is then running until
  // finished() is called for it.
  std::vector<uint32_t> take_due(uint64_t now);
  // The check of `id` ended at `now`; the next is due `interval_ms` after the last grid time
  // (plus jitter up to interval / 20, at most 50 ms). A check that overran its interval starts
  // the next one now: the grid restarts rather than a burst catching up.
  void finished(uint32_t id, uint64_t interval_ms, uint64_t now);

  // When the earliest waiting target is due; none when every target is running (or none is).
  std::optional<uint64_t> next_due();

 private:
  struct Slot {
    uint64_t grid = 0;  // grid time of the next or current check, without jitter
    uint64_t due = 0;   // grid + jitter: when it fires
    uint64_t gen = 0;   // tells the current heap entry from stale ones
    bool running = false;
  };
  using HeapEntry = std::tuple<uint64_t, uint32_t, uint64_t>;  // (due, id, gen)

  void push(uint32_t id, Slot& s);
  void drop_stale();

  Random random_;
  std::unordered_map<uint32_t, Slot> slots_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
  uint64_t next_gen_ = 1;
};

}  // namespace gslb::probe
