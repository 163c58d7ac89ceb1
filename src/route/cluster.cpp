#include <algorithm>
#include <limits>
#include <random>

#include "cluster_impl.hpp"
#include "hash.hpp"
#include "outlier.hpp"

namespace gslb::route {

namespace {

// Beyond this many distinct client identities a cluster stops caching their views and builds a
// throwaway one per pick: slow, but memory stays bounded if an application passes per-request
// localities by mistake.
constexpr size_t kMaxCachedClients = 64;

std::atomic<uint64_t> next_cluster_uid{1};

// Threads get consecutive numbers, so the first eight never share a ShardedCounter line.
std::atomic<uint32_t> next_thread_number{0};

// SplitMix64 step on a per-thread state: picking threads never share a cache line for
// randomness (a shared atomic state costs ~50 ns a pick with two threads). A thread's state is
// seeded on its first draw, from the seed of the cluster that drew first and the thread number.
uint64_t thread_random(detail::ThreadState& ts, uint64_t seed) noexcept {
  if (!ts.random_seeded) {
    ts.random_state = detail::mix64(seed ^ (uint64_t{ts.shard} << 32));
    ts.random_seeded = true;
  }
  ts.random_state += 0x9e3779b97f4a7c15ULL;
  return detail::mix64(ts.random_state);
}

// The default Random, for callers outside the pick path (retry back-off).
class ThreadLocalRandom final : public Random {
 public:
  explicit ThreadLocalRandom(uint64_t seed) : seed_(seed) {}
  uint64_t next() noexcept override { return thread_random(detail::this_thread_state(), seed_); }
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
};

}  // namespace

Endpoint::Endpoint(EndpointSpec spec)
    : spec_(std::move(spec)), name_(spec_.address + ":" + std::to_string(spec_.port)), health_(spec_.health) {}

const char* to_string(PickError e) {
  switch (e) {
    case PickError::kNone: return "ok";
    case PickError::kNoHealthyEndpoint: return "no healthy endpoint";
    case PickError::kCircuitOpen: return "circuit open";
    case PickError::kRateLimited: return "rate limited";
  }
  return "?";
}

const char* to_string(EventKind k) {
  switch (k) {
    case EventKind::kEjected: return "ejected";
    case EventKind::kReturned: return "returned";
    case EventKind::kPanicEntered: return "panic entered";
    case EventKind::kPanicLeft: return "panic left";
  }
  return "?";
}

const char* to_string(EjectReason r) {
  switch (r) {
    case EjectReason::kNone: return "none";
    case EjectReason::kConsecutive5xx: return "consecutive_5xx";
    case EjectReason::kConsecutiveGatewayError: return "consecutive_gateway_errors";
    case EjectReason::kConsecutiveLocalOrigin: return "consecutive_local_origin_failures";
    case EjectReason::kSuccessRate: return "success_rate";
    case EjectReason::kFailurePercentage: return "failure_percentage";
    case EjectReason::kSuccessRateLocalOrigin: return "success_rate_local_origin";
    case EjectReason::kFailurePercentageLocalOrigin: return "failure_percentage_local_origin";
  }
  return "?";
}

namespace detail {

void ShardedCounter::add(uint32_t shard, uint64_t n) noexcept {
  shards_[shard % shards_.size()].value.fetch_add(n, std::memory_order_relaxed);
}

ThreadState& this_thread_state() noexcept {
  thread_local ThreadState state = [] {
    ThreadState s;
    s.shard = next_thread_number.fetch_add(1);
    return s;
  }();
  return state;
}

uint64_t ShardedCounter::sum() const noexcept {
  uint64_t s = 0;
  for (const auto& shard : shards_) s += shard.value.load(std::memory_order_relaxed);
  return s;
}

ClusterImpl::ClusterImpl(ClusterConfig config, ClusterOptions options)
    : config_(std::move(config)),
      own_clock_(options.clock ? nullptr : std::make_unique<SteadyClock>()),
      clock_(options.clock ? options.clock : own_clock_.get()),
      own_random_(options.random ? nullptr : std::make_unique<ThreadLocalRandom>(std::random_device{}())),
      random_(options.random ? options.random : own_random_.get()),
      default_seed_(options.random ? 0 : static_cast<ThreadLocalRandom*>(own_random_.get())->seed()),
      listener_(options.listener),
      auto_tick_(options.auto_tick),
      // Counting requests costs an atomic write on a line every thread shares, so only do it
      // when something reads the count: max_requests or the retry budget.
      count_requests_(config_.circuit_breaker.max_requests > 0 || config_.circuit_breaker.high.max_requests > 0 ||
                      config_.retry.budget_percent > 0),
      uid_(next_cluster_uid.fetch_add(1)),
      breaker_(config_.circuit_breaker) {
  if (config_.rate_limit.enabled) limiter_ = std::make_unique<LocalRateLimiter>(config_.rate_limit, *clock_);
  Events events;
  std::lock_guard lock(mu_);
  for (const auto& spec : config_.endpoints) members_.push_back(std::make_shared<Endpoint>(spec));
  TimePoint now = clock_->now();
  next_interval_ = now + config_.outlier.interval;
  rebuild_locked(now, events);
  update_deadline_locked();
}

ClusterImpl::~ClusterImpl() = default;

// A per-thread reader of the published snapshot, so a pick costs one atomic load of the
// generation instead of a shared_ptr copy (a lock plus two refcount writes on a line every
// thread shares). A collision between clusters in a slot only costs a reload.
const Snapshot& ClusterImpl::snapshot(ThreadState& ts) const {
  SnapshotSlot& slot = ts.snapshots[uid_ & 7];
  if (slot.uid != uid_) {
    slot.uid = uid_;
    slot.reader = {};
  }
  snapshot_.refresh(slot.reader);
  return *slot.reader.value;
}

const View* ClusterImpl::find_view(const Snapshot& snap, const Client& client) const {
  for (const auto& v : snap.views) {
    if (v->client == client) return v.get();
  }
  return nullptr;
}

void ClusterImpl::add_client(const Client& client) {
  Events events;
  {
    std::lock_guard lock(mu_);
    if (std::find(clients_.begin(), clients_.end(), client) != clients_.end()) return;
    clients_.push_back(client);
    rebuild_locked(clock_->now(), events);
  }
  dispatch(std::move(events));
}

void ClusterImpl::maybe_tick(TimePoint now) {
  Events events;
  {
    std::unique_lock lock(mu_, std::try_to_lock);
    // Another thread holds the lock and will publish; this pick goes on with what it has.
    if (!lock.owns_lock()) return;
    sweep_locked(now, events);
  }
  dispatch(std::move(events));
}

Pick ClusterImpl::pick(const Client& client, const PickOptions& options) {
  if (auto_tick_) {
    int64_t deadline = next_deadline_.load(std::memory_order_relaxed);
    if (deadline != INT64_MAX) {
      TimePoint now = clock_->now();
      if (now.count() >= deadline) maybe_tick(now);
    }
  }
  if (limiter_ && !limiter_->allow(options.rate_limit_key, options.descriptors)) {
    rate_limited_.fetch_add(1, std::memory_order_relaxed);
    return Pick(PickError::kRateLimited);
  }
  Admission admission;
  if (count_requests_) {
    admission = breaker_.try_acquire(Resource::kRequest, options.priority);
    if (!admission) {
      circuit_open_.fetch_add(1, std::memory_order_relaxed);
      return Pick(PickError::kCircuitOpen);
    }
  }
  ThreadState& ts = this_thread_state();
  uint64_t r = own_random_ ? thread_random(ts, default_seed_) : random_->next();
  const View* view = find_view(snapshot(ts), client);
  if (view == nullptr) {
    bool cacheable;
    {
      std::lock_guard lock(mu_);
      cacheable = clients_.size() < kMaxCachedClients;
    }
    if (!cacheable) {
      std::unique_ptr<View> transient;
      {
        std::lock_guard lock(mu_);
        transient = build_view(client, members_, config_, clock_->now());
      }
      return finish_pick(ts, *transient, r, options, std::move(admission));
    }
    add_client(client);
    view = find_view(snapshot(ts), client);
  }
  return finish_pick(ts, *view, r, options, std::move(admission));
}

Pick ClusterImpl::finish_pick(ThreadState& ts, const View& view, uint64_t r, const PickOptions& options,
                              Admission admission) {
  // With a hash key the priority comes from the key too, so one key keeps hitting one endpoint.
  uint64_t selector = options.hash_key ? mix64(*options.hash_key ^ 0x7072696fULL) : r;
  uint8_t entry = view.priority_of_percent[bounded(selector, 100)];
  const uint32_t p = entry & ~kDegradedBucket;
  const PriorityLevel* level = entry == kNoPriority ? nullptr : &view.priorities[p];
  const HostSet* set = level == nullptr ? nullptr : (entry & kDegradedBucket) ? &level->degraded : &level->healthy;
  if (set == nullptr || set->total == 0 || (level->panic && view.fail_traffic_on_panic)) {
    no_healthy_.fetch_add(1, std::memory_order_relaxed);
    return Pick(PickError::kNoHealthyEndpoint);
  }
  const Group* group = nullptr;
  uint32_t chosen_priority = p;
  size_t index = choose_endpoint(ts, view, *set, p, r, options, &group, &chosen_priority);
  if (group == nullptr) {
    no_healthy_.fetch_add(1, std::memory_order_relaxed);
    return Pick(PickError::kNoHealthyEndpoint);
  }
  Pick out;
  out.endpoint_ = group->hosts()[index];
  out.endpoint_->active_.fetch_add(1, std::memory_order_relaxed);
  out.admission_ = std::move(admission);
  out.error_ = PickError::kNone;
  out.priority_ = chosen_priority;
  out.panic_ = view.priorities[chosen_priority].panic;
  picks_.add(ts.shard);
  if (out.panic_) panic_picks_.add(ts.shard);
  return out;
}

size_t ClusterImpl::choose_endpoint(ThreadState& ts, const View& view, const HostSet& set, uint32_t p, uint64_t r,
                                    const PickOptions& options, const Group** group_out,
                                    uint32_t* priority_out) const {
  uint64_t r2 = mix64(r ^ 0x5bd1e995ULL);
  size_t g = 0;
  if (set.groups.size() > 1) {
    uint64_t pos = bounded(options.hash_key ? mix64(*options.hash_key) : r2, set.total);
    g = static_cast<size_t>(std::upper_bound(set.cumulative.begin(), set.cumulative.end(), pos) - set.cumulative.begin());
  }
  const Group* group = set.groups[g].get();
  if (group->empty()) return 0;
  const uint64_t* hash = options.hash_key ? &*options.hash_key : nullptr;
  size_t index = group->choose(r, r2, hash, 0, ts.round_robin);
  *group_out = group;
  if (options.exclude == nullptr || options.exclude->empty()) return index;

  auto excluded = [&](const EndpointPtr& ep) {
    return std::find(options.exclude->begin(), options.exclude->end(), ep) != options.exclude->end();
  };
  // Envoy's previous_hosts predicate: re-pick a few times, then settle.
  for (uint32_t attempt = 1; excluded(group->hosts()[index]) && attempt <= config_.retry.host_selection_attempts;
       ++attempt) {
    r = mix64(r + attempt);
    index = group->choose(r, mix64(r), hash, attempt, ts.round_robin);
  }
  if (!excluded(group->hosts()[index])) return index;
  // Still an endpoint already tried: take any untried selectable one, nearest priority first,
  // healthy before degraded, because a retry to a worse locality beats a retry to the endpoint
  // that just failed.
  for (size_t step = 0; step < view.priorities.size(); ++step) {
    size_t q = (p + step) % view.priorities.size();
    for (const HostSet* candidates : {&view.priorities[q].healthy, &view.priorities[q].degraded}) {
      for (const auto& grp : candidates->groups) {
        for (size_t i = 0; i < grp->size(); ++i) {
          if (!excluded(grp->hosts()[i])) {
            *group_out = grp.get();
            *priority_out = static_cast<uint32_t>(q);
            return i;
          }
        }
      }
    }
  }
  return index;
}

void ClusterImpl::report(Pick& pick, const Outcome& outcome) {
  if (pick.endpoint_) record_outcome(*pick.endpoint_, outcome);
  pick.finish();
}

void ClusterImpl::report(const Endpoint& endpoint, const Outcome& outcome) {
  // Outlier counters are atomics meant to be written by reports; the Endpoint is shared and
  // logically const to everyone else.
  record_outcome(const_cast<Endpoint&>(endpoint), outcome);
}

bool ClusterImpl::set_health(std::string_view address, uint16_t port, Health health) {
  Events events;
  bool found = false;
  {
    std::lock_guard lock(mu_);
    for (auto& ep : members_) {
      if (ep->address() != address || ep->port() != port) continue;
      found = true;
      if (ep->health() != health) {
        TimePoint now = clock_->now();
        if (health == Health::kHealthy) start_warming_locked(*ep, now);
        ep->health_.store(health, std::memory_order_release);
        rebuild_locked(now, events);
        update_deadline_locked();
      }
      break;
    }
  }
  dispatch(std::move(events));
  return found;
}

Errors ClusterImpl::update(std::vector<EndpointSpec> specs) {
  ClusterConfig candidate = config_;
  candidate.endpoints = specs;
  Errors errors = validate(candidate);
  if (!errors.empty()) return errors;
  Events events;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = clock_->now();
    std::vector<EndpointPtr> next;
    for (auto& spec : specs) {
      auto old = std::find_if(members_.begin(), members_.end(), [&](const EndpointPtr& ep) {
        return ep->address() == spec.address && ep->port() == spec.port;
      });
      if (old != members_.end()) {
        const EndpointSpec& o = (*old)->spec();
        if (o.weight == spec.weight && o.locality == spec.locality && o.labels == spec.labels) {
          if ((*old)->health() != Health::kHealthy && spec.health == Health::kHealthy) start_warming_locked(**old, now);
          (*old)->health_.store(spec.health, std::memory_order_release);
          next.push_back(*old);
          continue;
        }
      }
      auto ep = std::make_shared<Endpoint>(std::move(spec));
      if (old != members_.end()) {
        // Same endpoint with new metadata: keep its ejection so an update cannot launder an outlier.
        ep->ejected_.store((*old)->ejected());
        ep->ejected_until_ = (*old)->ejected_until_;
        ep->multiplier_.store((*old)->times_ejected());
        ep->returned_at_ = (*old)->returned_at_;
        ep->has_returned_ = (*old)->has_returned_;
        ep->warming_ = (*old)->warming_;
        ep->warm_since_ = (*old)->warm_since_;
      } else if (ep->health() == Health::kHealthy) {
        // Envoy puts hosts added after the cluster's first membership into slow start.
        start_warming_locked(*ep, now);
      }
      next.push_back(std::move(ep));
    }
    for (auto& ep : members_) {
      if (std::find(next.begin(), next.end(), ep) == next.end()) ep->removed_.store(true);
    }
    members_ = std::move(next);
    rebuild_locked(now, events);
    update_deadline_locked();
  }
  dispatch(std::move(events));
  return {};
}

void ClusterImpl::tick() {
  Events events;
  {
    std::lock_guard lock(mu_);
    sweep_locked(clock_->now(), events);
  }
  dispatch(std::move(events));
}

void ClusterImpl::rebuild_locked(TimePoint now, Events& events) {
  auto next = std::make_shared<Snapshot>();
  std::shared_ptr<const Snapshot> previous = snapshot_.current();
  for (size_t c = 0; c < clients_.size(); ++c) {
    next->views.push_back(build_view(clients_[c], members_, config_, now));
    const View& now_view = *next->views.back();
    const View* before = previous && c < previous->views.size() ? previous->views[c].get() : nullptr;
    for (size_t p = 0; p < now_view.priorities.size(); ++p) {
      bool was = before != nullptr && p < before->priorities.size() && before->priorities[p].panic;
      bool is = now_view.priorities[p].panic;
      if (was == is) continue;
      Event e;
      e.kind = is ? EventKind::kPanicEntered : EventKind::kPanicLeft;
      e.cluster = config_.name;
      e.client = clients_[c];
      e.priority = static_cast<uint32_t>(p);
      e.at = now;
      events.push_back(std::move(e));
    }
  }
  snapshot_.publish(std::move(next));
  rebuilds_.fetch_add(1, std::memory_order_relaxed);
}

void ClusterImpl::update_deadline_locked() {
  // The interval sweep has work when rate-based ejection is on, when an endpoint is ejected
  // (it returns only at a sweep) or has an ejection to be forgiven. Otherwise (Istio's defaults,
  // nothing ejected) the deadline is "never", and pick() skips reading the clock altogether.
  const OutlierConfig& c = config_.outlier;
  bool interval_work = rate_sweeps_enabled(c);
  for (const auto& ep : members_) {
    if (ep->ejected() || ep->times_ejected() > 0) interval_work = true;
  }
  int64_t deadline = c.enabled && interval_work ? next_interval_.count() : INT64_MAX;
  for (const auto& ep : members_) {
    if (ep->warming_) deadline = std::min(deadline, next_warm_refresh_.count());
  }
  next_deadline_.store(deadline, std::memory_order_relaxed);
}

void ClusterImpl::start_warming_locked(Endpoint& ep, TimePoint now) {
  if (config_.lb.slow_start.slow_start_window.count() <= 0) return;
  ep.warming_ = true;
  ep.warm_since_ = now;
  next_warm_refresh_ = std::min(next_warm_refresh_, now + warm_step());
}

// Envoy recomputes a warming host's weight at each pick (EDF pickAndAdd); here the routing table
// is rebuilt in steps of window / 20 (at least 50 ms), so the pick path stays a table read.
Duration ClusterImpl::warm_step() const {
  return std::max<Duration>(std::chrono::milliseconds(50), config_.lb.slow_start.slow_start_window / 20);
}

void ClusterImpl::refresh_warming_locked(TimePoint now, Events& events) {
  if (now < next_warm_refresh_) return;
  bool any = false;
  for (const auto& ep : members_) {
    if (!ep->warming_) continue;
    any = true;
    if (now - ep->warm_since_ >= config_.lb.slow_start.slow_start_window) ep->warming_ = false;
  }
  if (!any) return;
  next_warm_refresh_ = now + warm_step();
  rebuild_locked(now, events);
}

void ClusterImpl::dispatch(Events&& events) {
  if (listener_ == nullptr || events.empty()) return;
  std::unique_lock lock(events_mu_);
  for (auto& e : events) event_queue_.push_back(std::move(e));
  // One thread drains at a time, so the listener sees events one by one and in order, and a
  // listener that calls back into the cluster only queues more instead of deadlocking.
  if (draining_) return;
  draining_ = true;
  while (!event_queue_.empty()) {
    Event e = std::move(event_queue_.front());
    event_queue_.pop_front();
    lock.unlock();
    listener_->on_event(e);
    lock.lock();
  }
  draining_ = false;
}

std::vector<EndpointPtr> ClusterImpl::endpoints() const {
  std::lock_guard lock(mu_);
  return members_;
}

std::vector<PriorityInfo> ClusterImpl::priorities(const Client& client) {
  std::unique_ptr<View> view;
  {
    std::lock_guard lock(mu_);
    view = build_view(client, members_, config_, clock_->now());
  }
  std::vector<PriorityInfo> out;
  for (const auto& level : view->priorities) {
    PriorityInfo info;
    info.load_percent = level.load;
    info.degraded_load_percent = level.degraded_load;
    info.healthy = level.healthy_count;
    info.degraded = level.degraded_count;
    info.total = level.total;
    info.panic = level.panic;
    for (const auto& ep : level.members) info.endpoints.push_back(ep->name());
    out.push_back(std::move(info));
  }
  return out;
}

ClusterStats ClusterImpl::stats() const {
  ClusterStats s;
  s.picks = picks_.sum();
  s.panic_picks = panic_picks_.sum();
  s.no_healthy = no_healthy_.load();
  s.circuit_open = circuit_open_.load();
  s.rate_limited = rate_limited_.load();
  s.ejections_total = ejections_total_.load();
  s.ejections_overflow = ejections_overflow_.load();
  s.ejections_suspended = ejections_suspended_.load();
  for (size_t i = 0; i < s.ejections_by_reason.size(); ++i) s.ejections_by_reason[i] = ejections_by_reason_[i].load();
  s.rebuilds = rebuilds_.load();
  std::lock_guard lock(mu_);
  for (const auto& ep : members_) s.ejections_active += ep->ejected() ? 1 : 0;
  return s;
}

}  // namespace detail

