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
  if (retry_number == 0 || base.count() <= 0) return Duration{0};
  // (2^n - 1) * base, computed without overflow: past 2^20 the cap has long been reached.
  uint64_t factor = retry_number >= 20 ? (uint64_t{1} << 20) - 1 : (uint64_t{1} << retry_number) - 1;
  uint64_t ceiling = static_cast<uint64_t>(base.count()) * factor;
  ceiling = std::min<uint64_t>(ceiling, static_cast<uint64_t>(std::max(max, base).count()));
  return Duration{static_cast<int64_t>(detail::bounded(random.next(), ceiling))};
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

RetryState::RetryState(const RetryConfig& config, Random& random, CircuitBreaker* breaker)
    : config_(config), random_(random), breaker_(breaker) {}

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
      double allowed = config_.budget_percent / 100.0 * breaker_->active(Resource::kRequest);
      uint32_t limit = std::max<uint32_t>(config_.min_retry_concurrency, static_cast<uint32_t>(allowed));
      if (breaker_->active(Resource::kRetry) >= limit) {
        d.verdict = RetryVerdict::kBudgetExhausted;
        return d;
      }
    }
    retry_slot_ = breaker_->try_acquire(Resource::kRetry);
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
  return o;
}

}  // namespace gslb::route
