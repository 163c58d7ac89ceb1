#include "outlier.hpp"

#include <algorithm>
#include <cmath>

#include "cluster_impl.hpp"
#include "hash.hpp"

namespace gslb::route::detail {

bool rate_sweeps_enabled(const OutlierConfig& c) {
  return c.enforcing_success_rate > 0 || c.enforcing_failure_percentage > 0 ||
         (c.split_external_local_origin_errors &&
          (c.enforcing_local_origin_success_rate > 0 || c.enforcing_failure_percentage_local_origin > 0));
}

bool ejection_within_limit(uint64_t ejected, uint64_t total, const OutlierConfig& config) {
  if (total == 0) return false;
  if (config.always_eject_one_host && ejected == 0) return true;
  return (ejected + 1) * 100 <= uint64_t{config.max_ejection_percent} * total;
}

Duration ejection_duration(uint32_t times_ejected, const OutlierConfig& config) {
  Duration cap = std::max(config.base_ejection_time, config.max_ejection_time);
  // Compare before multiplying: 5 m base times a large count would overflow nanoseconds.
  if (times_ejected > 0 && config.base_ejection_time.count() > 0 &&
      times_ejected > cap.count() / config.base_ejection_time.count()) {
    return cap;
  }
  return std::min(cap, config.base_ejection_time * times_ejected);
}

std::vector<size_t> success_rate_outliers(const std::vector<HostSample>& samples, const OutlierConfig& config) {
  std::vector<size_t> eligible;
  std::vector<double> rates;
  for (size_t i = 0; i < samples.size(); ++i) {
    uint64_t volume = samples[i].success + samples[i].failure;
    if (volume == 0 || volume < config.success_rate_request_volume) continue;
    eligible.push_back(i);
    rates.push_back(100.0 * static_cast<double>(samples[i].success) / static_cast<double>(volume));
  }
  std::vector<size_t> out;
  if (eligible.empty() || eligible.size() < config.success_rate_minimum_hosts) return out;
  double mean = 0;
  for (double r : rates) mean += r;
  mean /= static_cast<double>(rates.size());
  double variance = 0;
  for (double r : rates) variance += (r - mean) * (r - mean);
  double stdev = std::sqrt(variance / static_cast<double>(rates.size()));
  // Envoy's example: rates 100,100,100,100,50 -> mean 90, stdev 20, factor 1.9 -> threshold
  // 52: the host at 50% is an outlier.
  double threshold = mean - stdev * (static_cast<double>(config.success_rate_stdev_factor) / 1000.0);
  for (size_t k = 0; k < eligible.size(); ++k) {
    if (rates[k] < threshold) out.push_back(eligible[k]);
  }
  return out;
}

std::vector<size_t> failure_percentage_outliers(const std::vector<HostSample>& samples,
                                                const OutlierConfig& config) {
  std::vector<size_t> eligible;
  for (size_t i = 0; i < samples.size(); ++i) {
    uint64_t volume = samples[i].success + samples[i].failure;
    if (volume > 0 && volume >= config.failure_percentage_request_volume) eligible.push_back(i);
  }
  std::vector<size_t> out;
  if (eligible.empty() || eligible.size() < config.failure_percentage_minimum_hosts) return out;
  for (size_t i : eligible) {
    uint64_t volume = samples[i].success + samples[i].failure;
    if (samples[i].failure * 100 >= uint64_t{config.failure_percentage_threshold} * volume) out.push_back(i);
  }
  return out;
}

namespace {

// Resets a run counter without writing when it is already 0: a success is the common case, and
// an unconditional store would pull the endpoint's line away from every other reporting thread.
void reset_run(std::atomic<uint32_t>& counter) {
  if (counter.load(std::memory_order_relaxed) != 0) counter.store(0, std::memory_order_relaxed);
}

void count(std::atomic<uint64_t>& counter, bool enabled) {
  if (enabled) counter.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void ClusterImpl::record_outcome(Endpoint& ep, const Outcome& outcome) {
  const OutlierConfig& c = config_.outlier;
  if (!c.enabled) return;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  // Per-interval volumes feed only the success-rate and failure-percentage sweeps.
  const bool rates = rate_sweeps_enabled(c);
  uint32_t n5xx = 0, ngw = 0, nlocal = 0;
  if (outcome.kind == Outcome::Kind::kHttp) {
    count(outcome.is_5xx() ? ep.interval_failure_ : ep.interval_success_, rates);
    if (c.split_external_local_origin_errors) {
      // A response of any status proves the connection worked.
      reset_run(ep.consecutive_local_);
      count(ep.interval_local_success_, rates);
    }
    if (outcome.is_5xx()) {
      n5xx = ep.consecutive_5xx_.fetch_add(1, kRelaxed) + 1;
      if (outcome.is_gateway_error()) {
        ngw = ep.consecutive_gateway_.fetch_add(1, kRelaxed) + 1;
      } else {
        reset_run(ep.consecutive_gateway_);
      }
    } else {
      // Envoy: anything but a 5xx (a 404 included) ends both runs.
      reset_run(ep.consecutive_5xx_);
      reset_run(ep.consecutive_gateway_);
    }
  } else if (c.split_external_local_origin_errors) {
    count(ep.interval_local_failure_, rates);
    nlocal = ep.consecutive_local_.fetch_add(1, kRelaxed) + 1;
  } else {
    // Not split: Envoy maps a failed connect, a reset or a timeout to a 503/504, i.e. a gateway
    // error, so it counts toward both consecutive_5xx and consecutive_gateway_errors.
    count(ep.interval_failure_, rates);
    n5xx = ep.consecutive_5xx_.fetch_add(1, kRelaxed) + 1;
    ngw = ep.consecutive_gateway_.fetch_add(1, kRelaxed) + 1;
  }

  EjectReason reason = EjectReason::kNone;
  if (c.consecutive_5xx > 0 && n5xx >= c.consecutive_5xx) reason = EjectReason::kConsecutive5xx;
  else if (c.consecutive_gateway_errors > 0 && ngw >= c.consecutive_gateway_errors)
    reason = EjectReason::kConsecutiveGatewayError;
  else if (c.consecutive_local_origin_failures > 0 && nlocal >= c.consecutive_local_origin_failures)
    reason = EjectReason::kConsecutiveLocalOrigin;
  if (reason == EjectReason::kNone || ep.ejected() || ep.removed_.load(kRelaxed)) return;

  Events events;
  {
    std::lock_guard lock(mu_);
    TimePoint now = clock_->now();
    if (try_eject_locked(ep, reason, now, events)) {
      rebuild_locked(now, events);
      update_deadline_locked();
    }
  }
  dispatch(std::move(events));
}

bool ClusterImpl::try_eject_locked(Endpoint& ep, EjectReason reason, TimePoint now, Events& events) {
  if (ep.ejected() || ep.removed_.load()) return false;
  const OutlierConfig& c = config_.outlier;
  uint64_t total = members_.size(), ejected = 0, serving = 0;
  for (const auto& m : members_) {
    if (m->ejected()) ++ejected;
    else if (m->health() != Health::kUnhealthy) ++serving;
  }
  if (uint64_t{c.min_healthy_to_eject_percent} * total > serving * 100) {
    ejections_suspended_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!ejection_within_limit(ejected, total, c)) {
    ejections_overflow_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Envoy's ejectHost raises the multiplier only while base * m < max + base, so it stops one
  // step past the cap (30 s base, 300 s max: at 11) and a long-failing endpoint needs at most 11
  // forgiven intervals, not one per ejection it ever had, to start again at 30 s.
  uint32_t times = ep.multiplier_.load();
  if (c.base_ejection_time * times < c.max_ejection_time + c.base_ejection_time) ++times;
  ep.multiplier_.store(times);
  Duration duration = ejection_duration(times, c);
  // Envoy: jitter = random % (max_ejection_time_jitter_ms + 1) milliseconds, drawn per ejection.
  const auto jitter_ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.max_ejection_time_jitter).count();
  if (jitter_ms > 0) duration += std::chrono::milliseconds(random_->next() % (static_cast<uint64_t>(jitter_ms) + 1));
  ep.ejected_until_ = now + duration;
  ep.ejected_.store(true, std::memory_order_release);
  // Envoy starts counting afresh after an ejection.
  ep.consecutive_5xx_.store(0);
  ep.consecutive_gateway_.store(0);
  ep.consecutive_local_.store(0);
  ejections_total_.fetch_add(1, std::memory_order_relaxed);
  ejections_by_reason_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);

  Event e;
  e.kind = EventKind::kEjected;
  e.cluster = config_.name;
  for (const auto& m : members_) {
    if (m.get() == &ep) e.endpoint = m;
  }
  e.reason = reason;
  e.ejection_time = duration;
  e.at = now;
  events.push_back(std::move(e));
  return true;
}

void ClusterImpl::evaluate_rates_locked(TimePoint now, Events& events) {
  const OutlierConfig& c = config_.outlier;
  const bool split = c.split_external_local_origin_errors;
  std::vector<HostSample> external(members_.size()), local(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    Endpoint& ep = *members_[i];
    HostSample ext{ep.interval_success_.exchange(0), ep.interval_failure_.exchange(0)};
    HostSample loc{ep.interval_local_success_.exchange(0), ep.interval_local_failure_.exchange(0)};
    // Envoy's processSuccessRateEjections leaves ejected hosts out of the statistics.
    if (ep.ejected()) continue;
    external[i] = ext;
    local[i] = loc;
  }
  // Enforcement is a percentage chance per outlier, as in Envoy (100 = always eject).
  auto enforce = [&](uint32_t percent) { return percent >= 100 || bounded(random_->next(), 100) < percent; };
  auto sweep = [&](const std::vector<HostSample>& samples, uint32_t sr_enforcing, uint32_t fp_enforcing,
                   EjectReason sr_reason, EjectReason fp_reason) {
    if (sr_enforcing > 0) {
      for (size_t i : success_rate_outliers(samples, c)) {
        if (enforce(sr_enforcing)) try_eject_locked(*members_[i], sr_reason, now, events);
      }
    }
    if (fp_enforcing > 0) {
      for (size_t i : failure_percentage_outliers(samples, c)) {
        if (enforce(fp_enforcing)) try_eject_locked(*members_[i], fp_reason, now, events);
      }
    }
  };
  sweep(external, c.enforcing_success_rate, c.enforcing_failure_percentage, EjectReason::kSuccessRate,
        EjectReason::kFailurePercentage);
  // Envoy's onIntervalTimer runs the same two sweeps over the local-origin monitor, which only
  // receives outcomes when the split is on.
  if (split) {
    sweep(local, c.enforcing_local_origin_success_rate, c.enforcing_failure_percentage_local_origin,
          EjectReason::kSuccessRateLocalOrigin, EjectReason::kFailurePercentageLocalOrigin);
  }
}

void ClusterImpl::sweep_locked(TimePoint now, Events& events) {
  refresh_warming_locked(now, events);
  const OutlierConfig& c = config_.outlier;
  // Envoy brings ejected hosts back only from its interval timer (outlier_detection_impl.cc:
  // onIntervalTimer -> checkHostForUneject), so an endpoint whose time is up waits for the next
  // sweep: up to one interval longer than its ejection time.
  if (!c.enabled || now < next_interval_) {
    update_deadline_locked();
    return;
  }
  // A sweep run late (by a pick or tick() after the due time) acts as the one due last, so an
  // ejection that ended after that moment still waits for the next.
  const TimePoint sweep_at = now - (now - next_interval_) % c.interval;
  bool changed = false;
  for (const auto& ep : members_) {
    if (!ep->ejected() || sweep_at < ep->ejected_until_) continue;
    ep->ejected_.store(false, std::memory_order_release);
    ep->returned_at_ = sweep_at;
    ep->has_returned_ = true;
    // Envoy's unejectHost resets the runs so a few new errors do not eject it again at once.
    ep->consecutive_5xx_.store(0);
    ep->consecutive_gateway_.store(0);
    ep->consecutive_local_.store(0);
    changed = true;
    Event e;
    e.kind = EventKind::kReturned;
    e.cluster = config_.name;
    e.endpoint = ep;
    e.at = now;
    events.push_back(std::move(e));
  }
  size_t ejections_before = events.size();
  evaluate_rates_locked(now, events);
  changed = changed || events.size() != ejections_before;
  // Envoy forgives one past ejection per sweep for an endpoint in service since at least one
  // interval, so one that failed once long ago is not punished with a doubled ejection next time.
  for (const auto& ep : members_) {
    uint32_t m = ep->multiplier_.load();
    if (!ep->ejected() && m > 0 && ep->has_returned_ && sweep_at - ep->returned_at_ >= c.interval) {
      ep->multiplier_.store(m - 1);
    }
  }
  // The sweeps keep the phase of a timer armed at creation (10 s, 20 s, ...).
  next_interval_ = sweep_at + c.interval;
  if (changed) rebuild_locked(now, events);
  update_deadline_locked();
}

}  // namespace gslb::route::detail