Result<std::unique_ptr<Cluster>> Cluster::create(ClusterConfig config, ClusterOptions options) {
  Errors errors = validate(config);
  if (!errors.empty()) return errors;
  return std::unique_ptr<Cluster>(new Cluster(std::make_unique<detail::ClusterImpl>(std::move(config), options)));
}

Cluster::Cluster(std::unique_ptr<detail::ClusterImpl> impl) : impl_(std::move(impl)) {}
Cluster::~Cluster() = default;
Pick Cluster::pick(const Client& client, const PickOptions& options) { return impl_->pick(client, options); }
Pick Cluster::pick(const Client& client, uint64_t hash_key) {
  PickOptions options;
  options.hash_key = hash_key;
  return impl_->pick(client, options);
}
void Cluster::report(Pick& pick, const Outcome& outcome) { impl_->report(pick, outcome); }
void Cluster::report(const Endpoint& endpoint, const Outcome& outcome) { impl_->report(endpoint, outcome); }
bool Cluster::set_health(std::string_view address, uint16_t port, Health health) {
  return impl_->set_health(address, port, health);
}
Errors Cluster::update(std::vector<EndpointSpec> endpoints) { return impl_->update(std::move(endpoints)); }
void Cluster::tick() { impl_->tick(); }
std::vector<EndpointPtr> Cluster::endpoints() const { return impl_->endpoints(); }
std::vector<PriorityInfo> Cluster::priorities(const Client& client) { return impl_->priorities(client); }
ClusterStats Cluster::stats() const { return impl_->stats(); }
const ClusterConfig& Cluster::config() const { return impl_->config(); }
CircuitBreaker& Cluster::circuit_breaker() { return impl_->breaker(); }
Random& Cluster::random() { return impl_->random(); }

}  // namespace gslb::route
