// Per-thread defences of the query path against hostile clients: response rate limiting and
// DNS cookies. A Guard belongs to one thread (a UDP thread, or a worker's TCP loop) and is used
// by that thread only; its counters are read by the metrics endpoint (relaxed atomics, one
// writer each).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/siphash.hpp"
#include "dns/cookie.hpp"
#include "dns/guard_config.hpp"
#include "dns/rrl.hpp"

namespace gslb::dns {

// What happened to a query's COOKIE option, for gslbd_cookies_total{result}.
enum class CookieResult : uint8_t { client_only, valid, invalid, badcookie, malformed };
inline constexpr size_t kCookieResults = 5;
const char* cookie_result_name(size_t i) noexcept;

struct GuardStats {
  std::atomic<uint64_t> rrl_dropped{0}, rrl_slipped{0}, rrl_log_only{0};
  std::atomic<uint64_t> cookies[kCookieResults] = {};
};

// The two clocks the guard needs, read once per batch of queries by the caller.
struct Now {
  uint32_t unix = 0;  // wall clock seconds: cookie timestamps
  uint32_t mono = 0;  // monotonic seconds: rate limiting
  static Now read() noexcept;
};

// 16 random bytes from the kernel (getrandom); for secrets and hash keys, at start-up.
core::SipKey random_key();

class Guard {
 public:
  // `udp`: a TCP thread never rate-limits, so it gets no table.
  Guard(const GuardConfig& cfg, GuardStats& stats, bool udp, Rrl::LogSink sink = nullptr);

  const GuardConfig& config() const noexcept { return cfg_; }
  Rrl& rrl() noexcept { return rrl_; }
  GuardStats& stats() noexcept { return stats_; }
  // The secrets in force at `unix_now`, recomputed when the epoch turns.
  const CookieSecrets& secrets(uint32_t unix_now) noexcept;

 private:
  const GuardConfig& cfg_;
  GuardStats& stats_;
  Rrl rrl_;
  CookieSecrets secrets_;
  uint64_t epoch_ = ~uint64_t{0};
};

// Bumps a counter that only this thread writes.
inline void guard_bump(std::atomic<uint64_t>& c) noexcept {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace gslb::dns
