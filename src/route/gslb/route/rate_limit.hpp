// Local rate limiting as Envoy's local_ratelimit filter (and ASM's local limiter) configure it:
// a token bucket that starts full and gains tokens_per_fill every fill_interval, up to max_tokens.
// Lock-free: each bucket is one 64-bit atomic word. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "gslb/route/config.hpp"

namespace gslb::route {

class TokenBucket {
 public:
  // `start` is the moment the bucket is full; fills happen at start + k * fill_interval.
  TokenBucket(const TokenBucketConfig& config, TimePoint start);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  bool try_consume(TimePoint now, uint32_t tokens = 1) noexcept;
  uint32_t available(TimePoint now) const noexcept;

 private:
  // Number of whole fill intervals elapsed since start_, modulo 2^32.
  uint32_t fill_index(TimePoint now) const noexcept;
  // Tokens in a state word brought forward to fill index `now_index`.
  uint32_t refill(uint64_t word, uint32_t now_index) const noexcept;

  TokenBucketConfig config_;
  TimePoint start_;
  // High 32 bits: fill index of the last update; low 32 bits: tokens left.
  std::atomic<uint64_t> state_;
};

// One default bucket shared by every key without its own, plus a bucket per configured key.
class LocalRateLimiter {
 public:
  LocalRateLimiter(const RateLimitConfig& config, const Clock& clock);

  // Takes one token from the bucket of every configured descriptor that one of `descriptors`
  // equals (slowest fill rate first; the first empty one refuses), then -- if none matched or
  // always_consume_default_token_bucket -- from `key`'s bucket (the default bucket for unknown
  // or empty keys). No allocation.
  bool allow(std::string_view key = {}, std::span<const DescriptorView> descriptors = {}) noexcept;
  uint64_t limited() const noexcept { return limited_.load(std::memory_order_relaxed); }
  uint64_t allowed() const noexcept { return allowed_.load(std::memory_order_relaxed); }

 private:
  const Clock& clock_;
  std::unique_ptr<TokenBucket> default_;
  std::vector<std::pair<std::string, std::unique_ptr<TokenBucket>>> keyed_;  // sorted by key
  struct Descriptor {
    std::vector<std::pair<std::string, std::string>> entries;
    std::unique_ptr<TokenBucket> bucket;
  };
  std::vector<Descriptor> descriptors_;  // by fill rate, slowest first
  bool always_consume_default_;
  std::atomic<uint64_t> limited_{0};
  std::atomic<uint64_t> allowed_{0};
};

}  // namespace gslb::route
