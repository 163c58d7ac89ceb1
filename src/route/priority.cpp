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

LoadTable priority_loads(const std::vector<LevelCounts>& levels, uint32_t of, uint32_t panic_threshold) {
  const size_t n = levels.size();
  LoadTable out;
  out.healthy.assign(n, 0);
  out.degraded.assign(n, 0);
  out.panic.assign(n, false);
  if (n == 0) return out;
  std::vector<uint32_t> health(n), degraded(n);
  uint32_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    health[i] = health_score(levels[i].healthy, levels[i].total, of);
    degraded[i] = health_score(levels[i].degraded, levels[i].total, of);
    sum += health[i] + degraded[i];
  }
  const uint32_t normalized_total = std::min<uint32_t>(100, sum);

  if (normalized_total > 0) {
    // Worked example, P0 5/10 healthy and P1 10/10: health 70 and 100, total 170 -> 100, so P0
    // takes min(100, 70*100/100) = 70 and P1 the remaining 30. With only P0 at 4/10: health 56,
    // normalised total 56, P0 takes 56*100/56 = 100 (and is in panic: 40% < 50%).
    // Envoy's own comment: health 10/20/10 and degraded 20/10/0 give healthy loads 16/28/14
    // and degraded loads 28/14/0, the 2 left by rounding going to the first healthy priority.
    uint32_t remaining = 100;
    int first_healthy = -1, first_degraded = -1;
    for (size_t i = 0; i < n; ++i) {
      if (first_healthy < 0 && health[i] > 0) first_healthy = static_cast<int>(i);
      out.healthy[i] = std::min(remaining, health[i] * 100 / normalized_total);
      remaining -= out.healthy[i];
    }
    for (size_t i = 0; i < n; ++i) {
      if (first_degraded < 0 && degraded[i] > 0) first_degraded = static_cast<int>(i);
      out.degraded[i] = std::min(remaining, degraded[i] * 100 / normalized_total);
      remaining -= out.degraded[i];
    }
    if (remaining > 0) {
      if (first_healthy >= 0) out.healthy[static_cast<size_t>(first_healthy)] += remaining;
      else out.degraded[static_cast<size_t>(first_degraded)] += remaining;
    }
  } else if (panic_threshold == 0) {
    // Nothing available and panic off: Envoy still gives P0 the whole load so the loads add up
    // to 100; P0 has no host to offer, so the pick fails (an Istio sidecar's 503).
    out.healthy[0] = 100;
    return out;
  }

  // Panic only matters once the priorities together cannot carry the traffic (normalised total
  // below 100). Then a priority with fewer than panic_threshold% healthy + degraded endpoints
  // spreads its share over all of them rather than crushing the few available ones.
  bool all_panic = true;
  for (size_t i = 0; i < n; ++i) {
    const LevelCounts& c = levels[i];
    // isHostSetInPanic: an empty priority counts as 0% available, so it is in panic too.
    const bool below = c.total == 0 ? panic_threshold > 0
                                    : uint64_t{c.healthy + c.degraded} * 100 < uint64_t{panic_threshold} * c.total;
    out.panic[i] = normalized_total < 100 && below;
    all_panic = all_panic && out.panic[i];
  }
  if (!all_panic) return out;
  // Every priority in panic (nothing available anywhere included): Envoy's
  // recalculateLoadInTotalPanic ignores health and splits by host count, the rounding left over
  // going to the first non-empty priority. P0 with 2 hosts and P1 with 3: 40 / 60.
  uint64_t hosts = 0;
  for (const auto& c : levels) hosts += c.total;
  uint32_t remaining = 100;
  for (size_t i = 0; i < n; ++i) {
    out.healthy[i] = hosts == 0 ? 0 : static_cast<uint32_t>(100 * uint64_t{levels[i].total} / hosts);
    out.degraded[i] = 0;
    remaining -= out.healthy[i];
  }
  for (size_t i = 0; i < n; ++i) {
    if (levels[i].total > 0 || i + 1 == n) {
      out.healthy[i] += remaining;
      break;
    }
  }
  return out;
}

