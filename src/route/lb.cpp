#include "lb.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "hash.hpp"

namespace gslb::route::detail {

namespace {

// 4096 buckets over the top 12 bits of the hash: a 1,024-entry ring has ~0.25 entries each.
constexpr uint64_t kRingBuckets = 4096;
constexpr int kRingShift = 52;

}  // namespace

Group::Group(std::vector<EndpointPtr> hosts, const LbConfig& config, std::vector<uint64_t> weights)
    : hosts_(std::move(hosts)), weights_(std::move(weights)), policy_(config.policy) {
  if (weights_.size() != hosts_.size()) {
    weights_.clear();
    for (const auto& h : hosts_) weights_.push_back(h->weight());
  }
  cumulative_.reserve(hosts_.size());
  for (uint64_t w : weights_) {
    total_weight_ += w;
    cumulative_.push_back(total_weight_);
    if (w != weights_.front()) equal_weights_ = false;
  }
  if (hosts_.empty()) return;
  // Weighted round robin walks positions 0, s, 2s, ... modulo the total weight and maps each
  // position to the host owning it. With s coprime to the total every position comes once per
  // cycle, so each host gets exactly its weight per cycle; a step near total/phi spreads a heavy
  // host's turns. Weights a=3, b=1: total 4, s = 2 -> 3 (coprime), positions 0,3,2,1 -> a,b,a,a.
  stride_ = std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(total_weight_) * 0.618));
  while (std::gcd(stride_, total_weight_) != 1) ++stride_;
  if (policy_ == LbPolicy::kRingHash) build_ring(config);
  if (policy_ == LbPolicy::kMaglev) build_maglev(config);
}

size_t Group::weighted_index(uint64_t position) const {
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), position);
  return static_cast<size_t>(it - cumulative_.begin());
}

size_t Group::random_index(uint64_t random) const {
  if (equal_weights_) return bounded(random, hosts_.size());
  return weighted_index(bounded(random, total_weight_));
}

size_t Group::round_robin(uint64_t random, std::array<RoundRobinSlot, 16>& rr) const {
  // Each thread walks the rotation on its own, from a random start, like Envoy's per-worker
  // load balancers: one shared counter would bounce its cache line between picking threads.
  // Direct-mapped on the group's address; a collision just restarts at a random position.
  RoundRobinSlot& slot = rr[(reinterpret_cast<uintptr_t>(this) >> 6) & 15];
  if (slot.group != this) {
    slot.group = this;
    slot.next = random;
  }
  uint64_t n = slot.next++;
  if (equal_weights_) return n % hosts_.size();
  return weighted_index((n * stride_) % total_weight_);
}

size_t Group::least_request(uint64_t r1, uint64_t r2) const {
  size_t a = random_index(r1);
  size_t b = random_index(r2);
  if (a == b && hosts_.size() > 1) b = (a + 1 + bounded(r2 ^ r1, hosts_.size() - 1)) % hosts_.size();
  // Compare active/weight without dividing: a wins when active_a * w_b <= active_b * w_a.
  uint64_t la = uint64_t{hosts_[a]->active_requests()} * weights_[b];
  uint64_t lb = uint64_t{hosts_[b]->active_requests()} * weights_[a];
  return la <= lb ? a : b;
}

