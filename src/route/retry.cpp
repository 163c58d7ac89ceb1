#include "gslb/route/retry.hpp"

#include <algorithm>

#include "hash.hpp"

namespace gslb::route {

bool is_retriable(const RetryOn& on, const Outcome& o) {
  if (o.kind == Outcome::Kind::kLocalFailure) {
    if (on.server_error) return true;
    if (o.failure == LocalFailure::kConnectFailed) return on.connect_failure || on.gateway_error;
    return on.reset;
  }
  if (on.server_error && o.is_5xx()) return true;
  if (on.gateway_error && o.is_gateway_error()) return true;
  if (on.retriable_4xx && o.http_status == 409) return true;
  return std::find(on.status_codes.begin(), on.status_codes.end(), o.http_status) != on.status_codes.end();
}

Duration retry_backoff(uint32_t retry_number, Duration base, Duration max, Random& random) {
  using std::chrono::milliseconds;
  if (retry_number == 0 || base.count() <= 0) return Duration{0};
  // Envoy's JitteredExponentialBackOffStrategy::nextBackOffMs (source/common/common/
  // backoff_strategy.cc), in whole milliseconds as there: ceiling = (2^k - 1) * base, where k
  // (from 1) grows only while the ceiling is still <= max; the wait is min(random % ceiling, max).
  // 25 ms base, 250 ms max: retry 1 [0, 24], 2 [0, 74], 3 [0, 174], then ceiling 375 for good:
  // uniform in [0, 249] with probability 2/3 and exactly 250 ms with probability 1/3.
  const uint64_t base_ms = std::max<uint64_t>(1, static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(base).count()));
  const uint64_t max_ms = std::max<uint64_t>(
      base_ms, static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(max).count()));
  uint64_t k = 1;
  uint64_t ceiling = base_ms;
  for (uint32_t n = 1; n < retry_number && ceiling <= max_ms && k < 62; ++n) {
    ++k;
    ceiling = ((uint64_t{1} << k) - 1) * base_ms;
  }
  return milliseconds(static_cast<int64_t>(std::min(random.next() % ceiling, max_ms)));
}

const char* to_string(RetryVerdict v) {
  switch (v) {
    case RetryVerdict::kRetry: return "retry";
    case RetryVerdict::kSuccess: return "success";
    case RetryVerdict::kNotRetriable: return "not retriable";
    case RetryVerdict::kAttemptsExhausted: return "attempts exhausted";
    case RetryVerdict::kBudgetExhausted: return "retry budget exhausted";
    case RetryVerdict::kCircuitOpen: return "max_retries reached";
  }
  return "?";
}

RetryState::RetryState(const RetryConfig& config, Random& random, CircuitBreaker* breaker, RoutingPriority priority)
    : config_(config), random_(random), breaker_(breaker), priority_(priority) {}

void RetryState::attempted(const EndpointPtr& endpoint) {
  if (endpoint && std::find(tried_.begin(), tried_.end(), endpoint) == tried_.end()) tried_.push_back(endpoint);
}

RetryState::Decision RetryState::on_outcome(const Outcome& outcome) {
  retry_slot_.release();
  Decision d;
  if (!is_retriable(config_.retry_on, outcome)) {
    bool failed = outcome.kind == Outcome::Kind::kLocalFailure || outcome.is_5xx();
    d.verdict = failed ? RetryVerdict::kNotRetriable : RetryVerdict::kSuccess;
    return d;
  }
  if (retries_ >= config_.attempts) {
    d.verdict = RetryVerdict::kAttemptsExhausted;
    return d;
  }
  if (breaker_ != nullptr) {
    if (config_.budget_percent > 0) {
      // Envoy's retry budget: 20% of 50 active requests allows 10 retries in flight; with few
      // requests min_retry_concurrency (3) still lets a little through.
      double allowed = config_.budget_percent / 100.0 * breaker_->active(Resource::kRequest, priority_);
      uint32_t limit = std::max<uint32_t>(config_.min_retry_concurrency, static_cast<uint32_t>(allowed));
      if (breaker_->active(Resource::kRetry, priority_) >= limit) {
        d.verdict = RetryVerdict::kBudgetExhausted;
        return d;
      }
    }
    retry_slot_ = breaker_->try_acquire(Resource::kRetry, priority_);
    if (!retry_slot_) {
      d.verdict = RetryVerdict::kCircuitOpen;
      return d;
    }
  }
  ++retries_;
  d.verdict = RetryVerdict::kRetry;
  d.backoff = retry_backoff(retries_, config_.base_interval, config_.max_interval, random_);
  return d;
}

PickOptions RetryState::pick_options() const {
  PickOptions o;
  o.exclude = &tried_;
  o.priority = priority_;
  return o;
}

}  // namespace gslb::route
