// Load balancing inside a priority, and the placement/priority arithmetic underneath it.
#include <catch2/catch.hpp>

#include <set>

#include "../../src/route/priority.hpp"
#include "helpers.hpp"

using namespace route_test;
using gslb::route::detail::LevelCounts;
using gslb::route::detail::LoadTable;
using gslb::route::detail::priority_loads;

namespace {

const Client kClient{Locality::parse("r/z")};

ClusterConfig flat(LbPolicy policy, std::vector<uint32_t> weights) {
  ClusterConfig c;
  c.lb.policy = policy;
  for (size_t i = 0; i < weights.size(); ++i) c.endpoints.push_back(ep("10.0.0." + std::to_string(i), 80, "r/z", weights[i]));
  return c;
}

LoadTable table(std::vector<uint32_t> healthy, std::vector<uint32_t> total, uint32_t panic_threshold = 50,
                std::vector<uint32_t> degraded = {}) {
  std::vector<LevelCounts> levels;
  for (size_t i = 0; i < total.size(); ++i) levels.push_back({healthy[i], degraded.empty() ? 0 : degraded[i], total[i]});
  return priority_loads(levels, 140, panic_threshold);
}

std::vector<uint32_t> loads(std::vector<uint32_t> healthy, std::vector<uint32_t> total, uint32_t panic_threshold = 50) {
  return table(std::move(healthy), std::move(total), panic_threshold).healthy;
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
  // P0 60% healthy (84), P1 10% healthy (14): total 98, P0 gets 84*100/98 = 85 plus the 1
  // left by rounding, P1 14 -- and P1 alone is in panic.
  LoadTable t = table({6, 1}, {10, 10});
  CHECK(t.healthy == std::vector<uint32_t>{86, 14});
  CHECK(t.panic == std::vector<bool>{false, true});
}

// Envoy load_balancer_impl.cc recalculatePerPriorityPanic / recalculateLoadInTotalPanic, and its
// unit tests (load_balancer_impl_test.cc, "PriorityAndPanic"-style cases): when every priority is
// in panic, the load follows host counts, not health.
TEST_CASE("every priority in panic: load split by host count (Envoy recalculateLoadInTotalPanic)") {
  // 2 of 10 and 2 of 10 healthy would be 50/50 by health; by host count it is 50/50 too, so use
  // unequal sizes: 1 of 4 (health 35) and 1 of 6 (health 23): by health 60/40, by hosts 40/60.
  LoadTable t = table({1, 1}, {4, 6});
  CHECK(t.panic == std::vector<bool>{true, true});
  CHECK(t.healthy == std::vector<uint32_t>{40, 60});
  // Rounding goes to the first non-empty priority: 3 priorities of 1 host -> 34/33/33.
  CHECK(table({0, 0, 0}, {1, 1, 1}).healthy == std::vector<uint32_t>{34, 33, 33});
  // One priority out of panic is enough to keep the health-based split.
  LoadTable mixed = table({1, 3}, {10, 6});  // 10% and 50% healthy: health 14 and 70, total 84
  CHECK(mixed.panic == std::vector<bool>{true, false});
  CHECK(mixed.healthy == std::vector<uint32_t>{17, 83});  // 14*100/84 = 16 (+1 rounding), 70*100/84
}

// The vectors of Envoy's test/common/upstream/load_balancer_impl_test.cc,
// LoadBalancerBaseTest.GentleFailoverWithExtraLevels (hosts, healthy, degraded per priority;
// expected healthy and degraded loads and panic), replayed against priority_loads.
TEST_CASE("Envoy's GentleFailoverWithExtraLevels vectors (load_balancer_impl_test.cc)") {
  struct Case {
    std::vector<LevelCounts> levels;  // {healthy, degraded, total}
    uint32_t threshold;
    std::vector<uint32_t> healthy, degraded;
    std::vector<bool> panic;
  };
  const std::vector<Case> cases = {
      {{{1, 0, 1}, {1, 0, 1}, {1, 0, 1}}, 50, {100, 0, 0}, {0, 0, 0}, {false, false, false}},
      {{{1, 0, 2}, {1, 0, 2}, {1, 0, 2}}, 50, {70, 30, 0}, {0, 0, 0}, {false, false, false}},
      {{{1, 0, 4}, {2, 0, 2}, {1, 0, 2}}, 50, {35, 65, 0}, {0, 0, 0}, {false, false, false}},
      {{{1, 0, 4}, {1, 0, 4}, {1, 0, 4}}, 50, {35, 35, 30}, {0, 0, 0}, {false, false, false}},
      {{{1, 0, 5}, {1, 0, 5}, {1, 0, 5}}, 50, {34, 33, 33}, {0, 0, 0}, {true, true, true}},
      {{{0, 0, 5}, {0, 0, 5}, {5, 0, 5}}, 50, {0, 0, 100}, {0, 0, 0}, {false, false, false}},
      {{{0, 0, 5}, {0, 0, 5}, {4, 0, 5}}, 50, {0, 0, 100}, {0, 0, 0}, {false, false, false}},
      {{{0, 0, 5}, {0, 0, 5}, {2, 0, 5}}, 50, {34, 33, 33}, {0, 0, 0}, {true, true, true}},
      {{{0, 5, 5}, {2, 2, 5}, {2, 0, 5}}, 50, {0, 56, 44}, {0, 0, 0}, {false, false, false}},
      {{{0, 0, 5}, {0, 0, 3}, {0, 0, 2}}, 50, {50, 30, 20}, {0, 0, 0}, {true, true, true}},
      {{{0, 0, 5}, {2, 0, 6}, {1, 0, 3}}, 50, {37, 42, 21}, {0, 0, 0}, {true, true, true}},
      {{{0, 1, 5}, {0, 5, 5}, {1, 0, 5}}, 50, {0, 0, 28}, {28, 44, 0}, {false, false, false}},
      {{{0, 0, 5}, {0, 2, 5}, {0, 1, 5}}, 0, {0, 0, 0}, {0, 67, 33}, {false, false, false}},
      {{{0, 0, 5}, {0, 2, 5}, {0, 1, 5}}, 50, {34, 33, 33}, {0, 0, 0}, {true, true, true}},
      {{{0, 0, 3}, {0, 0, 3}, {0, 0, 3}}, 50, {34, 33, 33}, {0, 0, 0}, {true, true, true}},
      {{{0, 0, 0}, {0, 0, 6}, {0, 0, 3}}, 50, {0, 67, 33}, {0, 0, 0}, {true, true, true}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    LoadTable t = priority_loads(cases[i].levels, 140, cases[i].threshold);
    CHECK(t.healthy == cases[i].healthy);
    CHECK(t.degraded == cases[i].degraded);
    CHECK(t.panic == cases[i].panic);
  }
}

TEST_CASE("nothing healthy anywhere: host-count split in panic, or P0 and no host when panic is off") {
  // Envoy: with nothing available every priority is in panic (0% < threshold), so
  // recalculateLoadInTotalPanic splits by host count; it does not send everything to P0.
  LoadTable t = table({0, 0}, {3, 1});
  CHECK(t.healthy == std::vector<uint32_t>{75, 25});
  CHECK(t.panic == std::vector<bool>{true, true});
  // panic_threshold 0: Envoy gives P0 100 only so that the loads add up; nothing is selectable.
  LoadTable off = table({0, 0}, {3, 1}, 0);
  CHECK(off.healthy == std::vector<uint32_t>{100, 0});
  CHECK(off.panic == std::vector<bool>{false, false});

  ClusterConfig c;
  c.lb.panic_threshold = 50;
  c.endpoints = {ep("10.0.1.1", 80, "r/z1"), ep("10.0.2.1", 80, "r/z2"), ep("10.0.2.2", 80, "r/z2"),
                 ep("10.0.2.3", 80, "r/z2")};
  for (auto& e : c.endpoints) e.health = Health::kUnhealthy;
  Harness h(c);
  auto spread = h.by_zone(Client{Locality::parse("r/z1")}, 20000);
  CHECK(spread["z1"] == Approx(5000).margin(400));
  CHECK(spread["z2"] == Approx(15000).margin(400));
  CHECK(h.cluster->stats().panic_picks == 20000);
}

TEST_CASE("degraded endpoints take traffic only after the healthy ones of every priority") {
  // Envoy's own worked example (load_balancer_impl.cc, recalculatePerPriorityState): health
  // 10/20/10 and degraded 20/10/0 give healthy loads 16/28/14 and degraded 28/14/0 -- with
  // OF 1.4 that is healthy 1/2/1 of 14 hosts... use the percents directly: 1.4 * h / t.
  std::vector<LevelCounts> levels = {{1, 2, 14}, {2, 1, 14}, {1, 0, 14}};  // health 10/20/10, degraded 20/10/0
  LoadTable t = priority_loads(levels, 140, 0);  // panic off: at 50 all three would be in panic
  CHECK(t.healthy == std::vector<uint32_t>{16, 28, 14});
  CHECK(t.degraded == std::vector<uint32_t>{28, 14, 0});

  // P0: 2 healthy + 8 degraded of 10; P1: 10 healthy. P0 health 28, degraded 100: the healthy
  // load spills to P1 before P0's degraded endpoints see anything.
  ClusterConfig c;
  c.lb.panic_threshold = 50;
  for (int i = 0; i < 10; ++i) {
    c.endpoints.push_back(ep("10.0.1." + std::to_string(i), 80, "r/z1"));
    if (i >= 2) c.endpoints.back().health = Health::kDegraded;
    c.endpoints.push_back(ep("10.0.2." + std::to_string(i), 80, "r/z2"));
  }
  Harness h(c);
  const Client client{Locality::parse("r/z1")};
  auto prio = h.cluster->priorities(client);
  REQUIRE(prio.size() == 2);
  CHECK(prio[0].load_percent == 28);
  CHECK(prio[0].degraded_load_percent == 0);
  CHECK(prio[0].degraded == 8);
  CHECK(prio[1].load_percent == 72);
  auto spread = h.spread(client, 10000, [](const Endpoint& e) {
    return e.health() == Health::kDegraded ? std::string("degraded") : e.locality().zone;
  });
  CHECK(spread.count("degraded") == 0);
  CHECK(spread["z1"] == Approx(2800).margin(300));
  // P1 loses everything: P0's degraded endpoints now carry what P0's healthy ones cannot.
  for (int i = 0; i < 10; ++i) h.cluster->set_health("10.0.2." + std::to_string(i), 80, Health::kUnhealthy);
  prio = h.cluster->priorities(client);
  CHECK(prio[0].load_percent == 28);
  CHECK(prio[0].degraded_load_percent == 72);
  CHECK_FALSE(prio[0].panic);  // 2 healthy + 8 degraded: 100% available
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

// Envoy load_balancer_impl.cc, EdfLoadBalancerBase::applySlowStartFactor:
// weight * max(min_weight_percent, (t / window)^(1 / aggression)), t in whole ms (at least 1).
TEST_CASE("slow start factor (Envoy applySlowStartFactor)") {
  using gslb::route::detail::slow_start_factor;
  SlowStartConfig ss;
  ss.slow_start_window = 60s;
  CHECK(slow_start_factor(ss, TimePoint{0}, TimePoint{15s}) == Approx(0.25));
  CHECK(slow_start_factor(ss, TimePoint{0}, TimePoint{1s}) == Approx(0.1));  // min_weight_percent 10
  CHECK(slow_start_factor(ss, TimePoint{0}, TimePoint{60s}) == 1.0);
  ss.aggression = 2;
  CHECK(slow_start_factor(ss, TimePoint{0}, TimePoint{15s}) == Approx(0.5));
  ss.min_weight_percent = 0;
  ss.aggression = 1;
  CHECK(slow_start_factor(ss, TimePoint{0}, TimePoint{0}) == Approx(1.0 / 60000));  // t counts as 1 ms
}

TEST_CASE("slow start: a new endpoint ramps up over the window, then takes its full share") {
  ClusterConfig c;
  c.outlier.enabled = false;
  c.lb.slow_start.slow_start_window = 100s;
  c.endpoints = {ep("10.0.0.1", 80, "r/z")};
  Harness h(c);
  // Endpoints present at creation do not warm up (Envoy: only hosts added later, or turned healthy).
  CHECK(h.by_name(kClient, 100) == std::map<std::string, int>{{"10.0.0.1:80", 100}});
  auto specs = c.endpoints;
  specs.push_back(ep("10.0.0.2", 80, "r/z"));
  REQUIRE(h.cluster->update(specs).empty());
  h.clock.advance(25s);  // factor 0.25: 1 : 0.25 -> 20% of the picks
  auto early = h.by_name(kClient, 10000);
  CHECK(early["10.0.0.2:80"] == Approx(2000).margin(150));
  h.clock.advance(50s);  // 75 s: 0.75 -> 3/7 = 43%
  auto later = h.by_name(kClient, 10000);
  CHECK(later["10.0.0.2:80"] == Approx(4286).margin(250));
  h.clock.advance(25s);  // window over: equal weights, strict alternation
  auto done = h.by_name(kClient, 1000);
  CHECK(done["10.0.0.2:80"] == 500);

  SECTION("turning healthy again through set_health starts a new warm-up") {
    h.cluster->set_health("10.0.0.2", 80, Health::kUnhealthy);
    h.cluster->set_health("10.0.0.2", 80, Health::kHealthy);
    h.clock.advance(10s);  // 0.1
    auto again = h.by_name(kClient, 11000);
    CHECK(again["10.0.0.2:80"] == Approx(1000).margin(120));
  }
}
