// Micro-benchmark: nanoseconds per pick and per report, for 10 / 100 / 1,000 endpoints spread
// over three zones, with 1 and 2 threads, for each load-balancing policy. Not a test: it only
// prints figures. Run a release build: ninja -C build-route bench/route/route_bench.
#include <fmt/format.h>

#include <chrono>
#include <gslb/route.hpp>
#include <thread>
#include <vector>

namespace route = gslb::route;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kBatch = 256;
constexpr int kRounds = 4000;  // 1,024,000 picks per thread

struct Figures {
  double pick_ns = 0;
  double report_ns = 0;
};

std::unique_ptr<route::Cluster> make_cluster(int endpoints, route::LbPolicy policy) {
  route::ClusterConfig c;
  c.name = "bench";
  c.lb.policy = policy;
  const char* zones[] = {"us-east-1/us-east-1a", "us-east-1/us-east-1b", "us-west-2/us-west-2a"};
  for (int i = 0; i < endpoints; ++i) {
    route::EndpointSpec e;
    e.address = fmt::format("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
    e.port = 8080;
    e.locality = route::Locality::parse(zones[i % 3]);
    c.endpoints.push_back(std::move(e));
  }
  return std::move(route::Cluster::create(c).value());
}

// One thread's loop: pick a batch, then report the batch, timing the two halves apart.
Figures run(route::Cluster& cluster, bool hashed) {
  const route::Client client{route::Locality::parse("us-east-1/us-east-1a")};
  std::vector<route::Pick> picks(kBatch);
  Clock::duration pick_time{}, report_time{};
  uint64_t key = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto t0 = Clock::now();
    if (hashed) {
      for (auto& p : picks) p = cluster.pick(client, ++key);
    } else {
      for (auto& p : picks) p = cluster.pick(client);
    }
    auto t1 = Clock::now();
    for (auto& p : picks) cluster.report(p, route::Outcome::http(200));
    auto t2 = Clock::now();
    pick_time += t1 - t0;
    report_time += t2 - t1;
  }
  const double n = double(kBatch) * kRounds;
  return {std::chrono::duration<double, std::nano>(pick_time).count() / n,
          std::chrono::duration<double, std::nano>(report_time).count() / n};
}

}  // namespace

int main() {
  struct Policy {
    const char* name;
    route::LbPolicy policy;
    bool hashed;
  };
  const Policy policies[] = {{"round_robin", route::LbPolicy::kRoundRobin, false},
                             {"least_request", route::LbPolicy::kLeastRequest, false},
                             {"random", route::LbPolicy::kRandom, false},
                             {"ring_hash", route::LbPolicy::kRingHash, true},
                             {"maglev", route::LbPolicy::kMaglev, true}};
  fmt::print("{:<14} {:>9} {:>7} {:>12} {:>14}\n", "policy", "endpoints", "threads", "ns/pick", "ns/report");
  for (const auto& pol : policies) {
    for (int endpoints : {10, 100, 1000}) {
      for (int threads : {1, 2}) {
        auto cluster = make_cluster(endpoints, pol.policy);
        run(*cluster, pol.hashed);  // warm-up: builds the client's view, faults pages in
        std::vector<Figures> results(threads);
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { results[t] = run(*cluster, pol.hashed); });
        for (auto& w : workers) w.join();
        Figures avg;
        for (const auto& r : results) {
          avg.pick_ns += r.pick_ns / threads;
          avg.report_ns += r.report_ns / threads;
        }
        fmt::print("{:<14} {:>9} {:>7} {:>12.1f} {:>14.1f}\n", pol.name, endpoints, threads, avg.pick_ns, avg.report_ns);
      }
    }
  }
  return 0;
}
