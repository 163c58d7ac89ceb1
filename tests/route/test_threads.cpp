// Many threads picking and reporting while another changes health: counters must balance and
// the sanitizer builds must stay quiet.
#include <catch2/catch.hpp>

#include <thread>

#include "helpers.hpp"

using namespace route_test;

TEST_CASE("concurrent pick/report/set_health/tick keep the books straight") {
  ClusterConfig c;
  c.name = "threads";
  for (int i = 0; i < 20; ++i) c.endpoints.push_back(ep("10.0.0." + std::to_string(i), 80, i < 10 ? "r/z1" : "r/z2"));
  c.lb.policy = LbPolicy::kLeastRequest;
  c.outlier.consecutive_5xx = 3;
  c.outlier.max_ejection_percent = 50;
  c.circuit_breaker.max_requests = 1000;
  SteadyClock clock;
  SplitMixRandom random(3);
  Recorder recorder;
  ClusterOptions o;
  o.clock = &clock;
  o.random = &random;
  o.listener = &recorder;
  auto made = Cluster::create(c, o);
  INFO(made.error_text());
  REQUIRE(made.ok());
  auto cluster = std::move(made.value());

  constexpr int kThreads = 4;
  constexpr int kPicks = 20000;
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Client client{Locality::parse(t % 2 ? "r/z1" : "r/z2")};
      for (int i = 0; i < kPicks; ++i) {
        Pick p = cluster->pick(client);
        if (!p) {
          ++failed;
          continue;
        }
        ++ok;
        // Endpoint 10.0.0.7 always fails: it gets ejected again and again.
        cluster->report(p, Outcome::http(p.endpoint().address() == "10.0.0.7" ? 503 : 200));
      }
    });
  }
  std::thread flipper([&] {
    for (int i = 0; !stop; ++i) {
      cluster->set_health("10.0.0." + std::to_string(i % 20), 80, i % 3 ? Health::kHealthy : Health::kUnhealthy);
      cluster->tick();
      std::this_thread::yield();
    }
  });
  for (auto& w : workers) w.join();
  stop = true;
  flipper.join();

  CHECK(ok + failed == kThreads * kPicks);
  CHECK(cluster->stats().picks == static_cast<uint64_t>(ok.load()));
  CHECK(cluster->circuit_breaker().active(Resource::kRequest) == 0);
  for (const auto& e : cluster->endpoints()) CHECK(e->active_requests() == 0);
  CHECK(recorder.count(EventKind::kEjected) >= 1);
}
