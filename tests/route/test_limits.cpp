// Circuit breaker, token bucket and retry policy.
#include <catch2/catch.hpp>

#include <set>

#include "helpers.hpp"

using namespace route_test;

namespace {
const Client kClientRz{Locality::parse("r/z")};
}  // namespace

TEST_CASE("circuit breaker admits up to the limit, counts overflow, frees on release") {
  CircuitBreakerConfig c;
  c.max_requests = 2;
  c.max_requests_per_connection = 3;
  CircuitBreaker cb(c);
  Admission a = cb.try_acquire(Resource::kRequest);
  Admission b = cb.try_acquire(Resource::kRequest);
  Admission d = cb.try_acquire(Resource::kRequest);
  CHECK(a);
  CHECK(b);
  CHECK_FALSE(d);
  CHECK(cb.overflow(Resource::kRequest) == 1);
  CHECK(cb.active(Resource::kRequest) == 2);
  a.release();
  CHECK(cb.try_acquire(Resource::kRequest));
  {
    Admission moved = std::move(b);
    CHECK(cb.active(Resource::kRequest) == 1);
  }
  CHECK(cb.active(Resource::kRequest) == 0);
  // 0 = unlimited, still counted.
  Admission conn = cb.try_acquire(Resource::kConnection);
  CHECK(conn);
  CHECK(cb.active(Resource::kConnection) == 1);
  CHECK_FALSE(cb.connection_exhausted(2));
  CHECK(cb.connection_exhausted(3));
}

TEST_CASE("max_requests on a cluster: picks beyond the budget get kCircuitOpen") {
  ClusterConfig c;
  c.endpoints = {ep("10.0.0.1", 80, "r/z")};
  c.circuit_breaker.max_requests = 3;
  Harness h(c);
  const Client client{Locality::parse("r/z")};
  std::vector<Pick> open;
  for (int i = 0; i < 3; ++i) open.push_back(h.cluster->pick(client));
  Pick refused = h.cluster->pick(client);
  CHECK_FALSE(refused);
  CHECK(refused.error() == PickError::kCircuitOpen);
  h.cluster->report(open[0], Outcome::http(200));  // completion frees a slot
  CHECK(h.cluster->pick(client));
  CHECK(h.cluster->stats().circuit_open == 1);
  CHECK(h.cluster->circuit_breaker().overflow(Resource::kRequest) == 1);
}

// Envoy keeps one ResourceManager per RoutingPriority (cluster circuit_breakers.thresholds[],
// each with its `priority`): HIGH requests neither use nor see DEFAULT's budget.
TEST_CASE("per-priority circuit-breaker thresholds: DEFAULT and HIGH count apart") {
  ClusterConfig c;
  c.endpoints = {ep("10.0.0.1", 80, "r/z")};
  c.circuit_breaker.max_requests = 1;
  c.circuit_breaker.high.max_requests = 2;
  Harness h(c);
  const Client client{Locality::parse("r/z")};
  PickOptions high;
  high.priority = RoutingPriority::kHigh;
  Pick d1 = h.cluster->pick(client);
  CHECK(d1);
  CHECK(h.cluster->pick(client).error() == PickError::kCircuitOpen);  // DEFAULT is full
  Pick h1 = h.cluster->pick(client, high);
  Pick h2 = h.cluster->pick(client, high);
  CHECK(h1);
  CHECK(h2);
  CHECK(h.cluster->pick(client, high).error() == PickError::kCircuitOpen);
  CircuitBreaker& cb = h.cluster->circuit_breaker();
  CHECK(cb.active(Resource::kRequest) == 1);
  CHECK(cb.active(Resource::kRequest, RoutingPriority::kHigh) == 2);
  CHECK(cb.overflow(Resource::kRequest) == 1);
  CHECK(cb.overflow(Resource::kRequest, RoutingPriority::kHigh) == 1);
  h.cluster->report(h1, Outcome::http(200));
  CHECK(cb.active(Resource::kRequest, RoutingPriority::kHigh) == 1);
  CHECK(h.cluster->pick(client, high));

  // A retry state of priority HIGH takes HIGH's retry slots and passes HIGH to its picks.
  c.circuit_breaker.high.max_retries = 1;
  CircuitBreaker breaker(c.circuit_breaker);
  RetryState retry(c.retry, h.random, &breaker, RoutingPriority::kHigh);
  CHECK(retry.pick_options().priority == RoutingPriority::kHigh);
  CHECK(retry.on_outcome(Outcome::http(503)).retry());
  CHECK(breaker.active(Resource::kRetry, RoutingPriority::kHigh) == 1);
  CHECK(breaker.active(Resource::kRetry) == 0);
}

