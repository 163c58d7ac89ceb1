#include "gslb/route/circuit_breaker.hpp"

namespace gslb::route {

CircuitBreaker::CircuitBreaker(const CircuitBreakerConfig& config)
    : max_requests_per_connection_(config.max_requests_per_connection) {
  for (RoutingPriority p : {RoutingPriority::kDefault, RoutingPriority::kHigh}) {
    const CircuitBreakerThresholds& t = p == RoutingPriority::kHigh ? config.high : config;
    slot(Resource::kConnection, p).limit = t.max_connections;
    slot(Resource::kPendingRequest, p).limit = t.max_pending_requests;
    slot(Resource::kRequest, p).limit = t.max_requests;
    slot(Resource::kRetry, p).limit = t.max_retries;
  }
}

Admission CircuitBreaker::try_acquire(Resource r, RoutingPriority p) noexcept {
  Slot& s = slot(r, p);
  if (s.limit == 0) {
    s.active.fetch_add(1, std::memory_order_relaxed);
    return Admission(this, r, p);
  }
  // Compare-and-swap rather than add-then-undo, so a burst never shows more than `limit` active
  // to a concurrent reader (the retry budget reads these counts).
  uint32_t current = s.active.load(std::memory_order_relaxed);
  do {
    if (current >= s.limit) {
      s.overflow.fetch_add(1, std::memory_order_relaxed);
      return Admission();
    }
  } while (!s.active.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  return Admission(this, r, p);
}

void CircuitBreaker::release(Resource r, RoutingPriority p) noexcept {
  slot(r, p).active.fetch_sub(1, std::memory_order_acq_rel);
}

uint32_t CircuitBreaker::active(Resource r, RoutingPriority p) const noexcept {
  return slot(r, p).active.load(std::memory_order_relaxed);
}

uint64_t CircuitBreaker::overflow(Resource r, RoutingPriority p) const noexcept {
  return slot(r, p).overflow.load(std::memory_order_relaxed);
}

bool CircuitBreaker::connection_exhausted(uint64_t requests_served) const noexcept {
  return max_requests_per_connection_ > 0 && requests_served >= max_requests_per_connection_;
}

}  // namespace gslb::route