void Group::build_ring(const LbConfig& config) {
  // Each host gets replicas in proportion to its weight, and the ring has at least
  // minimum_ring_size entries: 3 equal hosts and 1024 -> ceil(1024/3) = 342 each, 1026 in all.
  uint64_t target = std::clamp<uint64_t>(std::max<uint64_t>(config.minimum_ring_size, hosts_.size()),
                                         1, config.maximum_ring_size);
  std::vector<std::pair<uint64_t, uint32_t>> ring;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    double share = static_cast<double>(weights_[i]) / static_cast<double>(total_weight_);
    uint64_t replicas = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(share * static_cast<double>(target))));
    for (uint64_t r = 0; r < replicas; ++r) {
      ring.emplace_back(hash64(hosts_[i]->name() + "_" + std::to_string(r)), static_cast<uint32_t>(i));
    }
  }
  std::sort(ring.begin(), ring.end());
  ring_hashes_.reserve(ring.size());
  ring_hosts_.reserve(ring.size());
  for (auto& [h, i] : ring) {
    ring_hashes_.push_back(h);
    ring_hosts_.push_back(i);
  }
  ring_bucket_.resize(kRingBuckets + 1);
  size_t pos = 0;
  for (uint64_t b = 0; b < kRingBuckets; ++b) {
    while (pos < ring_hashes_.size() && (ring_hashes_[pos] >> kRingShift) < b) ++pos;
    ring_bucket_[b] = static_cast<uint32_t>(pos);
  }
  ring_bucket_[kRingBuckets] = static_cast<uint32_t>(ring_hashes_.size());
}

size_t Group::ring_lookup(uint64_t hash) const {
  uint64_t b = hash >> kRingShift;
  auto first = ring_hashes_.begin() + ring_bucket_[b];
  auto last = ring_hashes_.begin() + ring_bucket_[b + 1];
  auto it = std::lower_bound(first, last, hash);
  size_t pos = it == ring_hashes_.end() ? 0 : static_cast<size_t>(it - ring_hashes_.begin());
  return ring_hosts_[pos];
}

void Group::build_maglev(const LbConfig& config) {
  // Maglev (Eisenbud et al., NSDI 2016): each host walks its own permutation of the table
  // (offset + j * skip mod M, M prime so every skip is a full cycle) and claims the first free
  // slot on its turn. Weights: in round t a host takes a turn while its count is below
  // t * weight / max_weight, so a weight-2 host claims about twice the slots of a weight-1 host.
  const uint64_t m = config.maglev_table_size;
  maglev_.assign(m, UINT32_MAX);
  const size_t n = hosts_.size();
  std::vector<uint64_t> offset(n), skip(n), next(n, 0), count(n, 0);
  uint64_t max_weight = 0;
  for (size_t i = 0; i < n; ++i) {
    offset[i] = hash64(hosts_[i]->name(), 0x6d61676c) % m;
    skip[i] = hash64(hosts_[i]->name(), 0x736b6970) % (m - 1) + 1;
    max_weight = std::max<uint64_t>(max_weight, weights_[i]);
  }
  uint64_t filled = 0;
  for (uint64_t round = 1; filled < m; ++round) {
    for (size_t i = 0; i < n && filled < m; ++i) {
      if (count[i] * max_weight >= round * weights_[i]) continue;
      uint64_t slot;
      do {
        slot = (offset[i] + next[i] * skip[i]) % m;
        ++next[i];
      } while (maglev_[slot] != UINT32_MAX);
      maglev_[slot] = static_cast<uint32_t>(i);
      ++count[i];
      ++filled;
    }
  }
}

size_t Group::choose(uint64_t random, uint64_t random2, const uint64_t* hash, uint32_t attempt,
                     std::array<RoundRobinSlot, 16>& rr) const {
  switch (policy_) {
    case LbPolicy::kRoundRobin:
      return round_robin(random, rr);
    case LbPolicy::kLeastRequest:
      return least_request(random, random2);
    case LbPolicy::kRandom:
      return random_index(random);
    case LbPolicy::kRingHash:
    case LbPolicy::kMaglev: {
      // No key: behave like random (Envoy does the same when the hash policy yields nothing).
      if (hash == nullptr) return random_index(random);
      // A retry rehashes the key so the same request lands somewhere else, deterministically.
      uint64_t h = attempt == 0 ? mix64(*hash) : mix64(*hash + attempt * 0x9e3779b97f4a7c15ULL);
      if (policy_ == LbPolicy::kMaglev) return maglev_[h % maglev_.size()];
      return ring_lookup(h);
    }
  }
  return 0;
}

}  // namespace gslb::route::detail
