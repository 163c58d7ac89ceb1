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

// Envoy's priority load: health_i = min(100, healthy%_i * overprovisioning), loads handed out
// from priority 0 down, normalised when the total health is below 100. Integer percents.
// Returns the loads; `panic` receives, per priority, whether it routes to all its endpoints.
std::vector<uint32_t> priority_loads(const std::vector<uint32_t>& healthy,
                                     const std::vector<uint32_t>& total, const LbConfig& config,
                                     std::vector<bool>* panic);

struct PriorityLevel {
  std::vector<std::unique_ptr<Group>> groups;
  std::vector<uint64_t> group_cumulative;  // effective group weights, cumulative
  uint64_t group_total = 0;
  uint32_t healthy = 0;
  uint32_t total = 0;
  uint32_t load = 0;
  bool panic = false;
  std::vector<EndpointPtr> members;  // every endpoint of the priority, healthy or not
};

struct View {
  Client client;
  std::vector<PriorityLevel> priorities;
  // percent bucket (0..99) -> priority; 255 when the client has no endpoint at all.
  std::array<uint8_t, 100> priority_of_percent{};
  bool fail_traffic_on_panic = false;
};

std::unique_ptr<View> build_view(const Client& client, const std::vector<EndpointPtr>& members,
                                 const ClusterConfig& config);

}  // namespace gslb::route::detail
