// The scenarios Istio users run against a DestinationRule, replayed against gslb::route with a
// manual clock: the same inputs must give the traffic shifts they know from Envoy.
#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace route_test;

namespace {

const Client kClient1a{Locality::parse("us-east-1/us-east-1a")};

ClusterConfig three_zones() {
  ClusterConfig c;
  c.endpoints = {ep("10.0.1.1", 80, "us-east-1/us-east-1a"), ep("10.0.2.1", 80, "us-east-1/us-east-1b"),
                 ep("10.0.3.1", 80, "us-west-2/us-west-2a")};
  c.outlier.consecutive_5xx = 1;
  c.outlier.max_ejection_percent = 100;
  c.outlier.base_ejection_time = 30s;
  return c;
}

}  // namespace

TEST_CASE("failover_priority region,zone: 1a, then 1b, then us-west-2a, then back to 1a") {
  ClusterConfig c = three_zones();
  // Istio counts label n only when labels 1..n-1 matched, so "zone then region" as tiers is
  // written broadest first: [region, zone] gives 1a priority 0, 1b priority 1, us-west-2a 2.
  c.locality.failover_priority = {"topology.kubernetes.io/region", "topology.kubernetes.io/zone"};
  Harness h(c);

  CHECK(h.by_zone(kClient1a, 1000) == std::map<std::string, int>{{"us-east-1a", 1000}});

  report_to(*h.cluster, "10.0.1.1:80", Outcome::http(503));
  CHECK(is_ejected(*h.cluster, "10.0.1.1:80"));
  CHECK(h.by_zone(kClient1a, 1000) == std::map<std::string, int>{{"us-east-1b", 1000}});

  h.clock.advance(10s);
  report_to(*h.cluster, "10.0.2.1:80", Outcome::http(503));
  CHECK(h.by_zone(kClient1a, 1000) == std::map<std::string, int>{{"us-west-2a", 1000}});

  // 1a was ejected at t=0 for 30 s: still out at 29.999 s, back at 30 s.
  h.clock.advance(20s - 1ms);
  CHECK(h.by_zone(kClient1a, 100) == std::map<std::string, int>{{"us-west-2a", 100}});
  h.clock.advance(1ms);
  CHECK(h.by_zone(kClient1a, 1000) == std::map<std::string, int>{{"us-east-1a", 1000}});
  CHECK(h.recorder.count(EventKind::kEjected) == 2);
  CHECK(h.recorder.count(EventKind::kReturned) == 1);
  CHECK(is_ejected(*h.cluster, "10.0.2.1:80"));
}

TEST_CASE("failover_priority follows Istio's prefix rule: [zone, region] cannot tell 1b from us-west-2") {
  ClusterConfig c = three_zones();
  c.locality.failover_priority = {"topology.kubernetes.io/zone", "topology.kubernetes.io/region"};
  Harness h(c);
  auto prio = h.cluster->priorities(kClient1a);
  REQUIRE(prio.size() == 2);
  CHECK(prio[0].endpoints == std::vector<std::string>{"10.0.1.1:80"});
  CHECK(prio[1].endpoints == std::vector<std::string>{"10.0.2.1:80", "10.0.3.1:80"});
}

TEST_CASE("failover_priority with labels and key=value") {
  ClusterConfig c;
  c.endpoints = {ep("10.0.0.1", 80, "r1/z1", 1, {{"version", "v2"}, {"network", "n1"}}),
                 ep("10.0.0.2", 80, "r1/z1", 1, {{"version", "v1"}, {"network", "n1"}}),
                 ep("10.0.0.3", 80, "r1/z1", 1, {{"version", "v2"}, {"network", "n2"}})};
  c.locality.failover_priority = {"network", "version=v2"};
  Harness h(c);
  auto prio = h.cluster->priorities(Client{Locality::parse("r1/z1"), {{"network", "n1"}, {"version", "v1"}}});
  REQUIRE(prio.size() == 3);
  // n1+v2 matches both (the client's own v1 is overridden by =v2), n1+v1 matches one, n2 none.
  CHECK(prio[0].endpoints == std::vector<std::string>{"10.0.0.1:80"});
  CHECK(prio[1].endpoints == std::vector<std::string>{"10.0.0.2:80"});
  CHECK(prio[2].endpoints == std::vector<std::string>{"10.0.0.3:80"});
}

