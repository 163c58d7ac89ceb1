// The state behind a Cluster. Private to the library.
//
// Concurrency: pick() reads an immutable Snapshot found through a per-thread cache that is
// refreshed when `generation_` moves; everything that changes the snapshot (health, membership,
// ejections, new client localities) runs under `mu_` and publishes a whole new Snapshot.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "gslb/route/cluster.hpp"
#include "priority.hpp"
#include "thread_state.hpp"

namespace gslb::route::detail {

struct Snapshot {
  std::vector<std::unique_ptr<View>> views;  // one per known client, same order as clients_
};

// A counter bumped on every pick by every thread: split over cache lines so two threads do not
// fight over one line (a shared atomic costs ~40 ns per increment under contention).
class ShardedCounter {
 public:
  void add(uint32_t shard, uint64_t n = 1) noexcept;
  uint64_t sum() const noexcept;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  std::array<Shard, 8> shards_;
};

class ClusterImpl {
 public:
  ClusterImpl(ClusterConfig config, ClusterOptions options);
  ~ClusterImpl();

  Pick pick(const Client& client, const PickOptions& options);
  void report(Pick& pick, const Outcome& outcome);
  void report(const Endpoint& endpoint, const Outcome& outcome);
  bool set_health(std::string_view address, uint16_t port, Health health);
  Errors update(std::vector<EndpointSpec> endpoints);
  void tick();

  std::vector<EndpointPtr> endpoints() const;
  std::vector<PriorityInfo> priorities(const Client& client);
  ClusterStats stats() const;
  const ClusterConfig& config() const { return config_; }
  CircuitBreaker& breaker() { return breaker_; }
  Random& random() { return *random_; }

 private:
  using Events = std::vector<Event>;

  const Snapshot& snapshot(ThreadState& ts) const;
  const View* find_view(const Snapshot& snap, const Client& client) const;
  void add_client(const Client& client);
  void maybe_tick(TimePoint now);
  size_t choose_endpoint(ThreadState& ts, const View& view, const HostSet& set, uint32_t priority, uint64_t r,
                         const PickOptions& options, const Group** group_out, uint32_t* priority_out) const;
  Pick finish_pick(ThreadState& ts, const View& view, uint64_t r, const PickOptions& options, Admission admission);

  // Under mu_.
  void rebuild_locked(TimePoint now, Events& events);
  void sweep_locked(TimePoint now, Events& events);
  // Slow start: marks `ep` as warming from `now` (when slow start is configured).
  void start_warming_locked(Endpoint& ep, TimePoint now);
  // Rebuilds the table when warming endpoints' weights are due a step; ends finished warm-ups.
  void refresh_warming_locked(TimePoint now, Events& events);
  Duration warm_step() const;
  bool try_eject_locked(Endpoint& ep, EjectReason reason, TimePoint now, Events& events);
  void update_deadline_locked();
  void evaluate_rates_locked(TimePoint now, Events& events);

  // Outlier detection input; takes mu_ only when a threshold is crossed.
  void record_outcome(Endpoint& ep, const Outcome& outcome);
  void dispatch(Events&& events);

  ClusterConfig config_;
  std::unique_ptr<Clock> own_clock_;
  const Clock* clock_;
  std::unique_ptr<Random> own_random_;
  Random* random_;
  uint64_t default_seed_;  // seed of the per-thread default Random (when none was injected)
  Listener* listener_;
  bool auto_tick_;
  bool count_requests_;
  uint64_t uid_;
  CircuitBreaker breaker_;
  std::unique_ptr<LocalRateLimiter> limiter_;

  mutable std::mutex mu_;
  std::vector<EndpointPtr> members_;
  std::vector<Client> clients_;
  TimePoint next_interval_{0};
  TimePoint next_warm_refresh_{0};
  Published<Snapshot> snapshot_;  // what every picking thread reads (<gslb/published.hpp>)
  std::atomic<int64_t> next_deadline_{INT64_MAX};

  std::mutex events_mu_;
  std::deque<Event> event_queue_;
  bool draining_ = false;

  ShardedCounter picks_;
  ShardedCounter panic_picks_;
  std::atomic<uint64_t> no_healthy_{0};
  std::atomic<uint64_t> circuit_open_{0};
  std::atomic<uint64_t> rate_limited_{0};
  std::atomic<uint64_t> ejections_total_{0};
  std::atomic<uint64_t> ejections_overflow_{0};
  std::atomic<uint64_t> ejections_suspended_{0};
  std::array<std::atomic<uint64_t>, kEjectReasonCount> ejections_by_reason_{};
  std::atomic<uint64_t> rebuilds_{0};
};

}  // namespace gslb::route::detail
