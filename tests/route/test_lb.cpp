// Load balancing inside a priority, and the placement/priority arithmetic underneath it.
#include <catch2/catch.hpp>

#include <set>

#include "../../src/route/priority.hpp"
#include "helpers.hpp"

using namespace route_test;
using gslb::route::detail::priority_loads;

namespace {

const Client kClient{Locality::parse("r/z")};

ClusterConfig flat(LbPolicy policy, std::vector<uint32_t> weights) {
  ClusterConfig c;
  c.lb.policy = policy;
  for (size_t i = 0; i < weights.size(); ++i) c.endpoints.push_back(ep("10.0.0." + std::to_string(i), 80, "r/z", weights[i]));
  return c;
}

std::vector<uint32_t> loads(std::vector<uint32_t> healthy, std::vector<uint32_t> total, uint32_t panic_threshold = 50) {
  LbConfig lb;
  lb.panic_threshold = panic_threshold;
  std::vector<bool> panic;
  return priority_loads(healthy, total, lb, &panic);
}

}  // namespace

TEST_CASE("Envoy's priority load table (P1 fully healthy)") {
  // healthy% of P0 -> traffic to P0, from Envoy's priority-level documentation.
  CHECK(loads({100, 100}, {100, 100}) == std::vector<uint32_t>{100, 0});
  CHECK(loads({72, 100}, {100, 100}) == std::vector<uint32_t>{100, 0});
  CHECK(loads({71, 100}, {100, 100}) == std::vector<uint32_t>{99, 1});
  CHECK(loads({50, 100}, {100, 100}) == std::vector<uint32_t>{70, 30});
  CHECK(loads({25, 100}, {100, 100}) == std::vector<uint32_t>{35, 65});
  CHECK(loads({0, 100}, {100, 100}) == std::vector<uint32_t>{0, 100});
}

TEST_CASE("priority load normalises when the total health is below 100") {
  // P0 20% healthy (28), P1 20% healthy (28): total 56, each gets 28*100/56 = 50.
  std::vector<bool> panic;
  LbConfig lb;
  CHECK(priority_loads({2, 2}, {10, 10}, lb, &panic) == std::vector<uint32_t>{50, 50});
  CHECK(panic == std::vector<bool>{true, true});
  // Nothing healthy: all to P0, in panic.
  CHECK(priority_loads({0, 0}, {3, 3}, lb, &panic) == std::vector<uint32_t>{100, 0});
  CHECK(panic[0]);
}

TEST_CASE("locality tiers: subzone, zone, region, failover region, elsewhere") {
  ClusterConfig c;
  c.endpoints = {ep("1.0.0.1", 80, "r1/z1/s1"), ep("1.0.0.2", 80, "r1/z1/s2"), ep("1.0.0.3", 80, "r1/z2"),
                 ep("1.0.0.4", 80, "r3/z1"), ep("1.0.0.5", 80, "r2/z1")};
  c.locality.failover = {{"r1", "r2"}};
  Harness h(c);
  auto prio = h.cluster->priorities(Client{Locality::parse("r1/z1/s1")});
  REQUIRE(prio.size() == 5);
  CHECK(prio[0].endpoints == std::vector<std::string>{"1.0.0.1:80"});
  CHECK(prio[1].endpoints == std::vector<std::string>{"1.0.0.2:80"});
  CHECK(prio[2].endpoints == std::vector<std::string>{"1.0.0.3:80"});
  CHECK(prio[3].endpoints == std::vector<std::string>{"1.0.0.5:80"});
  CHECK(prio[4].endpoints == std::vector<std::string>{"1.0.0.4:80"});
  // Empty tiers are squeezed out: a client in r9 sees one priority holding everything.
  CHECK(h.cluster->priorities(Client{Locality::parse("r9/z9")}).size() == 1);
  c.locality.enabled = false;
  Harness flat_h(c);
  CHECK(flat_h.cluster->priorities(Client{Locality::parse("r1/z1/s1")}).size() == 1);
}

TEST_CASE("locality patterns") {
  auto l = Locality::parse("cn-hangzhou/cn-hangzhou-a/rack1");
  CHECK(l.region == "cn-hangzhou");
  CHECK(l.subzone == "rack1");
  CHECK(l.to_string() == "cn-hangzhou/cn-hangzhou-a/rack1");
  CHECK(locality_matches("*", l));
  CHECK(locality_matches("cn-hangzhou/*", l));
  CHECK(locality_matches("cn-hangzhou", l));
  CHECK(locality_matches("cn-hangzhou/cn-hangzhou-a/*", l));
  CHECK(locality_matches("cn-hangzhou/cn-hangzhou-a/rack1", l));
  CHECK_FALSE(locality_matches("cn-hangzhou/cn-hangzhou-b/*", l));
  CHECK_FALSE(locality_matches("cn-shanghai/*", l));
  CHECK_FALSE(locality_matches("cn-hangzhou/cn-hangzhou-a/rack2", l));
}