TEST_CASE("consecutive_5xx = 1, base_ejection_time = 5m: one error, then the other zone of the region") {
  ClusterConfig c = three_zones();
  c.outlier.base_ejection_time = 5min;
  Harness h(c);

  Pick first = h.cluster->pick(kClient1a);
  REQUIRE(first);
  CHECK(first.endpoint().locality().zone == "us-east-1a");
  h.cluster->report(first, Outcome::http(500));  // the user sees this one fail

  CHECK(h.by_zone(kClient1a, 500) == std::map<std::string, int>{{"us-east-1b", 500}});
  h.clock.advance(5min - 1ms);
  CHECK(h.by_zone(kClient1a, 10) == std::map<std::string, int>{{"us-east-1b", 10}});
  h.clock.advance(1ms);
  CHECK(h.by_zone(kClient1a, 10) == std::map<std::string, int>{{"us-east-1a", 10}});
  auto events = h.recorder.events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == EventKind::kEjected);
  CHECK(events[0].reason == EjectReason::kConsecutive5xx);
  CHECK(events[0].ejection_time == 5min);
  CHECK(events[1].kind == EventKind::kReturned);
}

TEST_CASE("failover cn-hangzhou -> cn-shanghai when every cn-hangzhou endpoint is ejected") {
  ClusterConfig c;
  c.endpoints = {ep("10.1.0.1", 80, "cn-hangzhou/cn-hangzhou-a"), ep("10.1.0.2", 80, "cn-hangzhou/cn-hangzhou-a"),
                 ep("10.1.1.1", 80, "cn-hangzhou/cn-hangzhou-b"), ep("10.2.0.1", 80, "cn-shanghai/cn-shanghai-a"),
                 ep("10.3.0.1", 80, "cn-beijing/cn-beijing-a")};
  c.outlier.consecutive_5xx = 1;
  c.outlier.max_ejection_percent = 100;
  const Client client{Locality::parse("cn-hangzhou/cn-hangzhou-a")};

  SECTION("with the failover rule, Shanghai takes everything") {
    c.locality.failover = {{"cn-hangzhou", "cn-shanghai"}};
    Harness h(c);
    CHECK(h.by_region(client, 1000) == std::map<std::string, int>{{"cn-hangzhou", 1000}});
    for (auto name : {"10.1.0.1:80", "10.1.0.2:80", "10.1.1.1:80"}) report_to(*h.cluster, name, Outcome::http(503));
    CHECK(h.by_region(client, 1000) == std::map<std::string, int>{{"cn-shanghai", 1000}});
  }
  SECTION("without it, Shanghai and Beijing share the last priority") {
    Harness h(c);
    for (auto name : {"10.1.0.1:80", "10.1.0.2:80", "10.1.1.1:80"}) report_to(*h.cluster, name, Outcome::http(503));
    auto spread = h.by_region(client, 10000);
    CHECK(spread.size() == 2);
    CHECK(spread["cn-shanghai"] == Approx(5000).margin(300));
  }
}

TEST_CASE("distribute 90/10 from cn-hangzhou/* holds within 1% over 100,000 picks") {
  ClusterConfig c;
  c.endpoints = {ep("10.1.0.1", 80, "cn-hangzhou/cn-hangzhou-a"), ep("10.1.1.1", 80, "cn-hangzhou/cn-hangzhou-b"),
                 ep("10.2.0.1", 80, "cn-shanghai/cn-shanghai-a"), ep("10.2.1.1", 80, "cn-shanghai/cn-shanghai-b"),
                 ep("10.3.0.1", 80, "cn-beijing/cn-beijing-a")};
  c.locality.distribute = {{"cn-hangzhou/*", {{"cn-hangzhou/*", 90}, {"cn-shanghai/*", 10}}}};
  Harness h(c);
  auto spread = h.by_region(Client{Locality::parse("cn-hangzhou/cn-hangzhou-b")}, 100000);
  CHECK(spread.size() == 2);  // Beijing is in no `to` entry: no traffic at all
  CHECK(spread["cn-hangzhou"] == Approx(90000).margin(1000));
  CHECK(spread["cn-shanghai"] == Approx(10000).margin(1000));

}

