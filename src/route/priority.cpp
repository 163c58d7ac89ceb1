#include "priority.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace gslb::route::detail {

namespace {

// Tiers of Istio's locality failover, before empty tiers are squeezed out.
constexpr uint32_t kSameSubzone = 0;
constexpr uint32_t kSameZone = 1;
constexpr uint32_t kSameRegion = 2;
constexpr uint32_t kFailoverRegion = 3;
constexpr uint32_t kElsewhere = 4;

uint32_t overprovisioning_percent(const LbConfig& config) {
  return static_cast<uint32_t>(std::lround(config.overprovisioning_factor * 100.0));
}

// healthy/total scaled by the overprovisioning factor, capped at 100: 5 of 10 at 1.4 -> 70.
uint32_t health_score(uint32_t healthy, uint32_t total, uint32_t of_percent) {
  if (total == 0) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(100, uint64_t{healthy} * of_percent / total));
}

}  // namespace

const std::string* label_value(const Labels& labels, const Locality& locality, std::string_view key) {
  if (auto it = labels.find(key); it != labels.end()) return &it->second;
  if (key == kRegionLabel) return locality.region.empty() ? nullptr : &locality.region;
  if (key == kZoneLabel) return locality.zone.empty() ? nullptr : &locality.zone;
  if (key == kSubzoneLabel) return locality.subzone.empty() ? nullptr : &locality.subzone;
  return nullptr;
}

const DistributeRule* distribute_rule_for(const Client& client, const LocalityLbConfig& config) {
  for (const auto& rule : config.distribute) {
    if (locality_matches(rule.from, client.locality)) return &rule;
  }
  return nullptr;
}

std::optional<Placement> place(const Client& client, const EndpointSpec& endpoint,
                               const LocalityLbConfig& config, const DistributeRule* rule) {
  if (!config.enabled) return Placement{};
  if (rule != nullptr) {
    for (uint32_t g = 0; g < rule->to.size(); ++g) {
      if (locality_matches(rule->to[g].first, endpoint.locality)) return Placement{0, g};
    }
    return std::nullopt;
  }
  if (!config.failover_priority.empty()) {
    // Istio: label n counts only while labels 1..n-1 all matched, so with [region, zone] an
    // endpoint in the client's region but another zone scores 1 and one elsewhere scores 0.
    // Priority = labels - matched: 0 for a full match.
    uint32_t matched = 0;
    for (const auto& entry : config.failover_priority) {
      std::string_view key = entry;
      std::string_view fixed;
      bool has_fixed = false;
      if (size_t eq = key.find('='); eq != std::string_view::npos) {
        fixed = key.substr(eq + 1);
        key = key.substr(0, eq);
        has_fixed = true;
      }
      const std::string* mine = label_value(endpoint.labels, endpoint.locality, key);
      if (mine == nullptr) break;
      if (has_fixed) {
        if (*mine != fixed) break;
      } else {
        const std::string* theirs = label_value(client.labels, client.locality, key);
        if (theirs == nullptr || *theirs != *mine) break;
      }
      ++matched;
    }
    return Placement{static_cast<uint32_t>(config.failover_priority.size()) - matched, 0};
  }
  const Locality& c = client.locality;
  const Locality& e = endpoint.locality;
  if (e.region == c.region) {
    if (e.zone != c.zone) return Placement{kSameRegion, 0};
    return Placement{e.subzone == c.subzone ? kSameSubzone : kSameZone, 0};
  }
  for (const auto& rule : config.failover) {
    if (rule.from == c.region) {
      if (rule.to == e.region) return Placement{kFailoverRegion, 0};
      break;
    }
  }
  return Placement{kElsewhere, 0};
}

