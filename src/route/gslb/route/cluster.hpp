// A routed cluster: the endpoints of one upstream service and the per-request decisions an
// Envoy sidecar would take for it (locality priorities, spill, panic, load balancing, outlier
// ejection, circuit breaking, local rate limit).
//
// Threads: pick() and report() may be called from any number of threads at once. Health,
// membership and ejection changes rebuild an immutable routing table under an internal mutex and
// publish it atomically; pick() only reads the published table and never takes that mutex.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gslb/route/circuit_breaker.hpp"
#include "gslb/route/config.hpp"
#include "gslb/route/rate_limit.hpp"
#include "gslb/route/types.hpp"

namespace gslb::route {

class Endpoint;
namespace detail {
class ClusterImpl;
double warm_factor(const Endpoint& ep, const SlowStartConfig& config, TimePoint now);
}

// One member of a cluster. Shared (shared_ptr) by routing tables and by Picks in flight, so it
// stays valid while a request that chose it is running, even if the cluster dropped it.
class Endpoint {
 public:
  explicit Endpoint(EndpointSpec spec);
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  const EndpointSpec& spec() const noexcept { return spec_; }
  const std::string& address() const noexcept { return spec_.address; }
  uint16_t port() const noexcept { return spec_.port; }
  const Locality& locality() const noexcept { return spec_.locality; }
  uint32_t weight() const noexcept { return spec_.weight; }
  const std::string& name() const noexcept { return name_; }  // "address:port"

  Health health() const noexcept { return health_.load(std::memory_order_acquire); }
  bool ejected() const noexcept { return ejected_.load(std::memory_order_acquire); }
  uint32_t active_requests() const noexcept { return active_.load(std::memory_order_relaxed); }
  uint32_t times_ejected() const noexcept { return multiplier_.load(std::memory_order_relaxed); }

 private:
  friend class detail::ClusterImpl;
  friend class Pick;
  friend double detail::warm_factor(const Endpoint&, const SlowStartConfig&, TimePoint);

  EndpointSpec spec_;
  std::string name_;
  std::atomic<Health> health_;
  std::atomic<bool> ejected_{false};
  std::atomic<bool> removed_{false};
  // Requests picked and not yet reported: least-request input. Own cache line: it is written on
  // every pick and report, unlike everything else here.
  alignas(64) std::atomic<uint32_t> active_{0};
  // Outlier detection inputs, written by report().
  alignas(64) std::atomic<uint32_t> consecutive_5xx_{0};
  std::atomic<uint32_t> consecutive_gateway_{0};
  std::atomic<uint32_t> consecutive_local_{0};
  std::atomic<uint64_t> interval_success_{0};
  std::atomic<uint64_t> interval_failure_{0};
  std::atomic<uint64_t> interval_local_success_{0};
  std::atomic<uint64_t> interval_local_failure_{0};
  // Ejection bookkeeping, written only under the cluster's mutex.
  std::atomic<uint32_t> multiplier_{0};
  TimePoint ejected_until_{0};
  TimePoint returned_at_{0};
  bool has_returned_ = false;
  // Slow start: since when the endpoint has been warming up (joined or turned healthy).
  TimePoint warm_since_{0};
  bool warming_ = false;
};
using EndpointPtr = std::shared_ptr<Endpoint>;

enum class PickError : uint8_t { kNone, kNoHealthyEndpoint, kCircuitOpen, kRateLimited };
const char* to_string(PickError e);

struct PickOptions {
  // For ring hash and Maglev; other policies ignore it.
  std::optional<uint64_t> hash_key;
  // Endpoints to avoid (those already tried by a retry); used unless nothing else is left.
  const std::vector<EndpointPtr>* exclude = nullptr;
  // Which local rate limit bucket to charge ("" = the default bucket).
  std::string_view rate_limit_key;
  // The request's descriptors, matched against rate_limit.descriptors.
  std::span<const DescriptorView> descriptors;
  // Which circuit-breaker thresholds the request counts against (Envoy's route priority).
  RoutingPriority priority = RoutingPriority::kDefault;
};

// The result of a pick: an endpoint and the admission it holds, or the reason there is none.
// Move-only. Give it back with Cluster::report(); destroying it unreported just frees its slot.
class Pick {
 public:
  Pick() = default;
  explicit Pick(PickError error) : error_(error) {}
  Pick(Pick&&) noexcept = default;
  Pick& operator=(Pick&& other) noexcept {
    if (this != &other) {
      finish();
      endpoint_ = std::move(other.endpoint_);
      admission_ = std::move(other.admission_);
      error_ = other.error_;
      priority_ = other.priority_;
      panic_ = other.panic_;
    }
    return *this;
  }
  ~Pick() { finish(); }