// Istio pilot/pkg/networking/core/loadbalancer/loadbalancer.go, applyLocalityWeights: a client
// that matches no `distribute` rule leaves the load assignment as it is -- no priorities -- so
// Envoy's locality weighted LB spreads it over every locality by weight (Istio's locality weight
// is the sum of its endpoints' weights).
TEST_CASE("a client no distribute rule matches: no priorities, spread by weight (Istio applyLocalityWeights)") {
  ClusterConfig c;
  c.endpoints = {ep("10.1.0.1", 80, "cn-hangzhou/cn-hangzhou-a", 2), ep("10.1.0.2", 80, "cn-hangzhou/cn-hangzhou-a", 2),
                 ep("10.2.0.1", 80, "cn-shanghai/cn-shanghai-a", 1), ep("10.3.0.1", 80, "cn-beijing/cn-beijing-a", 3)};
  c.locality.distribute = {{"cn-hangzhou/*", {{"cn-hangzhou/*", 90}, {"cn-shanghai/*", 10}}}};
  Harness h(c);
  const Client beijing{Locality::parse("cn-beijing/cn-beijing-a")};
  auto prio = h.cluster->priorities(beijing);
  REQUIRE(prio.size() == 1);
  CHECK(prio[0].total == 4);
  auto spread = h.by_region(beijing, 40000);  // weights 4 : 1 : 3 of 8
  CHECK(spread["cn-hangzhou"] == Approx(20000).margin(600));
  CHECK(spread["cn-shanghai"] == Approx(5000).margin(600));
  CHECK(spread["cn-beijing"] == Approx(15000).margin(600));
  // Its own locality going down moves its share to the others, still by weight.
  h.cluster->set_health("10.3.0.1", 80, Health::kUnhealthy);
  auto after = h.by_region(beijing, 10000);
  CHECK(after.count("cn-beijing") == 0);
  CHECK(after["cn-hangzhou"] == Approx(8000).margin(400));
}

TEST_CASE("spill at overprovisioning 1.4: 5 of 10 healthy keeps 70% at priority 0") {
  ClusterConfig c;
  for (int i = 0; i < 10; ++i) c.endpoints.push_back(ep("10.0.1." + std::to_string(i), 80, "us-east-1/us-east-1a"));
  for (int i = 0; i < 10; ++i) c.endpoints.push_back(ep("10.0.2." + std::to_string(i), 80, "us-east-1/us-east-1b"));
  Harness h(c);
  for (int i = 0; i < 5; ++i) REQUIRE(h.cluster->set_health("10.0.1." + std::to_string(i), 80, Health::kUnhealthy));
  auto prio = h.cluster->priorities(kClient1a);
  REQUIRE(prio.size() == 2);
  CHECK(prio[0].load_percent == 70);
  CHECK(prio[1].load_percent == 30);
  CHECK_FALSE(prio[0].panic);  // the priorities together still carry 100%
  auto spread = h.by_zone(kClient1a, 100000);
  CHECK(spread["us-east-1a"] == Approx(70000).margin(1000));
  CHECK(spread["us-east-1b"] == Approx(30000).margin(1000));

  // 8 of 10 healthy: 8 * 1.4 = 112 -> capped at 100, nothing spills.
  for (int i = 0; i < 3; ++i) h.cluster->set_health("10.0.1." + std::to_string(i), 80, Health::kHealthy);
  CHECK(h.cluster->priorities(kClient1a)[0].load_percent == 100);
}

TEST_CASE("panic at 40% healthy: the priority routes to all its endpoints") {
  ClusterConfig c;
  for (int i = 0; i < 10; ++i) c.endpoints.push_back(ep("10.0.1." + std::to_string(i), 80, "us-east-1/us-east-1a"));
  auto make_unhealthy = [](Harness& h) {
    for (int i = 0; i < 6; ++i) h.cluster->set_health("10.0.1." + std::to_string(i), 80, Health::kUnhealthy);
  };

  SECTION("panic_threshold 50 (Envoy's default): 40% healthy is panic, unhealthy endpoints get their share") {
    c.lb.panic_threshold = 50;
    Harness h(c);
    h.by_zone(kClient1a, 1);  // registers the client so panic transitions are reported
    make_unhealthy(h);
    auto prio = h.cluster->priorities(kClient1a);
    CHECK(prio[0].panic);
    auto spread = h.by_name(kClient1a, 10000);
    CHECK(spread.size() == 10);
    CHECK(h.cluster->stats().panic_picks == 10000);
    CHECK(h.recorder.count(EventKind::kPanicEntered) == 1);
    h.cluster->set_health("10.0.1.0", 80, Health::kHealthy);  // 50%: not below the threshold
    CHECK(h.recorder.count(EventKind::kPanicLeft) == 1);
    CHECK(h.by_name(kClient1a, 1000).size() == 5);
  }
  SECTION("panic_threshold = 0 disables panic: only the 4 healthy ones") {
    c.lb.panic_threshold = 0;
    Harness h(c);
    make_unhealthy(h);
    CHECK(h.by_name(kClient1a, 1000).size() == 4);
  }
  SECTION("Istio-shaped (outlier detection on, min_health_percent 0): no panic, only the healthy ones") {
    Harness h(c);
    make_unhealthy(h);
    CHECK_FALSE(h.cluster->priorities(kClient1a)[0].panic);
    CHECK(h.by_name(kClient1a, 1000).size() == 4);
  }
  SECTION("fail_traffic_on_panic refuses instead") {
    c.lb.panic_threshold = 50;
    c.lb.fail_traffic_on_panic = true;
    Harness h(c);
    make_unhealthy(h);
    auto spread = h.by_name(kClient1a, 100);
    CHECK(spread == std::map<std::string, int>{{"error:no healthy endpoint", 100}});
  }
  SECTION("a healthy lower priority absorbs the spill: no panic") {
    for (int i = 0; i < 10; ++i) c.endpoints.push_back(ep("10.0.2." + std::to_string(i), 80, "us-east-1/us-east-1b"));
    Harness h(c);
    make_unhealthy(h);
    auto prio = h.cluster->priorities(kClient1a);
    CHECK_FALSE(prio[0].panic);
    CHECK(prio[0].load_percent == 56);  // 40% * 1.4
  }
}

