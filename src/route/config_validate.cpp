#include <fmt/format.h>

#include <set>

#include "gslb/route/config.hpp"

namespace gslb::route {

namespace {

bool is_prime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

class Checker {
 public:
  explicit Checker(std::string prefix) : prefix_(std::move(prefix)) {}
  void fail(const std::string& path, std::string message) {
    errors_.push_back(Error{"", 0, 0, prefix_.empty() ? path : prefix_ + "." + path, std::move(message)});
  }
  template <class T>
  void range(const std::string& path, T value, T lo, T hi) {
    if (value < lo || value > hi) fail(path, fmt::format("must be {}..{}", lo, hi));
  }
  Errors take() { return std::move(errors_); }

 private:
  std::string prefix_;
  Errors errors_;
};

void check_lb(const LbConfig& lb, Checker& c) {
  if (!(lb.overprovisioning_factor >= 1.0 && lb.overprovisioning_factor <= 10.0))
    c.fail("load_balancer.overprovisioning_factor", "must be 1.0..10.0");
  if (lb.panic_threshold) c.range<uint32_t>("load_balancer.panic_threshold", *lb.panic_threshold, 0, 100);
  c.range<uint64_t>("load_balancer.minimum_ring_size", lb.minimum_ring_size, 1, 8 * 1024 * 1024);
  c.range<uint64_t>("load_balancer.maximum_ring_size", lb.maximum_ring_size, 1, 8 * 1024 * 1024);
  if (lb.maximum_ring_size < lb.minimum_ring_size)
    c.fail("load_balancer.maximum_ring_size", "must be >= minimum_ring_size");
  const SlowStartConfig& ss = lb.slow_start;
  if (ss.slow_start_window.count() < 0) c.fail("load_balancer.slow_start_config.slow_start_window", "must be >= 0");
  if (!(ss.aggression > 0 && ss.aggression <= 100)) c.fail("load_balancer.slow_start_config.aggression", "must be > 0 and <= 100");
  if (!(ss.min_weight_percent >= 0 && ss.min_weight_percent <= 100))
    c.fail("load_balancer.slow_start_config.min_weight_percent", "must be 0..100");
  // Envoy has slow_start_config only in its round robin and least request configs.
  if (ss.slow_start_window.count() > 0 && lb.policy != LbPolicy::kRoundRobin && lb.policy != LbPolicy::kLeastRequest)
    c.fail("load_balancer.slow_start_config", "applies to round_robin and least_request only (as in Envoy)");
  // Maglev needs a prime table so that every skip value walks the whole table.
  if (lb.maglev_table_size > 5000011 || !is_prime(lb.maglev_table_size))
    c.fail("load_balancer.maglev_table_size", "must be a prime <= 5000011 (e.g. 65537)");
}

void check_locality(const LocalityLbConfig& l, Checker& c) {
  for (size_t i = 0; i < l.failover.size(); ++i) {
    std::string p = fmt::format("locality.failover[{}]", i);
    if (l.failover[i].from.empty()) c.fail(p + ".from", "must name a region");
    if (l.failover[i].to.empty()) c.fail(p + ".to", "must name a region");
    if (!l.failover[i].from.empty() && l.failover[i].from == l.failover[i].to)
      c.fail(p + ".to", "must differ from `from`");
  }
  if (l.failover_priority.size() > 16) c.fail("locality.failover_priority", "at most 16 labels");
  for (size_t i = 0; i < l.failover_priority.size(); ++i) {
    const std::string& k = l.failover_priority[i];
    if (k.empty() || k.front() == '=') c.fail(fmt::format("locality.failover_priority[{}]", i), "empty label key");
  }
  if (!l.distribute.empty() && !l.failover.empty())
    c.fail("locality.distribute", "cannot be combined with locality.failover (as in Istio)");
  if (!l.distribute.empty() && !l.failover_priority.empty())
    c.fail("locality.distribute", "cannot be combined with locality.failover_priority");
  for (size_t i = 0; i < l.distribute.size(); ++i) {
    std::string p = fmt::format("locality.distribute[{}]", i);
    if (l.distribute[i].from.empty()) c.fail(p + ".from", "must be a locality pattern");
    if (l.distribute[i].to.empty()) c.fail(p + ".to", "must list at least one locality");
    uint64_t sum = 0;
    for (const auto& [pattern, weight] : l.distribute[i].to) sum += weight;
    if (!l.distribute[i].to.empty() && sum != 100) c.fail(p + ".to", fmt::format("weights must add up to 100, not {}", sum));
  }
}

void check_outlier(const OutlierConfig& o, Checker& c) {
  if (o.interval.count() <= 0) c.fail("outlier_detection.interval", "must be > 0");
  if (o.base_ejection_time.count() <= 0) c.fail("outlier_detection.base_ejection_time", "must be > 0");
  if (o.max_ejection_time.count() <= 0) c.fail("outlier_detection.max_ejection_time", "must be > 0");
  c.range<uint32_t>("outlier_detection.max_ejection_percent", o.max_ejection_percent, 0, 100);
  c.range<uint32_t>("outlier_detection.min_health_percent", o.min_health_percent, 0, 100);
  c.range<uint32_t>("outlier_detection.min_healthy_to_eject_percent", o.min_healthy_to_eject_percent, 0, 100);
  c.range<uint32_t>("outlier_detection.enforcing_local_origin_success_rate", o.enforcing_local_origin_success_rate, 0, 100);
  c.range<uint32_t>("outlier_detection.enforcing_failure_percentage_local_origin",
                    o.enforcing_failure_percentage_local_origin, 0, 100);
  if (o.max_ejection_time_jitter.count() < 0) c.fail("outlier_detection.max_ejection_time_jitter", "must be >= 0");
  c.range<uint32_t>("outlier_detection.enforcing_success_rate", o.enforcing_success_rate, 0, 100);
  c.range<uint32_t>("outlier_detection.enforcing_failure_percentage", o.enforcing_failure_percentage, 0, 100);
  c.range<uint32_t>("outlier_detection.failure_percentage_threshold", o.failure_percentage_threshold, 0, 100);
}

void check_bucket(const TokenBucketConfig& b, const std::string& p, Checker& c) {
  if (b.max_tokens == 0) c.fail(p + ".max_tokens", "must be >= 1");
  if (b.tokens_per_fill == 0) c.fail(p + ".tokens_per_fill", "must be >= 1");
  // Envoy's local rate limit rejects finer fill intervals: refilling more often than every 50 ms
  // costs timer work for no visible smoothing.
  if (b.fill_interval < std::chrono::milliseconds(50)) c.fail(p + ".fill_interval", "must be >= 50ms");
}

void check_retry(const RetryConfig& r, Checker& c) {
  c.range<uint32_t>("retry.attempts", r.attempts, 0, 100);
  if (r.base_interval.count() <= 0) c.fail("retry.base_interval", "must be > 0");
  if (r.max_interval < r.base_interval) c.fail("retry.max_interval", "must be >= base_interval");
  if (!(r.budget_percent >= 0 && r.budget_percent <= 100)) c.fail("retry.budget_percent", "must be 0..100");
  c.range<uint32_t>("retry.host_selection_attempts", r.host_selection_attempts, 0, 100);
  for (size_t i = 0; i < r.retry_on.status_codes.size(); ++i)
    c.range<int>(fmt::format("retry.retriable_status_codes[{}]", i), r.retry_on.status_codes[i], 100, 599);
}

}  // namespace

Errors validate(const ClusterConfig& config, const std::string& path_prefix) {
  Checker c(path_prefix);
  if (config.name.empty() && path_prefix.empty()) c.fail("name", "must not be empty");
  check_lb(config.lb, c);
  check_locality(config.locality, c);
  check_outlier(config.outlier, c);
  check_retry(config.retry, c);
  if (config.rate_limit.enabled) {
    check_bucket(config.rate_limit.bucket, "rate_limit", c);
    for (const auto& [key, bucket] : config.rate_limit.keys) {
      check_bucket(bucket, fmt::format("rate_limit.keys.\"{}\"", key), c);
    }
    const auto& descriptors = config.rate_limit.descriptors;
    for (size_t i = 0; i < descriptors.size(); ++i) {
      std::string p = fmt::format("rate_limit.descriptors[{}]", i);
      check_bucket(descriptors[i].bucket, p, c);
      if (descriptors[i].entries.empty()) c.fail(p + ".entries", "must list at least one { key, value }");
      for (size_t k = 0; k < descriptors[i].entries.size(); ++k) {
        const auto& [key, value] = descriptors[i].entries[k];
        std::string ep = fmt::format("{}.entries[{}]", p, k);
        if (key.empty()) c.fail(ep + ".key", "must not be empty");
        // Envoy reads an empty value as a wildcard with a bucket per value seen; not offered here.
        if (value.empty()) c.fail(ep + ".value", "must not be empty (wildcard descriptors are not supported)");
      }
      for (size_t j = 0; j < i; ++j) {
        if (descriptors[j].entries == descriptors[i].entries) c.fail(p + ".entries", "duplicates an earlier descriptor");
      }
    }
  }
  std::set<std::pair<std::string, uint16_t>> seen;
  for (size_t i = 0; i < config.endpoints.size(); ++i) {
    const EndpointSpec& e = config.endpoints[i];
    std::string p = fmt::format("endpoints[{}]", i);
    if (e.address.empty()) c.fail(p + ".address", "must not be empty");
    if (e.port == 0) c.fail(p + ".port", "must be 1..65535");
    c.range<uint32_t>(p + ".weight", e.weight, 1, 1000);
    if (!e.address.empty() && !seen.emplace(e.address, e.port).second)
      c.fail(p, fmt::format("duplicate endpoint {}:{}", e.address, e.port));
  }
  return c.take();
}

uint32_t effective_panic_threshold(const ClusterConfig& config) {
  if (config.lb.panic_threshold) return *config.lb.panic_threshold;
  // Istio's applyOutlierDetection: "Disable panic threshold by default as its not typically
  // applicable in k8s environments with few pods per service" -- with outlier detection it always
  // writes healthy_panic_threshold = minHealthPercent. Without it Envoy's default stays.
  return config.outlier.enabled ? config.outlier.min_health_percent : 50;
}

const ClusterConfig* RouteConfig::find(std::string_view name) const {
  for (const auto& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace gslb::route