std::vector<uint32_t> priority_loads(const std::vector<uint32_t>& healthy,
                                     const std::vector<uint32_t>& total, const LbConfig& config,
                                     std::vector<bool>* panic) {
  const size_t n = total.size();
  const uint32_t of = overprovisioning_percent(config);
  std::vector<uint32_t> health(n), load(n, 0);
  uint32_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    health[i] = health_score(healthy[i], total[i], of);
    sum += health[i];
  }
  const uint32_t normalized_total = std::min<uint32_t>(100, sum);
  // Panic only matters once the priorities together cannot carry the traffic (Envoy: normalised
  // total health below 100). Then a priority with fewer than panic_threshold% healthy endpoints
  // spreads its share over all of them rather than crushing the few healthy ones.
  panic->assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    (*panic)[i] = normalized_total < 100 && config.panic_threshold > 0 && total[i] > 0 &&
                  uint64_t{healthy[i]} * 100 < uint64_t{config.panic_threshold} * total[i];
  }
  if (n == 0) return load;
  if (normalized_total == 0) {
    // Nothing healthy anywhere: everything goes to priority 0, which is in panic (or fails).
    load[0] = 100;
    return load;
  }
  // Worked example, P0 5/10 healthy and P1 10/10: health 70 and 100, total 170 -> 100, so P0
  // takes min(100, 70*100/100) = 70 and P1 the remaining 30. With only P0 at 4/10: health 56,
  // normalised total 56, P0 takes 56*100/56 = 100 (and is in panic: 40% < 50%).
  uint32_t remaining = 100;
  for (size_t i = 0; i < n; ++i) {
    load[i] = std::min(remaining, health[i] * 100 / normalized_total);
    remaining -= load[i];
  }
  // Integer division can leave a few percent; give them to the first priority with health.
  for (size_t i = 0; i < n && remaining > 0; ++i) {
    if (health[i] > 0) {
      load[i] += remaining;
      remaining = 0;
    }
  }
  return load;
}

std::unique_ptr<View> build_view(const Client& client, const std::vector<EndpointPtr>& members,
                                 const ClusterConfig& config) {
  auto view = std::make_unique<View>();
  view->client = client;
  view->fail_traffic_on_panic = config.lb.fail_traffic_on_panic;
  const DistributeRule* rule = config.locality.enabled ? distribute_rule_for(client, config.locality) : nullptr;

  // Raw priority -> endpoints with their group, then squeeze out empty tiers.
  std::map<uint32_t, std::vector<std::pair<EndpointPtr, uint32_t>>> tiers;
  for (const auto& ep : members) {
    if (auto p = place(client, ep->spec(), config.locality, rule)) tiers[p->priority].emplace_back(ep, p->group);
  }
  const size_t groups_per_level = rule != nullptr ? rule->to.size() : 1;
  std::vector<uint32_t> healthy, total;
  for (auto& [raw, eps] : tiers) {
    PriorityLevel level;
    for (auto& [ep, g] : eps) {
      (void)g;
      level.members.push_back(ep);
      ++level.total;
      if (ep->health() == Health::kHealthy && !ep->ejected()) ++level.healthy;
    }
    healthy.push_back(level.healthy);
    total.push_back(level.total);
    view->priorities.push_back(std::move(level));
  }
  std::vector<bool> panic;
  std::vector<uint32_t> loads = priority_loads(healthy, total, config.lb, &panic);
  const uint32_t of = overprovisioning_percent(config.lb);

  size_t level_index = 0;
  for (auto& [raw, eps] : tiers) {
    PriorityLevel& level = view->priorities[level_index];
    level.load = loads[level_index];
    level.panic = panic[level_index];
    ++level_index;
    std::vector<std::vector<EndpointPtr>> selectable(groups_per_level);
    std::vector<uint32_t> group_healthy(groups_per_level, 0), group_total(groups_per_level, 0);
    for (auto& [ep, g] : eps) {
      bool ok = ep->health() == Health::kHealthy && !ep->ejected();
      ++group_total[g];
      if (ok) ++group_healthy[g];
      if (ok || level.panic) selectable[g].push_back(ep);
    }
    for (size_t g = 0; g < groups_per_level; ++g) {
      // Envoy's locality weighted LB scales a locality's weight by its own health, so a target
      // that lost half its endpoints (health 70 at 1.4) keeps 70% of its configured share.
      uint64_t weight = rule != nullptr ? rule->to[g].second : 1;
      uint64_t effective = 0;
      if (!selectable[g].empty()) {
        effective = level.panic ? weight * 100 : weight * health_score(group_healthy[g], group_total[g], of);
      }
      level.group_total += effective;
      level.group_cumulative.push_back(level.group_total);
      level.groups.push_back(std::make_unique<Group>(std::move(selectable[g]), config.lb));
    }
  }

  view->priority_of_percent.fill(255);
  uint32_t bucket = 0;
  for (size_t p = 0; p < view->priorities.size(); ++p) {
    for (uint32_t k = 0; k < view->priorities[p].load && bucket < 100; ++k) {
      view->priority_of_percent[bucket++] = static_cast<uint8_t>(p);
    }
  }
  return view;
}

}  // namespace gslb::route::detail
