// Outlier detection rules one by one, with a manual clock stepped across each boundary.
#include <catch2/catch.hpp>

#include <set>

#include "../../src/route/outlier.hpp"
#include "helpers.hpp"

using namespace route_test;
using namespace gslb::route::detail;

namespace {

const Client kClient{Locality::parse("r/z")};

ClusterConfig hosts(int n) {
  ClusterConfig c;
  for (int i = 0; i < n; ++i) c.endpoints.push_back(ep("10.0.0." + std::to_string(i), 80, "r/z"));
  c.outlier.max_ejection_percent = 100;
  return c;
}

// One error ejects; sweeps every 10 s; ejections of 30 s.
ClusterConfig one_strike(int n) {
  ClusterConfig c = hosts(n);
  c.outlier.consecutive_5xx = 1;
  c.outlier.interval = 10s;
  c.outlier.base_ejection_time = 30s;
  return c;
}

}  // namespace

TEST_CASE("Istio defaults") {
  OutlierConfig o;
  CHECK(o.consecutive_5xx == 5);
  CHECK(o.consecutive_gateway_errors == 0);
  CHECK(o.interval == 10s);
  CHECK(o.base_ejection_time == 30s);
  CHECK(o.max_ejection_percent == 10);
  CHECK(o.min_health_percent == 0);
  CHECK(o.enforcing_success_rate == 0);
}

TEST_CASE("ejection time grows with each ejection and is capped") {
  OutlierConfig o;
  CHECK(ejection_duration(1, o) == 30s);
  CHECK(ejection_duration(3, o) == 90s);
  CHECK(ejection_duration(10, o) == 300s);
  CHECK(ejection_duration(1000000, o) == 300s);
  o.base_ejection_time = 10min;  // larger than the cap: the base wins
  CHECK(ejection_duration(2, o) == 10min);
}

TEST_CASE("max_ejection_percent rounding") {
  OutlierConfig o;
  o.max_ejection_percent = 10;
  CHECK_FALSE(ejection_within_limit(0, 3, o));
  CHECK(ejection_within_limit(0, 10, o));
  CHECK_FALSE(ejection_within_limit(1, 10, o));
  CHECK(ejection_within_limit(1, 20, o));
  o.max_ejection_percent = 50;
  CHECK(ejection_within_limit(0, 3, o));   // 1 of 3 = 33%
  CHECK_FALSE(ejection_within_limit(1, 3, o));  // 2 of 3 = 67%
  o.max_ejection_percent = 0;
  o.always_eject_one_host = true;
  CHECK(ejection_within_limit(0, 1, o));
  CHECK_FALSE(ejection_within_limit(1, 5, o));
}

TEST_CASE("consecutive_5xx: a success in between resets the run; 4xx counts as success") {
  ClusterConfig c = hosts(2);
  c.outlier.consecutive_5xx = 3;
  Harness h(c);
  for (int status : {500, 503, 404, 500, 502}) report_to(*h.cluster, "10.0.0.0:80", Outcome::http(status));
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
}

TEST_CASE("consecutive_gateway_errors counts 502/503/504 only") {
  ClusterConfig c = hosts(2);
  c.outlier.consecutive_5xx = 0;
  c.outlier.consecutive_gateway_errors = 2;
  Harness h(c);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(502));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));  // a 5xx, but not a gateway error
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(504));
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kTimeout));  // maps to 504
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
  CHECK(h.recorder.events().at(0).reason == EjectReason::kConsecutiveGatewayError);
}

TEST_CASE("split_external_local_origin_errors keeps connect failures apart from 5xx") {
  ClusterConfig c = hosts(2);
  c.outlier.split_external_local_origin_errors = true;
  c.outlier.consecutive_5xx = 2;
  c.outlier.consecutive_local_origin_failures = 3;
  Harness h(c);
  // Connect failures no longer count toward consecutive_5xx ...
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kConnectFailed));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kConnectFailed));
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  // ... a response (even a 500) proves the connection works and resets the local run ...
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kReset));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kReset));
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kReset));
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
  CHECK(h.recorder.events().at(0).reason == EjectReason::kConsecutiveLocalOrigin);
}

