#include "gslb/route/rate_limit.hpp"

#include <algorithm>

namespace gslb::route {

namespace {

constexpr uint64_t pack(uint32_t index, uint32_t tokens) { return (uint64_t{index} << 32) | tokens; }
constexpr uint32_t index_of(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
constexpr uint32_t tokens_of(uint64_t word) { return static_cast<uint32_t>(word); }

}  // namespace

TokenBucket::TokenBucket(const TokenBucketConfig& config, TimePoint start)
    : config_(config), start_(start), state_(pack(0, config.max_tokens)) {}

uint32_t TokenBucket::fill_index(TimePoint now) const noexcept {
  if (now <= start_ || config_.fill_interval.count() <= 0) return 0;
  return static_cast<uint32_t>((now - start_) / config_.fill_interval);
}

uint32_t TokenBucket::refill(uint64_t word, uint32_t now_index) const noexcept {
  // Unsigned difference survives the index wrapping at 2^32 intervals (6.8 years at 50 ms).
  uint64_t fills = static_cast<uint32_t>(now_index - index_of(word));
  uint64_t tokens = tokens_of(word) + fills * config_.tokens_per_fill;
  return static_cast<uint32_t>(std::min<uint64_t>(tokens, config_.max_tokens));
}

bool TokenBucket::try_consume(TimePoint now, uint32_t n) noexcept {
  const uint32_t idx = fill_index(now);
  uint64_t word = state_.load(std::memory_order_acquire);
  for (;;) {
    // A caller with an older `now` than the last update must not rewind the fill index.
    uint32_t base_index = static_cast<int32_t>(idx - index_of(word)) < 0 ? index_of(word) : idx;
    uint32_t tokens = refill(word, base_index);
    if (tokens < n) {
      // Record the refill anyway so the bucket does not re-add the same fills later.
      uint64_t updated = pack(base_index, tokens);
      if (updated == word || state_.compare_exchange_weak(word, updated, std::memory_order_acq_rel)) return false;
      continue;
    }
    if (state_.compare_exchange_weak(word, pack(base_index, tokens - n), std::memory_order_acq_rel)) return true;
  }
}

uint32_t TokenBucket::available(TimePoint now) const noexcept {
  uint64_t word = state_.load(std::memory_order_acquire);
  uint32_t idx = fill_index(now);
  if (static_cast<int32_t>(idx - index_of(word)) < 0) idx = index_of(word);
  return refill(word, idx);
}

LocalRateLimiter::LocalRateLimiter(const RateLimitConfig& config, const Clock& clock)
    : clock_(clock), default_(std::make_unique<TokenBucket>(config.bucket, clock.now())) {
  for (const auto& [key, bucket] : config.keys) {
    keyed_.emplace_back(key, std::make_unique<TokenBucket>(bucket, clock.now()));
  }
  std::sort(keyed_.begin(), keyed_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

bool LocalRateLimiter::allow(std::string_view key) noexcept {
  TokenBucket* bucket = default_.get();
  if (!key.empty() && !keyed_.empty()) {
    auto it = std::lower_bound(keyed_.begin(), keyed_.end(), key,
                               [](const auto& entry, std::string_view k) { return entry.first < k; });
    if (it != keyed_.end() && it->first == key) bucket = it->second.get();
  }
  bool ok = bucket->try_consume(clock_.now());
  (ok ? allowed_ : limited_).fetch_add(1, std::memory_order_relaxed);
  return ok;
}

}  // namespace gslb::route
