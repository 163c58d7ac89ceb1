// Load balancing inside one group of endpoints (a priority, or a distribute target within it).
// Tables are built when membership or health changes; choose() is the per-request part and
// only reads them (plus one atomic counter for round robin).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "gslb/route/cluster.hpp"
#include "gslb/route/config.hpp"

namespace gslb::route::detail {

class Group {
 public:
  // `hosts` are the selectable endpoints (healthy ones, or all of them in panic).
  Group(std::vector<EndpointPtr> hosts, const LbConfig& config);

  bool empty() const { return hosts_.empty(); }
  size_t size() const { return hosts_.size(); }
  const std::vector<EndpointPtr>& hosts() const { return hosts_; }

  // Index into hosts(). `random` is 64 fresh random bits; `hash` is set for hash policies.
  // `attempt` > 0 asks for another choice (after hitting an excluded endpoint).
  size_t choose(uint64_t random, uint64_t random2, const uint64_t* hash, uint32_t attempt) const;

 private:
  size_t weighted_index(uint64_t position) const;  // position in [0, total_weight_)
  size_t random_index(uint64_t random) const;
  size_t round_robin() const;
  size_t least_request(uint64_t r1, uint64_t r2) const;
  size_t ring_lookup(uint64_t hash) const;
  void build_ring(const LbConfig& config);
  void build_maglev(const LbConfig& config);

  std::vector<EndpointPtr> hosts_;
  LbPolicy policy_;
  bool equal_weights_ = true;
  std::vector<uint64_t> cumulative_;  // cumulative_[i] = sum of weights of hosts 0..i
  uint64_t total_weight_ = 0;
  uint64_t stride_ = 1;  // weighted round robin step, coprime with total_weight_
  std::vector<uint64_t> ring_hashes_;  // sorted
  std::vector<uint32_t> ring_hosts_;
  std::vector<uint32_t> maglev_;
  // Round robin position. Own cache line: it is the only thing here written per request.
  alignas(64) mutable std::atomic<uint64_t> next_{0};
};

}  // namespace gslb::route::detail
