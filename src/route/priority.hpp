// Locality priorities and the load each priority receives, for one client: the part of the
// routing table that depends on who is asking. Built off the pick path; immutable afterwards.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "gslb/route/cluster.hpp"
#include "gslb/route/config.hpp"
#include "lb.hpp"

namespace gslb::route::detail {

// Where one endpoint lands for one client: its priority and, under `distribute`, which target
// group of that priority.
struct Placement {
  uint32_t priority = 0;
  uint32_t group = 0;
};

// The value of label `key` for an endpoint or client, falling back to the locality for the
// well-known topology keys; nullptr when absent.
const std::string* label_value(const Labels& labels, const Locality& locality, std::string_view key);

// The distribute rule that applies to this client, if any (first `from` that matches).
const DistributeRule* distribute_rule_for(const Client& client, const LocalityLbConfig& config);

// Raw (not yet compacted) placement; nullopt when `distribute` sends this client nothing there.
std::optional<Placement> place(const Client& client, const EndpointSpec& endpoint,
                               const LocalityLbConfig& config, const DistributeRule* rule);

// How many endpoints of one priority are in each state (ejected ones count as neither healthy
// nor degraded).
struct LevelCounts {
  uint32_t healthy = 0;
  uint32_t degraded = 0;
  uint32_t total = 0;
};

// Envoy's per-priority load (load_balancer_impl.cc: recalculatePerPriorityState,
// recalculatePerPriorityPanic, recalculateLoadInTotalPanic), in integer percents:
// health_i = min(100, healthy_i * OF / total_i), degraded_i likewise; the loads go to healthy
// hosts from priority 0 down, then what is left to degraded hosts, normalised when the total
// availability is below 100. A priority is in panic when the total is below 100 and its
// healthy + degraded share is under the panic threshold; when every priority is, the load is
// split by host count instead.
struct LoadTable {
  std::vector<uint32_t> healthy;   // percent of all traffic to priority i's healthy endpoints
  std::vector<uint32_t> degraded;  // percent of all traffic to priority i's degraded endpoints
  std::vector<bool> panic;
};
LoadTable priority_loads(const std::vector<LevelCounts>& levels, uint32_t overprovisioning_percent,
                         uint32_t panic_threshold);

// Effective locality weights and the groups they pick from (Envoy's locality weighted LB:
// weight * min(1, OF * available / total) per locality).
struct HostSet {
  std::vector<std::unique_ptr<Group>> groups;
  std::vector<uint64_t> cumulative;  // effective group weights, cumulative
  uint64_t total = 0;
};

struct PriorityLevel {
  HostSet healthy;   // in panic: every endpoint of the priority, one group
  HostSet degraded;  // degraded endpoints, used when the degraded load sends traffic here
  uint32_t healthy_count = 0;
  uint32_t degraded_count = 0;
  uint32_t total = 0;
  uint32_t load = 0;           // healthy load percent
  uint32_t degraded_load = 0;  // degraded load percent
  bool panic = false;
  std::vector<EndpointPtr> members;  // every endpoint of the priority, healthy or not
};

// Bit 7 of a priority_of_percent entry: the bucket goes to the priority's degraded endpoints.
inline constexpr uint8_t kDegradedBucket = 0x80;
inline constexpr uint8_t kNoPriority = 0xff;

struct View {
  Client client;
  std::vector<PriorityLevel> priorities;
  // percent bucket (0..99) -> priority (| kDegradedBucket); kNoPriority when the client has no
  // endpoint at all. Envoy's choosePriority walks healthy loads first, then degraded ones.
  std::array<uint8_t, 100> priority_of_percent{};
  bool fail_traffic_on_panic = false;
};

// Envoy's slow-start factor for an endpoint warming since `since` (EdfLoadBalancerBase::
// applySlowStartFactor): max(min_weight_percent/100, (t/window)^(1/aggression)), t counted in
// whole milliseconds and at least 1 ms; 1 once the window has passed.
double slow_start_factor(const SlowStartConfig& config, TimePoint since, TimePoint now);

// The factor for one endpoint: below 1 while it is inside its slow-start window at `now`.
double warm_factor(const Endpoint& ep, const SlowStartConfig& config, TimePoint now);

std::unique_ptr<View> build_view(const Client& client, const std::vector<EndpointPtr>& members,
                                 const ClusterConfig& config, TimePoint now);

}  // namespace gslb::route::detail
