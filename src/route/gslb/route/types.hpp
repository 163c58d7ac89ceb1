// Vocabulary of gslb::route: time and randomness interfaces, localities, endpoint descriptions,
// request outcomes and the error type. Self-contained (std only) because it is installed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace gslb::route {

using Duration = std::chrono::nanoseconds;
// Monotonic time since an arbitrary origin chosen by the Clock.
using TimePoint = std::chrono::nanoseconds;

// Source of monotonic time. Injected so that tests step a manual clock across ejection and
// refill boundaries instead of sleeping. Called from any thread that picks or reports.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
};

// std::chrono::steady_clock; what an application uses in production.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const noexcept override;
};

// Time that moves only when told to. Thread-safe so that a test can advance it while workers pick.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{0}) : now_(start.count()) {}
  TimePoint now() const noexcept override { return TimePoint{now_.load(std::memory_order_acquire)}; }
  void advance(Duration d) noexcept { now_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void set(TimePoint t) noexcept { now_.store(t.count(), std::memory_order_release); }

 private:
  std::atomic<int64_t> now_;
};

// Source of uniformly distributed 64-bit numbers. Must be safe to call from several threads at
// once, because every picking thread draws from it.
class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t next() noexcept = 0;
};

// SplitMix64 over an atomic counter: each call claims one step of the sequence with a single
// fetch_add, so it is lock-free, thread-safe, and with a fixed seed single-threaded runs are
// exactly reproducible.
class SplitMixRandom final : public Random {
 public:
  explicit SplitMixRandom(uint64_t seed = 0x5eed) : state_(seed) {}
  uint64_t next() noexcept override;

 private:
  std::atomic<uint64_t> state_;
};

// Where an endpoint or a client runs: "region/zone/subzone", each part possibly empty.
struct Locality {
  std::string region;
  std::string zone;
  std::string subzone;

  // "us-east-1/us-east-1a" -> {us-east-1, us-east-1a, ""}. Never fails: missing parts are empty.
  static Locality parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const Locality&, const Locality&) = default;
};

// Istio-style locality pattern: "cn-hangzhou/*", "us-east-1/us-east-1a/*", "*", or a prefix
// "region[/zone[/subzone]]". "*" or a missing part matches anything from there on.
bool locality_matches(std::string_view pattern, const Locality& locality);

using Labels = std::map<std::string, std::string, std::less<>>;

// A request's rate-limit descriptor (Envoy's RateLimit::Descriptor): ordered (key, value)
// entries, e.g. {{"path", "/api"}, {"user", "bob"}}. Views: the caller owns the strings.
using DescriptorEntry = std::pair<std::string_view, std::string_view>;
struct DescriptorView {
  std::span<const DescriptorEntry> entries;
};

// Well-known label keys. When an endpoint or a client has no such label, its value is derived
// from the locality, as Istio does for failover_priority.
inline constexpr std::string_view kRegionLabel = "topology.kubernetes.io/region";
inline constexpr std::string_view kZoneLabel = "topology.kubernetes.io/zone";
inline constexpr std::string_view kSubzoneLabel = "topology.istio.io/subzone";

// Health as decided by the application or by its active health checks. Outlier ejection is
// separate and kept by the library; an endpoint receives traffic when it is kHealthy and not
// ejected (or when its priority is in panic). kDegraded is Envoy's degraded state (an active
// check or EDS said "works, but avoid"): such an endpoint counts toward its priority's
// availability and receives traffic only once the healthy endpoints of every priority cannot carry
// it all (Envoy's degraded priority load, load_balancer_impl.cc recalculatePerPriorityState).
enum class Health : uint8_t { kHealthy, kUnhealthy, kDegraded };

// One member of a cluster, as configured. (address, port) identifies it across updates.
struct EndpointSpec {
  std::string address;
  uint16_t port = 0;
  uint32_t weight = 1;  // 1..1000, like Envoy's load_balancing_weight range in practice
  Locality locality;
  Labels labels;
  Health health = Health::kHealthy;
};

// The caller's side of a pick: its locality and labels (for failover_priority).
struct Client {
  Locality locality;
  Labels labels;

  Client() = default;
  Client(Locality l) : locality(std::move(l)) {}  // NOLINT(google-explicit-constructor)
  Client(Locality l, Labels lb) : locality(std::move(l)), labels(std::move(lb)) {}
  friend bool operator==(const Client&, const Client&) = default;
};

// Failures that happen before any HTTP response exists ("local origin" in Envoy's terms).
enum class LocalFailure : uint8_t { kConnectFailed, kTimeout, kReset };

// What happened to one request sent to an endpoint.
struct Outcome {
  enum class Kind : uint8_t { kHttp, kLocalFailure };
  Kind kind = Kind::kHttp;
  int http_status = 200;
  LocalFailure failure = LocalFailure::kConnectFailed;
  Duration latency{0};

  static Outcome http(int status, Duration latency = Duration{0}) {
    return Outcome{Kind::kHttp, status, LocalFailure::kConnectFailed, latency};
  }
  static Outcome local(LocalFailure f, Duration latency = Duration{0}) {
    return Outcome{Kind::kLocalFailure, 0, f, latency};
  }
  bool is_5xx() const { return kind == Kind::kHttp && http_status >= 500 && http_status <= 599; }
  // Envoy's "gateway error": 502, 503, 504.
  bool is_gateway_error() const {
    return kind == Kind::kHttp && (http_status == 502 || http_status == 503 || http_status == 504);
  }
};

// One problem in a configuration: "file:line:col: key.path: reason". line/col are 1-based,
// 0 when not known (programmatic configuration has no positions).
struct Error {
  std::string file;
  int line = 0;
  int col = 0;
  std::string path;
  std::string message;

  std::string to_string() const;
};
using Errors = std::vector<Error>;

// A value or every error found while producing it.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Errors errors) : v_(std::move(errors)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Errors& errors() const { return std::get<1>(v_); }
  // Every error, one per line.
  std::string error_text() const;

 private:
  std::variant<T, Errors> v_;
};

template <class T>
std::string Result<T>::error_text() const {
  std::string out;
  if (ok()) return out;
  for (const auto& e : errors()) {
    out += e.to_string();
    out += '\n';
  }
  return out;
}

}  // namespace gslb::route