TEST_CASE("token bucket: partial fills, cap, and fills that were missed") {
  TokenBucket b({10, 3, 100ms}, TimePoint{0});
  for (int i = 0; i < 10; ++i) CHECK(b.try_consume(TimePoint{0}));
  CHECK_FALSE(b.try_consume(TimePoint{0}));
  CHECK_FALSE(b.try_consume(TimePoint{99ms}));
  CHECK(b.available(TimePoint{100ms}) == 3);
  CHECK(b.available(TimePoint{250ms}) == 6);
  CHECK(b.available(TimePoint{10s}) == 10);  // capped at max_tokens
  CHECK(b.try_consume(TimePoint{10s}, 10));
  CHECK(b.available(TimePoint{10s}) == 0);
  // A caller with an older timestamp cannot rewind the bucket into a second refill.
  CHECK_FALSE(b.try_consume(TimePoint{9s}));
  CHECK(b.available(TimePoint{10s + 100ms}) == 3);
}

TEST_CASE("rate limit keys have their own buckets") {
  ManualClock clock;
  RateLimitConfig c;
  c.enabled = true;
  c.bucket = {2, 2, 1s};
  c.keys = {{"/api/expensive", {1, 1, 1s}}};
  LocalRateLimiter limiter(c, clock);
  CHECK(limiter.allow("/api/expensive"));
  CHECK_FALSE(limiter.allow("/api/expensive"));
  CHECK(limiter.allow("/other"));
  CHECK(limiter.allow());
  CHECK_FALSE(limiter.allow("/third"));  // unknown keys share the default bucket
  CHECK(limiter.limited() == 2);
  clock.advance(1s);
  CHECK(limiter.allow("/api/expensive"));
}

