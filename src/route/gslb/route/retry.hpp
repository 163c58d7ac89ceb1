// Retry policy helper: decides whether an attempt's outcome is retried, how long to back off,
// and keeps the endpoints already tried so the next pick avoids them (Envoy's previous_hosts).
// One RetryState per logical request; not shared between threads.
#pragma once

#include <vector>

#include "gslb/route/circuit_breaker.hpp"
#include "gslb/route/cluster.hpp"
#include "gslb/route/config.hpp"

namespace gslb::route {

bool is_retriable(const RetryOn& on, const Outcome& outcome);

// Envoy's fully jittered back-off as its source computes it (backoff_strategy.cc,
// JitteredExponentialBackOffStrategy): retry n (1-based) waits min(random % ceiling, max) whole
// milliseconds, ceiling = (2^n - 1) * base until the first ceiling above max, which then stays.
// With 25 ms and 250 ms: [0,24], [0,74], [0,174], then min(random % 375, 250) from retry 4 on.
Duration retry_backoff(uint32_t retry_number, Duration base, Duration max, Random& random);

enum class RetryVerdict : uint8_t {
  kRetry, kSuccess, kNotRetriable, kAttemptsExhausted, kBudgetExhausted, kCircuitOpen,
};
const char* to_string(RetryVerdict v);

class RetryState {
 public:
  // `breaker` (optional) supplies max_retries and the active counts for the retry budget, those
  // of `priority` (the request's routing priority, also passed on by pick_options()).
  RetryState(const RetryConfig& config, Random& random, CircuitBreaker* breaker = nullptr,
             RoutingPriority priority = RoutingPriority::kDefault);

  struct Decision {
    RetryVerdict verdict = RetryVerdict::kSuccess;
    Duration backoff{0};
    bool retry() const { return verdict == RetryVerdict::kRetry; }
  };

  // Record the endpoint an attempt went to, so the next pick excludes it.
  void attempted(const EndpointPtr& endpoint);
  // After each attempt. On kRetry the state holds a retry slot until the next call or its end.
  Decision on_outcome(const Outcome& outcome);

  // Options for the next pick: exclude what was tried.
  PickOptions pick_options() const;
  uint32_t retries() const { return retries_; }
  const std::vector<EndpointPtr>& tried() const { return tried_; }

 private:
  const RetryConfig& config_;
  Random& random_;
  CircuitBreaker* breaker_;
  RoutingPriority priority_;
  uint32_t retries_ = 0;
  std::vector<EndpointPtr> tried_;
  Admission retry_slot_;
};

}  // namespace gslb::route