TEST_CASE("token bucket 100 per second: exactly 100 in a second, then a refill") {
  ClusterConfig c;
  c.endpoints = {ep("10.0.0.1", 80, "r/z")};
  c.rate_limit.enabled = true;
  c.rate_limit.bucket = {100, 100, 1s};
  Harness h(c);
  int admitted = 0, limited = 0;
  for (int i = 0; i < 200; ++i) {  // 200 requests spread over 0 .. 995 ms
    Pick p = h.cluster->pick(kClient1a);
    (p ? admitted : limited) += 1;
    if (!p) CHECK(p.error() == PickError::kRateLimited);
    h.clock.advance(5ms);
  }
  CHECK(admitted == 100);
  CHECK(limited == 100);
  CHECK(h.cluster->stats().rate_limited == 100);
  // t = 1000 ms: one fill of 100.
  admitted = 0;
  for (int i = 0; i < 150; ++i) admitted += h.cluster->pick(kClient1a) ? 1 : 0;
  CHECK(admitted == 100);
}

TEST_CASE("max_ejection_percent is honoured exactly") {
  ClusterConfig c;
  c.outlier.consecutive_5xx = 1;
  c.outlier.max_ejection_percent = 10;
  for (int i = 0; i < 3; ++i) c.endpoints.push_back(ep("10.0.0." + std::to_string(i), 80, "r/z"));

  SECTION("3 endpoints at 10%: floor(0.3) = 0 may be ejected") {
    Harness h(c);
    for (int i = 0; i < 3; ++i) report_to(*h.cluster, "10.0.0." + std::to_string(i) + ":80", Outcome::http(503));
    CHECK(h.cluster->stats().ejections_active == 0);
    CHECK(h.cluster->stats().ejections_overflow == 3);
  }
  SECTION("always_eject_one_host gives Envoy's behaviour: the first one goes anyway") {
    c.outlier.always_eject_one_host = true;
    Harness h(c);
    for (int i = 0; i < 3; ++i) report_to(*h.cluster, "10.0.0." + std::to_string(i) + ":80", Outcome::http(503));
    CHECK(h.cluster->stats().ejections_active == 1);
  }
  SECTION("10 endpoints at 10%: exactly one") {
    for (int i = 3; i < 10; ++i) c.endpoints.push_back(ep("10.0.0." + std::to_string(i), 80, "r/z"));
    Harness h(c);
    for (int i = 0; i < 10; ++i) report_to(*h.cluster, "10.0.0." + std::to_string(i) + ":80", Outcome::http(503));
    CHECK(h.cluster->stats().ejections_active == 1);
    CHECK(h.cluster->stats().ejections_overflow == 9);
  }
  SECTION("one endpoint at 10%: never ejected") {
    c.endpoints.resize(1);
    Harness h(c);
    report_to(*h.cluster, "10.0.0.0:80", Outcome::http(503));
    CHECK_FALSE(is_ejected(*h.cluster, "10.0.0.0:80"));
  }
  SECTION("one endpoint at 100%, Istio-shaped: ejected, and the pick fails as a sidecar's 503") {
    c.endpoints.resize(1);
    c.outlier.max_ejection_percent = 100;
    Harness h(c);
    report_to(*h.cluster, "10.0.0.0:80", Outcome::http(503));
    CHECK(is_ejected(*h.cluster, "10.0.0.0:80"));
    Pick p = h.cluster->pick(kClient1a);
    CHECK_FALSE(p);
    CHECK(p.error() == PickError::kNoHealthyEndpoint);
  }
  SECTION("one endpoint at 100%, panic_threshold 50: ejected, and panic still routes to it") {
    c.endpoints.resize(1);
    c.outlier.max_ejection_percent = 100;
    c.lb.panic_threshold = 50;
    Harness h(c);
    report_to(*h.cluster, "10.0.0.0:80", Outcome::http(503));
    Pick p = h.cluster->pick(kClient1a);
    REQUIRE(p);
    CHECK(p.panic());
  }
}