// Envoy source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc,
// LocalRateLimiterImpl::requestAllowed: each request descriptor equal to a configured one takes
// from that bucket (slowest fill first, the first empty one refuses); the default bucket is
// taken too when nothing matched or always_consume_default_token_bucket (default true).
TEST_CASE("per-descriptor local rate limits (Envoy LocalRateLimiterImpl::requestAllowed)") {
  ManualClock clock;
  RateLimitConfig c;
  c.enabled = true;
  c.bucket = {5, 5, 1s};
  c.descriptors = {{{{"path", "/api"}, {"user", "bob"}}, {2, 2, 1s}}, {{{"path", "/api"}}, {3, 3, 1s}}};
  const DescriptorEntry bob[] = {{"path", "/api"}, {"user", "bob"}};
  const DescriptorEntry api[] = {{"path", "/api"}};
  const DescriptorEntry other[] = {{"path", "/other"}};
  const DescriptorView bob_and_api[] = {{bob}, {api}};
  const DescriptorView only_other[] = {{other}};

  SECTION("every matching bucket and the default one are charged") {
    LocalRateLimiter limiter(c, clock);
    CHECK(limiter.allow({}, bob_and_api));  // bob 1/2, api 1/3, default 1/5
    CHECK(limiter.allow({}, bob_and_api));  // bob 2/2, api 2/3, default 2/5
    CHECK_FALSE(limiter.allow({}, bob_and_api));  // bob is empty: refused before api pays
    CHECK(limiter.allow({}, std::span<const DescriptorView>(&bob_and_api[1], 1)));  // api 3/3, default 3/5
    CHECK_FALSE(limiter.allow({}, std::span<const DescriptorView>(&bob_and_api[1], 1)));
    CHECK(limiter.allow({}, only_other));  // no match: default 4/5
    CHECK(limiter.allow());                // default 5/5
    CHECK_FALSE(limiter.allow({}, only_other));
    clock.advance(1s);
    CHECK(limiter.allow({}, bob_and_api));
  }
  SECTION("always_consume_default_token_bucket = false: a matched descriptor is enough") {
    c.always_consume_default_token_bucket = false;
    c.bucket = {1, 1, 1s};
    LocalRateLimiter limiter(c, clock);
    CHECK(limiter.allow({}, std::span<const DescriptorView>(&bob_and_api[1], 1)));
    CHECK(limiter.allow({}, std::span<const DescriptorView>(&bob_and_api[1], 1)));
    CHECK(limiter.allow());  // the default bucket was not touched
    CHECK_FALSE(limiter.allow());
  }
  SECTION("through a cluster's pick") {
    ClusterConfig cc;
    cc.endpoints = {ep("10.0.0.1", 80, "r/z")};
    cc.rate_limit = c;
    Harness h(cc);
    PickOptions o;
    o.descriptors = bob_and_api;
    CHECK(h.cluster->pick(kClientRz, o));
    CHECK(h.cluster->pick(kClientRz, o));
    CHECK(h.cluster->pick(kClientRz, o).error() == PickError::kRateLimited);
  }
}

TEST_CASE("which outcomes retry") {
  RetryOn on;  // gateway-error, connect-failure, reset
  CHECK(is_retriable(on, Outcome::http(503)));
  CHECK_FALSE(is_retriable(on, Outcome::http(500)));
  CHECK_FALSE(is_retriable(on, Outcome::http(200)));
  CHECK(is_retriable(on, Outcome::local(LocalFailure::kConnectFailed)));
  CHECK(is_retriable(on, Outcome::local(LocalFailure::kReset)));
  on.server_error = true;
  CHECK(is_retriable(on, Outcome::http(500)));
  on.retriable_4xx = true;
  CHECK(is_retriable(on, Outcome::http(409)));
  on.status_codes = {429};
  CHECK(is_retriable(on, Outcome::http(429)));
  CHECK_FALSE(is_retriable(on, Outcome::http(404)));
}

TEST_CASE("jittered exponential back-off stays inside [0, (2^n - 1) * 25ms), capped at 250 ms") {
  SplitMixRandom random(1);
  Duration max_seen[6] = {};
  for (int i = 0; i < 5000; ++i) {
    for (uint32_t n = 1; n <= 5; ++n) {
      Duration d = retry_backoff(n, 25ms, 250ms, random);
      CHECK(d >= Duration{0});
      max_seen[n] = std::max(max_seen[n], d);
    }
  }
  CHECK(max_seen[1] < 25ms);
  CHECK(max_seen[1] > 20ms);
  CHECK(max_seen[2] < 75ms);
  CHECK(max_seen[2] > 65ms);
  CHECK(max_seen[3] < 175ms);
  CHECK(max_seen[4] <= 250ms);
  CHECK(max_seen[5] <= 250ms);
  CHECK(max_seen[5] > 230ms);
}

