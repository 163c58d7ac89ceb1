// The policy layer: pure functions of health over the configured pools and names
// (pool/config.hpp) that say which pools a name answers from and with what; no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "dns/overlay.hpp"
#include "pool/config.hpp"

namespace gslb::pool {

// Is address `address` of pool `pool` usable now (healthy and not drained)?
using Usable = std::function<bool(size_t pool, size_t address)>;

struct PoolStatus {
  unsigned healthy = 0;
  bool usable = false;  // healthy >= min_healthy
};
PoolStatus pool_status(const Config& cfg, size_t pool, const Usable& usable);
std::vector<PoolStatus> pool_status(const Config& cfg, const Usable& usable);

// Which pools a name answers from now. Empty when every pool is down.
std::vector<size_t> active_pools(const Name& name, const std::vector<PoolStatus>& pools);

// `name` as a client of map class `order` sees it. Failover: its pools ordered by the position
// of their region in `order.regions` (pools of unlisted regions follow, in config order).
// Weighted with `order.weights`: only the pools of the weighted regions, with those weights
// (the name as configured when none of its pools is in a weighted region).
Name ordered_for(const Config& cfg, const Name& name, const geo::Order& order);

// The answer for one name and family (qtype A or AAAA) given the active pools.
dns::DynamicAnswer answer(const Config& cfg, const Name& name, const std::vector<size_t>& active,
                          const Usable& usable, uint16_t qtype);

}  // namespace gslb::pool