double slow_start_factor(const SlowStartConfig& config, TimePoint since, TimePoint now) {
  using std::chrono::milliseconds;
  const auto window_ms = std::chrono::duration_cast<milliseconds>(config.slow_start_window).count();
  if (window_ms <= 0 || now - since >= config.slow_start_window) return 1.0;
  const auto elapsed_ms = std::max<int64_t>(1, std::chrono::duration_cast<milliseconds>(now - since).count());
  double time_factor = static_cast<double>(elapsed_ms) / static_cast<double>(window_ms);
  // Worked numbers: window 60 s, aggression 1: 15 s in -> 0.25; aggression 2 -> sqrt = 0.5;
  // 1 s in with min_weight_percent 10 -> 0.1, not 0.017.
  double aggressive = config.aggression == 1.0 ? time_factor : std::pow(time_factor, 1.0 / config.aggression);
  return std::max(aggressive, config.min_weight_percent / 100.0);
}

double warm_factor(const Endpoint& ep, const SlowStartConfig& config, TimePoint now) {
  return ep.warming_ ? slow_start_factor(config, ep.warm_since_, now) : 1.0;
}

namespace {

bool available(const Endpoint& ep, Health state) { return ep.health() == state && !ep.ejected(); }

// Effective weights of `hosts` under slow start: empty (use the endpoints' own weights) unless
// one of them is warming; then weight * factor in thousandths, at least 1. Only for the policies
// Envoy gives slow start to: round robin and least request.
std::vector<uint64_t> effective_weights(const std::vector<EndpointPtr>& hosts, const LbConfig& lb, TimePoint now) {
  std::vector<uint64_t> out;
  if (lb.policy != LbPolicy::kRoundRobin && lb.policy != LbPolicy::kLeastRequest) return out;
  bool any = false;
  std::vector<double> factors;
  for (const auto& h : hosts) {
    factors.push_back(warm_factor(*h, lb.slow_start, now));
    any = any || factors.back() < 1.0;
  }
  if (!any) return out;
  for (size_t i = 0; i < hosts.size(); ++i) {
    out.push_back(std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(hosts[i]->weight() * 1000.0 * factors[i]))));
  }
  return out;
}

// Builds the groups of one host set: `chosen[g]` are the hosts of group g, `weight[g]` its
// configured weight, scaled by `score[g]` (0..100).
void fill_set(HostSet& set, std::vector<std::vector<EndpointPtr>> chosen, const std::vector<uint64_t>& weight,
              const std::vector<uint32_t>& score, const LbConfig& lb, TimePoint now) {
  for (size_t g = 0; g < chosen.size(); ++g) {
    uint64_t effective = chosen[g].empty() ? 0 : weight[g] * score[g];
    set.total += effective;
    set.cumulative.push_back(set.total);
    std::vector<uint64_t> weights = effective_weights(chosen[g], lb, now);
    set.groups.push_back(std::make_unique<Group>(std::move(chosen[g]), lb, std::move(weights)));
  }
}

}  // namespace