TEST_CASE("without the split a connect failure counts as a 5xx") {
  ClusterConfig c = hosts(2);
  c.outlier.consecutive_5xx = 2;
  Harness h(c);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::local(LocalFailure::kConnectFailed));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(503));
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
}

TEST_CASE("repeat ejections last longer; an interval spent healthy forgives one") {
  ClusterConfig c = one_strike(2);
  Harness h(c);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));
  h.clock.advance(30s);
  h.cluster->tick();
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));  // second ejection: 60 s
  h.clock.advance(60s - 1ms);
  h.cluster->tick();
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
  h.clock.advance(1ms);
  h.cluster->tick();
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  CHECK(h.cluster->endpoints()[0]->times_ejected() == 2);
  h.clock.advance(10s);
  h.cluster->tick();
  CHECK(h.cluster->endpoints()[0]->times_ejected() == 1);
}

TEST_CASE("min_healthy_to_eject_percent (gslb's own guard) suspends ejection") {
  ClusterConfig c = hosts(4);
  c.outlier.consecutive_5xx = 1;
  c.outlier.min_healthy_to_eject_percent = 75;
  Harness h(c);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));  // 4/4 healthy: allowed
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
  report_to(*h.cluster, "10.0.0.1:80", Outcome::http(500));  // 3/4 = 75%: allowed
  CHECK(is_ejected(*h.cluster, "10.0.0.1:80"));
  report_to(*h.cluster, "10.0.0.2:80", Outcome::http(500));  // 2/4 = 50% < 75%: suspended
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.2:80"));
  CHECK(h.cluster->stats().ejections_suspended == 1);
}

TEST_CASE("success-rate statistics") {
  OutlierConfig o;
  o.success_rate_request_volume = 100;
  o.success_rate_minimum_hosts = 5;
  std::vector<HostSample> s = {{100, 0}, {100, 0}, {100, 0}, {100, 0}, {50, 50}};
  CHECK(success_rate_outliers(s, o) == std::vector<size_t>{4});
  s[4] = {60, 40};  // mean 92, stdev 16, threshold 61.6: 60 is out
  CHECK(success_rate_outliers(s, o) == std::vector<size_t>{4});
  // Spread-out rates 95,100,90,100,92: mean 95.4, stdev 4.1, threshold 87.6: nobody is out.
  std::vector<HostSample> spread = {{95, 5}, {100, 0}, {90, 10}, {100, 0}, {92, 8}};
  CHECK(success_rate_outliers(spread, o).empty());
  s.pop_back();  // 4 hosts: below success_rate_minimum_hosts
  s.push_back({10, 40});  // 50 requests: below request volume
  CHECK(success_rate_outliers(s, o).empty());
}

TEST_CASE("success-rate and failure-percentage ejection run every interval") {
  ClusterConfig c = hosts(5);
  c.outlier.consecutive_5xx = 0;
  c.outlier.enforcing_success_rate = 100;
  c.outlier.interval = 10s;
  SECTION("success rate") {
    Harness h(c);
    for (int i = 0; i < 5; ++i) {
      for (int k = 0; k < 100; ++k)
        report_to(*h.cluster, "10.0.0." + std::to_string(i) + ":80", Outcome::http(i == 2 && k % 2 ? 500 : 200));
    }
    h.clock.advance(10s - 1ms);
    h.cluster->tick();
    CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.2:80"));
    h.clock.advance(1ms);
    h.cluster->tick();
    CHECK(is_ejected(*h.cluster, "10.0.0.2:80"));
    CHECK(h.cluster->stats().ejections_by_reason[static_cast<size_t>(EjectReason::kSuccessRate)] == 1);
  }
  SECTION("failure percentage") {
    c.outlier.enforcing_success_rate = 0;
    c.outlier.enforcing_failure_percentage = 100;
    c.outlier.failure_percentage_threshold = 85;
    Harness h(c);
    for (int i = 0; i < 5; ++i) {
      for (int k = 0; k < 50; ++k)
        report_to(*h.cluster, "10.0.0." + std::to_string(i) + ":80", Outcome::http(i == 1 && k < 45 ? 503 : 200));
    }
    h.clock.advance(10s);
    h.cluster->tick();
    CHECK(is_ejected(*h.cluster, "10.0.0.1:80"));
    CHECK(h.cluster->stats().ejections_total == 1);
  }
}

