// Circuit breaking as Envoy does it: a budget of connections, pending requests, requests and
// retries for one cluster, one per routing priority (Envoy's ResourceManagerImpl per
// RoutingPriority). Admission returns a token; dropping the token gives the slot back.
// Thread-safe: counters are atomics. A CircuitBreaker must outlive every token it handed out.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "gslb/route/config.hpp"

namespace gslb::route {

enum class Resource : uint8_t { kConnection = 0, kPendingRequest, kRequest, kRetry };
inline constexpr size_t kResourceCount = 4;

class CircuitBreaker;

// One admitted unit of a Resource. Move-only; releases on destruction or release().
class Admission {
 public:
  Admission() = default;
  Admission(Admission&& other) noexcept
      : breaker_(other.breaker_), resource_(other.resource_), priority_(other.priority_) {
    other.breaker_ = nullptr;
  }
  Admission& operator=(Admission&& other) noexcept {
    if (this != &other) {
      release();
      breaker_ = other.breaker_;
      resource_ = other.resource_;
      priority_ = other.priority_;
      other.breaker_ = nullptr;
    }
    return *this;
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { release(); }

  explicit operator bool() const noexcept { return breaker_ != nullptr; }
  // Inline because most picks carry an empty Admission and should not pay a call to find out.
  inline void release() noexcept;

 private:
  friend class CircuitBreaker;
  Admission(CircuitBreaker* breaker, Resource r, RoutingPriority p) : breaker_(breaker), resource_(r), priority_(p) {}
  CircuitBreaker* breaker_ = nullptr;
  Resource resource_ = Resource::kRequest;
  RoutingPriority priority_ = RoutingPriority::kDefault;
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(const CircuitBreakerConfig& config);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // An empty Admission when the resource is at its limit; the overflow counter then grows.
  // A limit of 0 means unlimited, but the slot is still counted (the retry budget needs it).
  Admission try_acquire(Resource r, RoutingPriority p = RoutingPriority::kDefault) noexcept;

  uint32_t active(Resource r, RoutingPriority p = RoutingPriority::kDefault) const noexcept;
  uint64_t overflow(Resource r, RoutingPriority p = RoutingPriority::kDefault) const noexcept;
  uint32_t limit(Resource r, RoutingPriority p = RoutingPriority::kDefault) const noexcept {
    return slot(r, p).limit;
  }
  // max_requests_per_connection: true once a connection has served its quota and the caller's
  // pool should close it after the current request (Istio maxRequestsPerConnection).
  bool connection_exhausted(uint64_t requests_served) const noexcept;

 private:
  friend class Admission;
  struct Slot;
  Slot& slot(Resource r, RoutingPriority p) noexcept {
    return slots_[static_cast<size_t>(p)][static_cast<size_t>(r)];
  }
  const Slot& slot(Resource r, RoutingPriority p) const noexcept {
    return slots_[static_cast<size_t>(p)][static_cast<size_t>(r)];
  }
  void release(Resource r, RoutingPriority p) noexcept;

  struct Slot {
    std::atomic<uint32_t> active{0};
    std::atomic<uint64_t> overflow{0};
    uint32_t limit = 0;
  };
  std::array<std::array<Slot, kResourceCount>, kRoutingPriorityCount> slots_;
  uint32_t max_requests_per_connection_ = 0;
};

void Admission::release() noexcept {
  if (breaker_ != nullptr) {
    breaker_->release(resource_, priority_);
    breaker_ = nullptr;
  }
}

}  // namespace gslb::route
