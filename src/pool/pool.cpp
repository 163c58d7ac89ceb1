#include "pool/pool.hpp"

#include <algorithm>
#include <string_view>


namespace gslb::pool {

const char* to_string(AllDown a) noexcept {
  switch (a) {
    case AllDown::fail_open: return "fail_open";
    case AllDown::empty: return "empty";
    case AllDown::servfail: return "servfail";
  }
  return "?";
}

PoolStatus pool_status(const Config& cfg, size_t p, const Usable& usable) {
  PoolStatus s;
  for (size_t a = 0; a < cfg.pools[p].addresses.size(); ++a) s.healthy += usable(p, a);
  s.usable = s.healthy >= std::max(1u, cfg.pools[p].min_healthy);
  return s;
}

std::vector<PoolStatus> pool_status(const Config& cfg, const Usable& usable) {
  std::vector<PoolStatus> out(cfg.pools.size());
  for (size_t p = 0; p < cfg.pools.size(); ++p) out[p] = pool_status(cfg, p, usable);
  return out;
}

std::vector<size_t> active_pools(const Name& name, const std::vector<PoolStatus>& pools) {
  std::vector<size_t> out;
  for (const Member& m : name.pools) {
    if (!pools[m.pool].usable) continue;
    out.push_back(m.pool);
    if (name.mode == Mode::failover) break;
  }
  return out;
}

Name ordered_for(const Config& cfg, const Name& name, const geo::Order& order) {
  Name out = name;
  out.map = nullptr;
  if (name.mode == Mode::weighted && !order.weights.empty()) {
    out.pools.clear();
    for (const Member& m : name.pools)
      for (const auto& [region, weight] : order.weights)
        if (cfg.pools[m.pool].region == region) out.pools.push_back(Member{m.pool, weight});
    if (out.pools.empty()) out.pools = name.pools;
    return out;
  }
  std::vector<std::string_view> regions(order.regions.begin(), order.regions.end());
  if (regions.empty())
    for (const auto& [region, weight] : order.weights) regions.push_back(region);
  auto rank = [&](const Member& m) {
    return size_t(std::find(regions.begin(), regions.end(), cfg.pools[m.pool].region) -
                  regions.begin());
  };
  std::stable_sort(out.pools.begin(), out.pools.end(),
                   [&](const Member& a, const Member& b) { return rank(a) < rank(b); });
  return out;
}

namespace {

// Ordered choices of `k` addresses drawn by weight without replacement, each with its
// probability: for weights 3, 1, 1 and k = 2, (a, b) has 3/5 * 1/2 = 0.3. Every address then
// leads an answer in proportion to its weight, and appears in proportion to its chance of being
// drawn at all (90%, 55%, 55% here), whatever its place in the list.
void weighted_draws(const std::vector<Address>& addrs, size_t k, std::vector<size_t>& picked,
                    std::vector<bool>& used, double p, uint64_t total, double share,
                    dns::DynamicAnswer& out) {
  if (picked.size() == k) {
    dns::DynamicAnswer::Alternative alt;
    alt.weight = uint32_t(std::max(1.0, share * p));
    for (size_t i : picked) alt.addresses.push_back(addrs[i].ip);
    out.alternatives.push_back(std::move(alt));
    return;
  }
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (used[i]) continue;
    used[i] = true;
    picked.push_back(i);
    weighted_draws(addrs, k, picked, used, p * double(addrs[i].weight) / double(total),
                   total - addrs[i].weight, share, out);
    picked.pop_back();
    used[i] = false;
  }
}

// The alternatives one pool contributes, their weights summing to about `share`.
//   all:  every address, rotated: alternative i leads with address i, weight share/n, so
//         clients that take the first address spread evenly;
//   one:  one address per answer, weighted by address weight: addresses weighted 1, 1, 2 in
//         a share of 1000 become alternatives of 250, 250, 500;
//   some: k addresses drawn by weight without replacement (see weighted_draws); beyond
//         kMaxDraws orderings, the k-address windows of the rotation, weighted by their leader.
void add_pool(const Name& name, const std::vector<Address>& addrs, uint64_t share,
              dns::DynamicAnswer& out) {
  constexpr double kMaxDraws = 720;
  const size_t n = addrs.size();
  if (n == 0) return;
  uint64_t total = 0;
  for (const auto& a : addrs) total += a.weight;
  const size_t take = name.ret == Return::all ? n
                      : name.ret == Return::one ? 1
                                                : std::min<size_t>(name.count, n);
  if (name.ret == Return::some && take < n) {
    double orderings = 1;
    for (size_t i = 0; i < take; ++i) orderings *= double(n - i);
    if (orderings <= kMaxDraws) {
      std::vector<size_t> picked;
      std::vector<bool> used(n, false);
      weighted_draws(addrs, take, picked, used, 1.0, total, double(share), out);
      return;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    dns::DynamicAnswer::Alternative alt;
    const uint64_t w = name.ret == Return::all ? share / n : share * addrs[i].weight / total;
    alt.weight = uint32_t(std::max<uint64_t>(1, w));
    for (size_t k = 0; k < take; ++k) alt.addresses.push_back(addrs[(i + k) % n].ip);
    out.alternatives.push_back(std::move(alt));
  }
}

}  // namespace

dns::DynamicAnswer answer(const Config& cfg, const Name& name, const std::vector<size_t>& active,
                          const Usable& usable, uint16_t qtype) {
  dns::DynamicAnswer out;
  out.ttl = name.ttl;
  const bool v4 = qtype == dns::rrtype::A;
  auto family = [&](size_t p, bool only_usable) {
    std::vector<Address> addrs;
    for (size_t a = 0; a < cfg.pools[p].addresses.size(); ++a) {
      const Address& ad = cfg.pools[p].addresses[a];
      if (ad.ip.is_v4() == v4 && (!only_usable || usable(p, a))) addrs.push_back(ad);
    }
    return addrs;
  };
  if (active.empty()) {
    if (name.all_down == AllDown::servfail) {
      out.kind = dns::DynamicAnswer::Kind::servfail;
      return out;
    }
    if (name.all_down == AllDown::empty || name.pools.empty()) {
      out.kind = dns::DynamicAnswer::Kind::nodata;
      return out;
    }
    // Fail open (as Route 53 does): a guess beats no answer when the checks themselves fail.
    out.kind = dns::DynamicAnswer::Kind::addresses;
    add_pool(name, family(name.pools.front().pool, false), 1000, out);
    out.pick = name.ret == Return::all ? dns::DynamicAnswer::Pick::cycle
               : name.sticky && name.ret == Return::one ? dns::DynamicAnswer::Pick::sticky
                                                        : dns::DynamicAnswer::Pick::weighted;
    if (out.alternatives.empty()) out.kind = dns::DynamicAnswer::Kind::nodata;
    return out;
  }
  out.kind = dns::DynamicAnswer::Kind::addresses;
  for (size_t p : active) {
    uint32_t w = 1;
    for (const Member& m : name.pools)
      if (m.pool == p) w = m.weight;
    // Shares in thousandths of a pool weight keep integer rounding below 0.1%.
    add_pool(name, family(p, true), uint64_t(w) * 1000, out);
  }
  out.pick = (active.size() == 1 && name.ret == Return::all) ? dns::DynamicAnswer::Pick::cycle
                                                             : dns::DynamicAnswer::Pick::weighted;
  if (name.sticky && name.ret == Return::one) out.pick = dns::DynamicAnswer::Pick::sticky;
  if (out.alternatives.empty()) out.kind = dns::DynamicAnswer::Kind::nodata;
  return out;
}

}  // namespace gslb::pool