  explicit operator bool() const noexcept { return endpoint_ != nullptr; }
  PickError error() const noexcept { return error_; }
  const Endpoint& endpoint() const { return *endpoint_; }
  const EndpointPtr& endpoint_ptr() const noexcept { return endpoint_; }
  uint32_t priority() const noexcept { return priority_; }
  bool panic() const noexcept { return panic_; }

 private:
  friend class detail::ClusterImpl;
  // Inline: runs on every pick's destruction and every report.
  void finish() noexcept {
    if (endpoint_) {
      endpoint_->active_.fetch_sub(1, std::memory_order_relaxed);
      endpoint_.reset();
    }
    admission_.release();
  }

  EndpointPtr endpoint_;
  Admission admission_;
  PickError error_ = PickError::kNoHealthyEndpoint;
  uint32_t priority_ = 0;
  bool panic_ = false;
};

enum class EventKind : uint8_t { kEjected, kReturned, kPanicEntered, kPanicLeft };
enum class EjectReason : uint8_t {
  kNone, kConsecutive5xx, kConsecutiveGatewayError, kConsecutiveLocalOrigin, kSuccessRate,
  kFailurePercentage, kSuccessRateLocalOrigin, kFailurePercentageLocalOrigin,
};
inline constexpr size_t kEjectReasonCount = 8;
const char* to_string(EventKind k);
const char* to_string(EjectReason r);

struct Event {
  EventKind kind = EventKind::kEjected;
  std::string cluster;
  EndpointPtr endpoint;                    // ejected / returned
  EjectReason reason = EjectReason::kNone; // ejected
  Duration ejection_time{0};               // ejected
  Client client;                           // panic: whose view of the priorities
  uint32_t priority = 0;                   // panic
  TimePoint at{0};
};

// Receives events for logging and metrics. Called on the thread whose pick/report/tick caused
// the event, one event at a time and in order, never under the cluster's mutex (so it may call
// back into the cluster).
class Listener {
 public:
  virtual ~Listener() = default;
  virtual void on_event(const Event& event) = 0;
};

struct ClusterOptions {
  const Clock* clock = nullptr;  // nullptr: a SteadyClock owned by the cluster
  Random* random = nullptr;      // nullptr: a SplitMixRandom owned by the cluster
  Listener* listener = nullptr;
  // Run tick() from pick() when an interval sweep or a slow-start step is due; false: the application
  // calls tick() itself (e.g. from a timer).
  bool auto_tick = true;
};

struct ClusterStats {
  uint64_t picks = 0;
  uint64_t no_healthy = 0;
  uint64_t circuit_open = 0;
  uint64_t rate_limited = 0;
  uint64_t panic_picks = 0;
  uint64_t ejections_total = 0;
  uint64_t ejections_overflow = 0;  // outlier found, not ejected: max_ejection_percent
  uint64_t ejections_suspended = 0; // outlier found, not ejected: below min_healthy_to_eject_percent
  std::array<uint64_t, kEjectReasonCount> ejections_by_reason{};  // indexed by EjectReason
  uint64_t ejections_active = 0;
  uint64_t rebuilds = 0;
};

// How one client sees the priorities, for tests, debugging and an admin page.
struct PriorityInfo {
  uint32_t load_percent = 0;           // share of all traffic sent to its healthy endpoints
  uint32_t degraded_load_percent = 0;  // share sent to its degraded endpoints
  uint32_t healthy = 0;                // healthy and not ejected
  uint32_t degraded = 0;               // degraded and not ejected
  uint32_t total = 0;
  bool panic = false;
  std::vector<std::string> endpoints;  // names
};

class Cluster {
 public:
  static Result<std::unique_ptr<Cluster>> create(ClusterConfig config, ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  Pick pick(const Client& client, const PickOptions& options = {});
  Pick pick(const Client& client, uint64_t hash_key);

  // Feeds outlier detection and frees the pick's slot. The pick is empty afterwards.
  void report(Pick& pick, const Outcome& outcome);
  // An outcome seen without a pick (e.g. a request made before routing was in place).
  void report(const Endpoint& endpoint, const Outcome& outcome);

  // Active health from the application. Returns false if no such endpoint.
  bool set_health(std::string_view address, uint16_t port, Health health);
  // Replaces the membership; endpoints keep their outlier state across updates (by address:port).
  Errors update(std::vector<EndpointSpec> endpoints);
  // Every `interval` (on a grid from the cluster's creation), returns the ejected endpoints whose
  // time is up and runs the success-rate and failure-percentage sweeps, as Envoy's interval
  // timer does. pick() calls it when due unless auto_tick is false.
  void tick();

  std::vector<EndpointPtr> endpoints() const;
  std::vector<PriorityInfo> priorities(const Client& client);
  ClusterStats stats() const;
  const ClusterConfig& config() const;
  CircuitBreaker& circuit_breaker();
  Random& random();

 private:
  explicit Cluster(std::unique_ptr<detail::ClusterImpl> impl);
  std::unique_ptr<detail::ClusterImpl> impl_;
};

}  // namespace gslb::route