TEST_CASE("membership updates keep ejections and drop removed endpoints") {
  ClusterConfig c = hosts(3);
  c.outlier.consecutive_5xx = 1;
  Harness h(c);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));
  auto specs = c.endpoints;
  specs[0].weight = 5;  // new metadata for an ejected endpoint
  specs.pop_back();
  CHECK(h.cluster->update(specs).empty());
  CHECK(h.cluster->endpoints().size() == 2);
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
  CHECK(h.by_name(kClient, 100) == std::map<std::string, int>{{"10.0.0.1:80", 100}});
  specs.push_back(specs[1]);  // duplicate
  CHECK_FALSE(h.cluster->update(specs).empty());
}

// Envoy source/common/upstream/outlier_detection_impl.cc: ejected hosts return only from
// DetectorImpl::onIntervalTimer -> checkHostForUneject, which tests
// min(base * backoff, max) + jitter <= now - last_ejection_time. The timer runs every `interval`
// from the detector's creation, so an ejection that is up between two sweeps waits for the next.
TEST_CASE("an ejected endpoint returns at the first interval sweep after its time is up (Envoy checkHostForUneject)") {
  ClusterConfig c = one_strike(2);
  Harness h(c);
  h.clock.advance(5s);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));  // ejected at 5 s until 35 s
  h.clock.advance(30s);                                       // 35 s: time is up, no sweep yet
  h.cluster->tick();
  CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
  CHECK(h.by_name(kClient, 10) == std::map<std::string, int>{{"10.0.0.1:80", 10}});
  h.clock.advance(5s - 1ms);                                  // 39.999 s
  CHECK(h.by_name(kClient, 10) == std::map<std::string, int>{{"10.0.0.1:80", 10}});
  h.clock.advance(1ms);                                       // 40 s: the sweep; pick() runs it
  CHECK(h.by_name(kClient, 10).size() == 2);
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  auto events = h.recorder.events();
  REQUIRE(events.size() == 2);
  CHECK(events[1].kind == EventKind::kReturned);
  CHECK(events[1].at == TimePoint{40s});
}

TEST_CASE("sweeps keep the timer's phase when tick() runs late") {
  ClusterConfig c = one_strike(2);
  Harness h(c);
  report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));  // 0 s .. 30 s
  h.clock.set(TimePoint{17s});
  h.cluster->tick();  // the 10 s sweep, late; the next one is still due at 20 s, then 30 s
  h.clock.set(TimePoint{30s});
  h.cluster->tick();
  CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
}

// Envoy outlier_detection_impl.cc ejectHost: jitter = random % (max_ejection_time_jitter + 1) ms,
// added to the ejection time in checkHostForUneject.
TEST_CASE("ejection-time jitter: each ejection lasts a further 0..jitter (Envoy ejectHost)") {
  ClusterConfig c = hosts(20);
  c.outlier.consecutive_5xx = 1;
  c.outlier.interval = 1s;
  c.outlier.base_ejection_time = 10s;
  c.outlier.max_ejection_time_jitter = 5s;
  Harness h(c);
  for (int i = 0; i < 20; ++i) report_to(*h.cluster, "10.0.0." + std::to_string(i) + ":80", Outcome::http(500));
  std::set<int64_t> lengths;
  for (const auto& e : h.recorder.events()) {
    CHECK(e.ejection_time >= 10s);
    CHECK(e.ejection_time <= 15s);
    CHECK(e.ejection_time % 1ms == Duration{0});
    lengths.insert(e.ejection_time.count());
  }
  CHECK(lengths.size() > 10);
  // Returned at the sweeps (1 s apart), not all at 10 s: some are still out at 12 s.
  h.clock.set(TimePoint{12s});
  h.cluster->tick();
  CHECK(h.cluster->stats().ejections_active > 0);
  CHECK(h.cluster->stats().ejections_active < 20);
  h.clock.set(TimePoint{15s});
  h.cluster->tick();
  CHECK(h.cluster->stats().ejections_active == 0);
}

