// Plain configuration structs for a routed cluster, with the defaults Istio users expect, plus
// the TOML loader and the programmatic validator. Field names follow Envoy/Istio in snake_case.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gslb/route/types.hpp"

namespace gslb::route {

enum class LbPolicy : uint8_t { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev };

// Istio LocalityLoadBalancerSetting.Failover: when `from` region has no healthy endpoint left,
// `to` region comes next (before any other region).
struct FailoverRule {
  std::string from;
  std::string to;
};

// Istio LocalityLoadBalancerSetting.Distribute: clients matching `from` send weight/total of
// their traffic to each `to` pattern. Endpoints matching no `to` pattern receive nothing.
struct DistributeRule {
  std::string from;
  std::vector<std::pair<std::string, uint32_t>> to;  // pattern -> weight, in file order
};

struct LocalityLbConfig {
  bool enabled = true;  // false: every endpoint is priority 0, locality ignored
  std::vector<FailoverRule> failover;
  // Label keys, most general first; "key=value" fixes the value compared instead of the client's.
  std::vector<std::string> failover_priority;
  std::vector<DistributeRule> distribute;
};

// Envoy's slow_start_config (round robin and least request; Istio's warmupDurationSecs): an
// endpoint that joins, or turns healthy again through set_health, gets its weight scaled by
// max(min_weight_percent / 100, (t / window)^(1 / aggression)) until `window` has passed.
struct SlowStartConfig {
  Duration slow_start_window{0};  // 0: no slow start
  double aggression = 1.0;        // 1: linear; larger ramps up faster at first
  double min_weight_percent = 10.0;
};

struct LbConfig {
  LbPolicy policy = LbPolicy::kRoundRobin;
  SlowStartConfig slow_start;
  // Envoy's default 1.4: a priority keeps all its traffic while >= 1/1.4 = 71.4% is healthy.
  double overprovisioning_factor = 1.4;
  // Envoy's healthy_panic_threshold: percent of healthy (or degraded) endpoints below which a
  // priority routes to all of them; 0 disables panic. Unset: what Istio would give the sidecar,
  // see effective_panic_threshold().
  std::optional<uint32_t> panic_threshold;
  // Envoy's fail_traffic_on_panic: refuse requests instead of sending them to unhealthy endpoints.
  bool fail_traffic_on_panic = false;
  uint64_t minimum_ring_size = 1024;   // ring hash
  uint64_t maximum_ring_size = 8 * 1024 * 1024;
  uint64_t maglev_table_size = 65537;  // prime, as Maglev requires
};

// Defaults are Istio's DestinationRule OutlierDetection defaults (which differ from Envoy's in
// that success-rate ejection is off and max_ejection_percent is 10).
struct OutlierConfig {
  bool enabled = true;
  uint32_t consecutive_5xx = 5;                   // 0 disables
  uint32_t consecutive_gateway_errors = 0;        // 0 disables (Istio default)
  uint32_t consecutive_local_origin_failures = 5; // used only with split_external_local_origin_errors
  bool split_external_local_origin_errors = false;
  Duration interval = std::chrono::seconds(10);
  Duration base_ejection_time = std::chrono::seconds(30);
  Duration max_ejection_time = std::chrono::seconds(300);
  uint32_t max_ejection_percent = 10;
  // Envoy's always_eject_one_host: eject one endpoint even if that exceeds max_ejection_percent.
  bool always_eject_one_host = false;
  // Istio's OutlierDetection.minHealthPercent. Istio does not hand it to Envoy's outlier detector:
  // it sets the cluster's healthy_panic_threshold to it (pilot/pkg/networking/core/
  // cluster_traffic_policy.go,
  // applyOutlierDetection), so Istio's default 0 turns panic off. Here it does the same unless
  // load_balancer.panic_threshold is set.
  uint32_t min_health_percent = 0;
  // gslb's own guard (no Envoy or Istio equivalent): while fewer than this percent of the
  // endpoints are healthy, no new ejection happens. 0 (the default) disables it.
  uint32_t min_healthy_to_eject_percent = 0;
  // Envoy's max_ejection_time_jitter: each ejection lasts a further random 0..jitter (whole
  // milliseconds, as Envoy draws it), so endpoints ejected together do not all return together.
  Duration max_ejection_time_jitter{0};
  // Success-rate ejection (Envoy names); off unless enforcing_success_rate > 0.
  uint32_t enforcing_success_rate = 0;
  uint32_t success_rate_minimum_hosts = 5;
  uint32_t success_rate_request_volume = 100;
  uint32_t success_rate_stdev_factor = 1900;  // divided by 1000: mean - 1.9 * stdev
  // Failure-percentage ejection; off unless enforcing_failure_percentage > 0.
  uint32_t enforcing_failure_percentage = 0;
  uint32_t failure_percentage_threshold = 85;
  uint32_t failure_percentage_minimum_hosts = 5;
  uint32_t failure_percentage_request_volume = 50;
  // With split_external_local_origin_errors, Envoy also runs both sweeps over local-origin
  // outcomes alone (connect failures, timeouts, resets against successful connections), each
  // with its own enforcement. Envoy's defaults are 100 and 0; Istio's applyOutlierDetection
  // writes 0 for the first when it sets the split, which is the default here.
  uint32_t enforcing_local_origin_success_rate = 0;
  uint32_t enforcing_failure_percentage_local_origin = 0;
};

// Envoy's routing priority of a request (RoutingPriority: DEFAULT or HIGH). Each has its own
// circuit-breaker thresholds and counts, as in Envoy's circuit_breakers.thresholds[].priority.
enum class RoutingPriority : uint8_t { kDefault = 0, kHigh = 1 };
inline constexpr size_t kRoutingPriorityCount = 2;

// One Envoy circuit_breakers.thresholds entry. 0 means "no limit" here, as Istio's 0 means
// "unset"; Envoy's own defaults are 1024 for the first three and 3 for retries.
struct CircuitBreakerThresholds {
  uint32_t max_connections = 0;
  uint32_t max_pending_requests = 0;
  uint32_t max_requests = 0;
  uint32_t max_retries = 0;
};

// Istio ConnectionPoolSettings / Envoy circuit breakers: the DEFAULT thresholds (what Istio
// sets), the HIGH ones, and max_requests_per_connection, which Envoy keeps per cluster, not per
// priority.
struct CircuitBreakerConfig : CircuitBreakerThresholds {
  uint32_t max_requests_per_connection = 0;
  CircuitBreakerThresholds high;
};

// Which outcomes are retried (Envoy x-envoy-retry-on names).
struct RetryOn {
  bool server_error = false;     // "5xx": any 5xx and any local-origin failure
  bool gateway_error = true;     // "gateway-error": 502/503/504
  bool connect_failure = true;   // "connect-failure"
  bool reset = true;             // "reset": reset or timeout before a response
  bool retriable_4xx = false;    // "retriable-4xx": 409
  std::vector<int> status_codes; // "retriable-status-codes"
};

struct RetryConfig {
  uint32_t attempts = 2;  // retries after the first try (Istio's default)
  RetryOn retry_on;
  Duration base_interval = std::chrono::milliseconds(25);
  Duration max_interval = std::chrono::milliseconds(250);
  // Envoy retry_budget: retries active at once may not exceed budget_percent of active requests,
  // but min_retry_concurrency are always allowed. budget_percent 0 disables the budget.
  double budget_percent = 0;
  uint32_t min_retry_concurrency = 3;
  uint32_t host_selection_attempts = 3;  // re-picks to avoid a previously tried endpoint
};

struct TokenBucketConfig {
  uint32_t max_tokens = 100;
  uint32_t tokens_per_fill = 100;
  Duration fill_interval = std::chrono::seconds(1);
};

// Envoy's LocalRateLimitDescriptor: a bucket for requests that carry exactly these entries
// (key, value), in this order.
struct RateLimitDescriptor {
  std::vector<std::pair<std::string, std::string>> entries;
  TokenBucketConfig bucket;
};

// ASM/Envoy local rate limit: one default bucket, plus a bucket per configured key (gslb's
// shorthand: a keyed request takes from its key's bucket instead of the default one), plus
// Envoy's descriptors (local_ratelimit_impl.cc requestAllowed: every matching descriptor's
// bucket, tightest fill rate first, then the default bucket too unless
// always_consume_default_token_bucket is false and a descriptor matched).
struct RateLimitConfig {
  bool enabled = false;
  TokenBucketConfig bucket;
  std::vector<std::pair<std::string, TokenBucketConfig>> keys;
  std::vector<RateLimitDescriptor> descriptors;
  bool always_consume_default_token_bucket = true;  // Envoy's default
};

struct ClusterConfig {
  std::string name;
  LbConfig lb;
  LocalityLbConfig locality;
  OutlierConfig outlier;
  CircuitBreakerConfig circuit_breaker;
  RetryConfig retry;
  RateLimitConfig rate_limit;
  std::vector<EndpointSpec> endpoints;
};

// The panic threshold in effect. load_balancer.panic_threshold when set; otherwise Istio's rule:
// with outlier detection on, outlier_detection.min_health_percent (default 0: no panic, so with
// every endpoint ejected a pick fails as an Istio sidecar answers 503); with it off, Envoy's
// default 50.
uint32_t effective_panic_threshold(const ClusterConfig& config);

struct RouteConfig {
  std::vector<ClusterConfig> clusters;  // sorted by name
  const ClusterConfig* find(std::string_view name) const;
};

// Checks ranges and cross-field rules; `file` names the source in the errors ("" for code).
Errors validate(const ClusterConfig& config, const std::string& path_prefix = "");

// TOML: [clusters.<name>] tables; see the README for every key. Unknown keys are errors and
// every error is reported, each as "file:line:col: key.path: reason".
Result<RouteConfig> parse_config(std::string_view toml_text, const std::string& source_name);
Result<RouteConfig> load_config(const std::string& path);

}  // namespace gslb::route
