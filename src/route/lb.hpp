// Load balancing inside one group of endpoints (a priority, or a distribute target within it).
// Tables are built when membership or health changes; choose() is the per-request part and
// only reads them (round robin keeps its position per thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "gslb/route/cluster.hpp"
#include "gslb/route/config.hpp"
#include "thread_state.hpp"

namespace gslb::route::detail {

class Group {
 public:
  // `hosts` are the selectable endpoints (healthy ones, or all of them in panic); `weights`
  // their effective weights (slow start), or empty for the endpoints' own weights.
  Group(std::vector<EndpointPtr> hosts, const LbConfig& config, std::vector<uint64_t> weights = {});

  bool empty() const { return hosts_.empty(); }
  size_t size() const { return hosts_.size(); }
  const std::vector<EndpointPtr>& hosts() const { return hosts_; }

  // Index into hosts(). `random` is 64 fresh random bits; `hash` is set for hash policies.
  // `attempt` > 0 asks for another choice (after hitting an excluded endpoint).
  // `rr` is the calling thread's round robin table.
  size_t choose(uint64_t random, uint64_t random2, const uint64_t* hash, uint32_t attempt,
                std::array<RoundRobinSlot, 16>& rr) const;

 private:
  size_t weighted_index(uint64_t position) const;  // position in [0, total_weight_)
  size_t random_index(uint64_t random) const;
  size_t round_robin(uint64_t random, std::array<RoundRobinSlot, 16>& rr) const;
  size_t least_request(uint64_t r1, uint64_t r2) const;
  size_t ring_lookup(uint64_t hash) const;
  void build_ring(const LbConfig& config);
  void build_maglev(const LbConfig& config);

  std::vector<EndpointPtr> hosts_;
  std::vector<uint64_t> weights_;  // parallel to hosts_
  LbPolicy policy_;
  bool equal_weights_ = true;
  std::vector<uint64_t> cumulative_;  // cumulative_[i] = sum of weights of hosts 0..i
  uint64_t total_weight_ = 0;
  uint64_t stride_ = 1;  // weighted round robin step, coprime with total_weight_
  std::vector<uint64_t> ring_hashes_;  // sorted
  std::vector<uint32_t> ring_hosts_;
  // ring_bucket_[b] = first ring index whose hash has top bits >= b: narrows the ring search
  // to a handful of entries instead of a dozen mispredicted binary-search steps.
  std::vector<uint32_t> ring_bucket_;
  std::vector<uint32_t> maglev_;
};

}  // namespace gslb::route::detail
