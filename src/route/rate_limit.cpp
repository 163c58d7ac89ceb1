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
    : clock_(clock),
      default_(std::make_unique<TokenBucket>(config.bucket, clock.now())),
      always_consume_default_(config.always_consume_default_token_bucket) {
  for (const auto& [key, bucket] : config.keys) {
    keyed_.emplace_back(key, std::make_unique<TokenBucket>(bucket, clock.now()));
  }
  std::sort(keyed_.begin(), keyed_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Envoy sorts the matched descriptors by fill rate so the tightest bucket refuses before the
  // others spend a token: tokens_per_fill / fill_interval, compared without dividing.
  std::vector<const RateLimitDescriptor*> order;
  for (const auto& d : config.descriptors) order.push_back(&d);
  std::stable_sort(order.begin(), order.end(), [](const RateLimitDescriptor* a, const RateLimitDescriptor* b) {
    return static_cast<double>(a->bucket.tokens_per_fill) * static_cast<double>(b->bucket.fill_interval.count()) <
           static_cast<double>(b->bucket.tokens_per_fill) * static_cast<double>(a->bucket.fill_interval.count());
  });
  for (const RateLimitDescriptor* d : order) {
    descriptors_.push_back(Descriptor{d->entries, std::make_unique<TokenBucket>(d->bucket, clock.now())});
  }
}

namespace {

bool same_entries(const std::vector<std::pair<std::string, std::string>>& configured, const DescriptorView& request) {
  if (configured.size() != request.entries.size()) return false;
  for (size_t i = 0; i < configured.size(); ++i) {
    if (configured[i].first != request.entries[i].first || configured[i].second != request.entries[i].second) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool LocalRateLimiter::allow(std::string_view key, std::span<const DescriptorView> descriptors) noexcept {
  const TimePoint now = clock_.now();
  bool matched = false;
  bool ok = true;
  if (!descriptors.empty()) {
    for (const Descriptor& d : descriptors_) {
      bool hit = false;
      for (const DescriptorView& request : descriptors) hit = hit || same_entries(d.entries, request);
      if (!hit) continue;
      matched = true;
      if (!d.bucket->try_consume(now)) {
        ok = false;
        break;
      }
    }
  }
  if (ok && (!matched || always_consume_default_)) {
    TokenBucket* bucket = default_.get();
    if (!key.empty() && !keyed_.empty()) {
      auto it = std::lower_bound(keyed_.begin(), keyed_.end(), key,
                                 [](const auto& entry, std::string_view k) { return entry.first < k; });
      if (it != keyed_.end() && it->first == key) bucket = it->second.get();
    }
    ok = bucket->try_consume(now);
  }
  (ok ? allowed_ : limited_).fetch_add(1, std::memory_order_relaxed);
  return ok;
}

}  // namespace gslb::route