TEST_CASE("weighted round robin gives each endpoint exactly its weight per cycle") {
  Harness h(flat(LbPolicy::kRoundRobin, {5, 3, 1, 1}));
  auto spread = h.by_name(kClient, 1000);  // 100 cycles of 10
  CHECK(spread["10.0.0.0:80"] == 500);
  CHECK(spread["10.0.0.1:80"] == 300);
  CHECK(spread["10.0.0.2:80"] == 100);
  CHECK(spread["10.0.0.3:80"] == 100);
  // Interleaved, not in bursts: the heavy host never takes more than 3 turns in a row.
  int run = 0, longest = 0;
  for (int i = 0; i < 100; ++i) {
    Pick p = h.cluster->pick(kClient);
    run = p.endpoint().name() == "10.0.0.0:80" ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  CHECK(longest <= 3);
}

TEST_CASE("equal-weight round robin is strict rotation") {
  Harness h(flat(LbPolicy::kRoundRobin, {1, 1, 1}));
  std::vector<std::string> seq;
  for (int i = 0; i < 6; ++i) seq.push_back(h.cluster->pick(kClient).endpoint().name());
  CHECK(seq[0] == seq[3]);
  CHECK(seq[1] == seq[4]);
  CHECK(std::set<std::string>(seq.begin(), seq.begin() + 3).size() == 3);
}

TEST_CASE("random follows weights") {
  Harness h(flat(LbPolicy::kRandom, {3, 1}));
  auto spread = h.by_name(kClient, 40000);
  CHECK(spread["10.0.0.0:80"] == Approx(30000).margin(600));
}

TEST_CASE("least request prefers the endpoint with fewer requests in flight") {
  Harness h(flat(LbPolicy::kLeastRequest, {1, 1}));
  std::vector<Pick> held;
  // Keep 10 requests open on whichever endpoint comes first; the next picks avoid it whenever
  // both candidates are drawn (P2C with 2 hosts always compares both).
  for (int i = 0; i < 10; ++i) {
    Pick p = h.cluster->pick(kClient);
    if (p.endpoint().name() == "10.0.0.0:80") held.push_back(std::move(p));
  }
  REQUIRE(!held.empty());
  auto spread = h.by_name(kClient, 100);
  CHECK(spread["10.0.0.1:80"] == 100);
}

TEST_CASE("ring hash and Maglev: same key same endpoint, few keys move when one leaves") {
  for (LbPolicy policy : {LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    ClusterConfig c = flat(policy, std::vector<uint32_t>(10, 1));
    Harness h(c);
    std::map<uint64_t, std::string> before;
    for (uint64_t k = 0; k < 2000; ++k) {
      Pick p = h.cluster->pick(kClient, k);
      before[k] = p.endpoint().name();
      CHECK(h.cluster->pick(kClient, k).endpoint().name() == before[k]);
    }
    std::map<std::string, int> per_host;
    for (auto& [k, n] : before) ++per_host[n];
    CHECK(per_host.size() == 10);
    for (auto& [n, count] : per_host) CHECK(count == Approx(200).margin(policy == LbPolicy::kMaglev ? 60 : 110));

    h.cluster->set_health("10.0.0.3", 80, Health::kUnhealthy);
    int moved = 0;
    for (auto& [k, n] : before) {
      std::string now = h.cluster->pick(kClient, k).endpoint().name();
      if (n == "10.0.0.3:80") CHECK(now != n);
      else moved += now != n ? 1 : 0;
    }
    // Beyond the lost host's ~200 keys, both move a few more: the ring gets more replicas per
    // host (ceil(1024/9) = 114 instead of 103), Maglev refills its table. Bounded by 10%.
    CHECK(moved <= 200);
  }
}

TEST_CASE("Maglev honours weights") {
  Harness h(flat(LbPolicy::kMaglev, {2, 1}));
  std::map<std::string, int> spread;
  for (uint64_t k = 0; k < 30000; ++k) ++spread[h.cluster->pick(kClient, k * 7919).endpoint().name()];
  CHECK(spread["10.0.0.0:80"] == Approx(20000).margin(700));
}

TEST_CASE("a retry pick avoids endpoints already tried") {
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kRandom, LbPolicy::kLeastRequest, LbPolicy::kRingHash}) {
    Harness h(flat(policy, {1, 1, 1}));
    std::vector<EndpointPtr> tried;
    PickOptions o;
    o.exclude = &tried;
    o.hash_key = 12345;
    for (int i = 0; i < 3; ++i) {
      Pick p = h.cluster->pick(kClient, o);
      REQUIRE(p);
      for (const auto& t : tried) CHECK(t != p.endpoint_ptr());
      tried.push_back(p.endpoint_ptr());
    }
    // Everything tried: the pick still succeeds rather than failing the request.
    CHECK(h.cluster->pick(kClient, o));
  }
}

TEST_CASE("a retry falls back to another priority when its own has nothing untried") {
  ClusterConfig c;
  c.endpoints = {ep("10.0.1.1", 80, "r/z1"), ep("10.0.2.1", 80, "r/z2")};
  Harness h(c);
  const Client client{Locality::parse("r/z1")};
  Pick first = h.cluster->pick(client);
  REQUIRE(first.endpoint().name() == "10.0.1.1:80");
  std::vector<EndpointPtr> tried{first.endpoint_ptr()};
  PickOptions o;
  o.exclude = &tried;
  Pick second = h.cluster->pick(client, o);
  CHECK(second.endpoint().name() == "10.0.2.1:80");
  CHECK(second.priority() == 1);
}