std::unique_ptr<View> build_view(const Client& client, const std::vector<EndpointPtr>& members,
                                 const ClusterConfig& config, TimePoint now) {
  auto view = std::make_unique<View>();
  view->client = client;
  view->fail_traffic_on_panic = config.lb.fail_traffic_on_panic;
  const LocalityLbConfig& loc = config.locality;
  const DistributeRule* rule = loc.enabled ? distribute_rule_for(client, loc) : nullptr;
  // Istio's applyLocalityWeights changes nothing for a client that no `distribute` rule matches:
  // no priorities are set, so every endpoint is priority 0 and Envoy's locality weighted LB
  // spreads by locality weight (Istio: the sum of the locality's endpoint weights).
  const bool unprioritised = loc.enabled && !loc.distribute.empty() && rule == nullptr;
  const uint32_t of = overprovisioning_percent(config.lb);

  // Group keys: a distribute target; else, where Istio turns on Envoy's locality weighted LB
  // (cluster_traffic_policy.go applyLocalityLoadBalancer: with `distribute`, or with explicit
  // failover / failover_priority and outlier detection), the endpoint's locality; else one group
  // for all, picked by endpoint weight across localities.
  const bool by_locality = loc.enabled && (!loc.distribute.empty() ||
                                           ((!loc.failover.empty() || !loc.failover_priority.empty()) &&
                                            config.outlier.enabled));
  std::vector<uint64_t> key_weight;
  std::map<std::string, uint32_t> locality_key;
  if (rule != nullptr) {
    for (const auto& [pattern, weight] : rule->to) key_weight.push_back(weight);
  } else if (!by_locality) {
    key_weight.push_back(1);
  }
  std::map<uint32_t, std::vector<std::pair<EndpointPtr, uint32_t>>> tiers;
  for (const auto& ep : members) {
    std::optional<Placement> p = unprioritised ? Placement{} : place(client, ep->spec(), loc, rule);
    if (!p) continue;
    uint32_t key = p->group;
    if (rule == nullptr && by_locality) {
      auto [it, added] = locality_key.emplace(ep->locality().to_string(), static_cast<uint32_t>(key_weight.size()));
      if (added) key_weight.push_back(0);
      key = it->second;
      key_weight[key] += ep->weight();
    }
    tiers[p->priority].emplace_back(ep, key);
  }

  std::vector<LevelCounts> counts;
  for (auto& [raw, eps] : tiers) {
    PriorityLevel level;
    LevelCounts c;
    for (auto& [ep, key] : eps) {
      level.members.push_back(ep);
      ++c.total;
      if (available(*ep, Health::kHealthy)) ++c.healthy;
      else if (available(*ep, Health::kDegraded)) ++c.degraded;
    }
    level.healthy_count = c.healthy;
    level.degraded_count = c.degraded;
    level.total = c.total;
    counts.push_back(c);
    view->priorities.push_back(std::move(level));
  }
  LoadTable loads = priority_loads(counts, of, effective_panic_threshold(config));

  size_t level_index = 0;
  for (auto& [raw, eps] : tiers) {
    PriorityLevel& level = view->priorities[level_index];
    level.load = loads.healthy[level_index];
    level.degraded_load = loads.degraded[level_index];
    level.panic = loads.panic[level_index];
    ++level_index;
    if (level.panic) {
      // Envoy's hostSourceToUse: a priority in panic uses all its hosts, without locality weights.
      fill_set(level.healthy, {level.members}, {1}, {100}, config.lb, now);
      continue;
    }
    // This tier's groups, in order of first appearance.
    std::vector<uint32_t> local_of_key(key_weight.size(), UINT32_MAX);
    std::vector<uint64_t> weight;
    std::vector<uint32_t> total;
    std::vector<std::vector<EndpointPtr>> healthy, degraded;
    for (auto& [ep, key] : eps) {
      if (local_of_key[key] == UINT32_MAX) {
        local_of_key[key] = static_cast<uint32_t>(weight.size());
        weight.push_back(key_weight[key]);
        total.push_back(0);
        healthy.emplace_back();
        degraded.emplace_back();
      }
      uint32_t g = local_of_key[key];
      ++total[g];
      if (available(*ep, Health::kHealthy)) healthy[g].push_back(ep);
      else if (available(*ep, Health::kDegraded)) degraded[g].push_back(ep);
    }
    // Envoy's locality weighted LB scales a locality's weight by its own availability, so a
    // target that lost half its endpoints (health 70 at 1.4) keeps 70% of its configured share.
    std::vector<uint32_t> healthy_score(weight.size()), degraded_score(weight.size());
    for (size_t g = 0; g < weight.size(); ++g) {
      healthy_score[g] = health_score(static_cast<uint32_t>(healthy[g].size()), total[g], of);
      degraded_score[g] = health_score(static_cast<uint32_t>(degraded[g].size()), total[g], of);
    }
    fill_set(level.healthy, std::move(healthy), weight, healthy_score, config.lb, now);
    fill_set(level.degraded, std::move(degraded), weight, degraded_score, config.lb, now);
  }

  view->priority_of_percent.fill(kNoPriority);
  uint32_t bucket = 0;
  for (size_t p = 0; p < view->priorities.size(); ++p) {
    for (uint32_t k = 0; k < view->priorities[p].load && bucket < 100; ++k) {
      view->priority_of_percent[bucket++] = static_cast<uint8_t>(p);
    }
  }
  for (size_t p = 0; p < view->priorities.size(); ++p) {
    for (uint32_t k = 0; k < view->priorities[p].degraded_load && bucket < 100; ++k) {
      view->priority_of_percent[bucket++] = static_cast<uint8_t>(p | kDegradedBucket);
    }
  }
  return view;
}

}  // namespace gslb::route::detail