TEST_CASE("the ejection multiplier stops one step past the cap (Envoy ejectHost)") {
  ClusterConfig c = one_strike(2);
  c.outlier.max_ejection_time = 90s;
  Harness h(c);
  for (int round = 0; round < 6; ++round) {
    report_to(*h.cluster, "10.0.0.0:80", Outcome::http(500));
    h.clock.advance(100s);
    h.cluster->tick();
    REQUIRE_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  }
  // 30 * m < 90 + 30 raises m up to 4, never past it; the ejections last at most 90 s.
  CHECK(h.cluster->endpoints()[0]->times_ejected() == 4);
  for (const auto& e : h.recorder.events()) {
    if (e.kind == EventKind::kEjected) CHECK(e.ejection_time <= 90s);
  }
}

// Envoy onIntervalTimer -> processSuccessRateEjections(LocalOrigin): with the split, the
// success-rate sweep also runs over local-origin outcomes, enforced by
// enforcing_local_origin_success_rate (Envoy's default 100; Istio writes 0, the default here).
TEST_CASE("success-rate ejection on local-origin errors when split (Envoy SUCCESS_RATE_LOCAL_ORIGIN)") {
  ClusterConfig c = hosts(5);
  c.outlier.consecutive_5xx = 0;
  c.outlier.consecutive_local_origin_failures = 0;
  c.outlier.split_external_local_origin_errors = true;
  c.outlier.enforcing_local_origin_success_rate = 100;
  c.outlier.interval = 10s;
  Harness h(c);
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 100; ++k) {
      std::string name = "10.0.0." + std::to_string(i) + ":80";
      if (i == 3 && k % 2) report_to(*h.cluster, name, Outcome::local(LocalFailure::kConnectFailed));
      else report_to(*h.cluster, name, Outcome::http(200));
    }
  }
  h.clock.advance(10s);
  h.cluster->tick();
  CHECK(is_ejected(*h.cluster, "10.0.0.3:80"));
  CHECK(h.cluster->stats().ejections_by_reason[static_cast<size_t>(EjectReason::kSuccessRateLocalOrigin)] == 1);
  CHECK(std::string(to_string(EjectReason::kSuccessRateLocalOrigin)) == "success_rate_local_origin");

  SECTION("enforcing_local_origin_success_rate = 0 turns it off") {
    c.outlier.enforcing_local_origin_success_rate = 0;
    Harness off(c);
    for (int k = 0; k < 100; ++k) report_to(*off.cluster, "10.0.0.3:80", Outcome::local(LocalFailure::kReset));
    off.clock.advance(10s);
    off.cluster->tick();
    CHECK(off.cluster->stats().ejections_total == 0);
  }
}

// Istio pilot/pkg/networking/core/cluster_traffic_policy.go (v1alpha3/ in older releases),
// applyOutlierDetection:
// "Disable panic threshold by default ..." -- healthy_panic_threshold = minHealthPercent whenever
// outlier detection is configured.
TEST_CASE("panic threshold: Istio's min_health_percent unless load_balancer.panic_threshold is set") {
  ClusterConfig c;
  CHECK(effective_panic_threshold(c) == 0);  // outlier detection on, min_health_percent 0
  c.outlier.min_health_percent = 30;
  CHECK(effective_panic_threshold(c) == 30);
  c.lb.panic_threshold = 70;
  CHECK(effective_panic_threshold(c) == 70);
  c.lb.panic_threshold.reset();
  c.outlier.enabled = false;
  CHECK(effective_panic_threshold(c) == 50);  // Envoy's default
  // The same function writes EnforcingLocalOriginSuccessRate = 0 with the split.
  CHECK(OutlierConfig{}.enforcing_local_origin_success_rate == 0);
}
