// Runs health checks on a schedule: every target's first check at start-up (spread over a few
// milliseconds), then one per interval measured on a fixed grid from the first, so a slow loop
// or slow checks do not make the rate drift; one check per target at a time.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "core/address.hpp"
#include "io/handle.hpp"
#include "probe/plan.hpp"
#include "probe/runner.hpp"
#include "probe/spec.hpp"

namespace gslb::probe {

class HttpRunner;
class TcpRunner;

// One (address, probe) pair to check. `id` is the caller's key for it (the health module's
// target id); the spec is shared by every target that uses the same probe file.
struct Target {
  uint32_t id = 0;
  core::IpAddress address;
  std::shared_ptr<const Spec> spec;
};

// Runs on one libuv loop (the control loop); not thread-safe. Owns the HTTP and TCP runners and
// one uv_timer_t per target (heap-owned, freed in its close callback).
class Scheduler {
 public:
  // Called on the loop with each finished check. Returns true when the result disagrees with
  // the current health state (a transition is pending): the next check of that target then runs
  // after spec.fast_interval instead of spec.interval (HAProxy's fastinter). Must not throw
  // (an exception is caught, logged and taken as false). May call set_targets() or close().
  using Callback = std::function<bool(uint32_t id, const Result&)>;

  Scheduler(uv_loop_t* loop, Callback cb);
  // Calls close(). Must be destroyed before the loop is closed, and the loop run once more so
  // the close callbacks free the handles.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Diffs by id. Removed targets stop: their in-flight check is cancelled and never reported.
  // New targets are checked at once. Kept targets (same id, same address, equal spec) keep their
  // schedule and any check in flight; a target whose address or spec changed is restarted as a
  // new one. Ids must be unique; a repeated id replaces the earlier entry. Targets without a
  // spec are ignored.
  void set_targets(std::vector<Target> targets);
  // The source address of every check ([server] probe_source), for targets of its family;
  // none: the kernel chooses. Applies to checks started from now on.
  void set_source(std::optional<core::IpAddress> source);
  // Stops everything and closes every handle; the loop then runs dry. Idempotent.
  void close();

  size_t size() const noexcept { return entries_.size(); }
  // At most `n` checks hold a socket at once (0: no cap). A check due while the cap is reached
  // is reported as gslbd's own failure (Result::local), not a verdict, and runs again at its
  // next interval.
  void set_max_in_flight(size_t n) noexcept { max_in_flight_ = n; }

 private:
  struct Entry {
    Target target;
    uint64_t serial = 0;  // tells a replaced entry from its successor under the same id
    CheckId check = 0;    // the in-flight check, 0 when none
  };
  void start_entry(Target target, size_t batch);
  void stop(Entry& e);
  void run(Entry& e);
  void finished(uint32_t id, uint64_t serial, const Result& result);
  void on_timer();
  void arm();  // the one timer, for the plan's next due check

  uv_loop_t* loop_;
  Callback cb_;
  std::unique_ptr<HttpRunner> http_;
  std::unique_ptr<TcpRunner> tcp_;
  std::unordered_map<uint32_t, Entry> entries_;
  std::minstd_rand rng_;
  Plan plan_;
  io::Timer timer_;
  uint64_t next_serial_ = 1;
  size_t max_in_flight_ = 0;
  bool closed_ = false;
};

}  // namespace gslb::probe