// Envoy source/common/common/backoff_strategy.cc, JitteredExponentialBackOffStrategy::
// nextBackOffMs: min(random % ((2^k - 1) * base), max) in whole milliseconds, k growing only
// while the ceiling is <= max. The docs' "[0, (2^n - 1) * base) capped at max" differs from
// retry 4 on: the ceiling stays at 375 ms and a third of the draws land exactly on max.
TEST_CASE("retry back-off ranges as Envoy's backoff_strategy.cc computes them") {
  SplitMixRandom random(11);
  int at_max = 0;
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    Duration d = retry_backoff(4, 25ms, 250ms, random);
    CHECK(d % 1ms == Duration{0});
    CHECK(d <= 250ms);
    at_max += d == 250ms ? 1 : 0;
  }
  CHECK(at_max == Approx(n / 3).margin(n / 50));
  // Retry 3: ceiling 175 ms, below max: never clamped, max value 174 ms.
  Duration top{0};
  for (int i = 0; i < 5000; ++i) top = std::max(top, retry_backoff(3, 25ms, 250ms, random));
  CHECK(top == 174ms);
  // max == base: retry 1 draws from [0, 24]; the ceiling then grows once more (25 <= 25) to
  // 75 ms and stays, so later retries land on 25 ms two times in three.
  int capped = 0;
  for (int i = 0; i < 3000; ++i) {
    CHECK(retry_backoff(1, 25ms, 25ms, random) < 25ms);
    Duration d = retry_backoff(6, 25ms, 25ms, random);
    CHECK(d <= 25ms);
    capped += d == 25ms ? 1 : 0;
  }
  CHECK(capped == Approx(2000).margin(150));
}

TEST_CASE("retry state: attempts, a different endpoint, the retry budget") {
  ClusterConfig c;
  c.endpoints = {ep("10.0.0.1", 80, "r/z"), ep("10.0.0.2", 80, "r/z"), ep("10.0.0.3", 80, "r/z")};
  c.outlier.enabled = false;
  c.retry.attempts = 2;
  Harness h(c);
  const Client client{Locality::parse("r/z")};
  RetryState state(h.cluster->config().retry, h.random, &h.cluster->circuit_breaker());
  std::set<std::string> seen;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Pick p = h.cluster->pick(client, state.pick_options());
    REQUIRE(p);
    seen.insert(p.endpoint().name());
    state.attempted(p.endpoint_ptr());
    h.cluster->report(p, Outcome::http(503));
    auto d = state.on_outcome(Outcome::http(503));
    CHECK(d.retry() == (attempt < 2));
    if (attempt == 2) CHECK(d.verdict == RetryVerdict::kAttemptsExhausted);
  }
  CHECK(seen.size() == 3);
  CHECK(state.on_outcome(Outcome::http(200)).verdict == RetryVerdict::kSuccess);
  CHECK(state.on_outcome(Outcome::http(500)).verdict == RetryVerdict::kNotRetriable);

  SECTION("max_retries") {
    CircuitBreakerConfig cbc;
    cbc.max_retries = 1;
    CircuitBreaker cb(cbc);
    RetryState a(h.cluster->config().retry, h.random, &cb);
    RetryState b(h.cluster->config().retry, h.random, &cb);
    CHECK(a.on_outcome(Outcome::http(503)).retry());
    CHECK(b.on_outcome(Outcome::http(503)).verdict == RetryVerdict::kCircuitOpen);
    a.on_outcome(Outcome::http(200));  // a's retry finished: its slot is free again
    CHECK(b.on_outcome(Outcome::http(503)).retry());
  }
  SECTION("retry budget: 20% of active requests, at least min_retry_concurrency") {
    RetryConfig rc = h.cluster->config().retry;
    rc.budget_percent = 20;
    rc.min_retry_concurrency = 1;
    CircuitBreaker cb(CircuitBreakerConfig{});
    std::vector<Admission> requests;
    for (int i = 0; i < 10; ++i) requests.push_back(cb.try_acquire(Resource::kRequest));
    std::vector<std::unique_ptr<RetryState>> states;
    int granted = 0;
    for (int i = 0; i < 5; ++i) {
      states.push_back(std::make_unique<RetryState>(rc, h.random, &cb));
      granted += states.back()->on_outcome(Outcome::http(503)).retry() ? 1 : 0;
    }
    CHECK(granted == 2);  // 20% of 10
  }
}
