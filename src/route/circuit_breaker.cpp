#include "gslb/route/circuit_breaker.hpp"

namespace gslb::route {

CircuitBreaker::CircuitBreaker(const CircuitBreakerConfig& config)
    : max_requests_per_connection_(config.max_requests_per_connection) {
  slots_[index(Resource::kConnection)].limit = config.max_connections;
  slots_[index(Resource::kPendingRequest)].limit = config.max_pending_requests;
  slots_[index(Resource::kRequest)].limit = config.max_requests;
  slots_[index(Resource::kRetry)].limit = config.max_retries;
}

Admission CircuitBreaker::try_acquire(Resource r) noexcept {
  Slot& s = slots_[index(r)];
  if (s.limit == 0) {
    s.active.fetch_add(1, std::memory_order_relaxed);
    return Admission(this, r);
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
  return Admission(this, r);
}

void CircuitBreaker::release(Resource r) noexcept {
  slots_[index(r)].active.fetch_sub(1, std::memory_order_acq_rel);
}

uint32_t CircuitBreaker::active(Resource r) const noexcept {
  return slots_[index(r)].active.load(std::memory_order_relaxed);
}

uint64_t CircuitBreaker::overflow(Resource r) const noexcept {
  return slots_[index(r)].overflow.load(std::memory_order_relaxed);
}

bool CircuitBreaker::connection_exhausted(uint64_t requests_served) const noexcept {
  return max_requests_per_connection_ > 0 && requests_served >= max_requests_per_connection_;
}

}  // namespace gslb::route
