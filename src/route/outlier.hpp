// Outlier detection arithmetic, kept free of cluster state so each rule is tested on its own.
#pragma once

#include <cstdint>
#include <vector>

#include "gslb/route/config.hpp"

namespace gslb::route::detail {

// Whether any success-rate or failure-percentage sweep is on (they need per-interval volumes).
bool rate_sweeps_enabled(const OutlierConfig& config);

// May one more endpoint be ejected when `ejected` of `total` already are? max_ejection_percent
// is honoured exactly: ejecting must leave at most floor(total * percent / 100) out. 3 endpoints
// at 10% -> floor(0.3) = 0, none; 10 at 10% -> 1; 1 endpoint at 100% -> 1. Envoy instead always
// ejects the first one; always_eject_one_host restores that.
bool ejection_within_limit(uint64_t ejected, uint64_t total, const OutlierConfig& config);

// base_ejection_time * times ejected, capped at max_ejection_time (or base, if larger):
// 30 s base -> 30 s, 60 s, 90 s, ... up to 300 s.
Duration ejection_duration(uint32_t times_ejected, const OutlierConfig& config);

struct HostSample {
  uint64_t success = 0;
  uint64_t failure = 0;
};

// Indices of hosts whose success rate is below mean - stdev * stdev_factor / 1000, among hosts
// with at least success_rate_request_volume requests, if there are success_rate_minimum_hosts.
std::vector<size_t> success_rate_outliers(const std::vector<HostSample>& samples, const OutlierConfig& config);

// Indices of hosts whose failure percentage is >= failure_percentage_threshold, among hosts with
// at least failure_percentage_request_volume requests, if there are failure_percentage_minimum_hosts.
std::vector<size_t> failure_percentage_outliers(const std::vector<HostSample>& samples,
                                                const OutlierConfig& config);

}  // namespace gslb::route::detail
