// Shared fixtures for the gslb::route tests: a manual clock, a seeded Random, an event recorder.
#pragma once

#include <gslb/route.hpp>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace route_test {

using namespace gslb::route;
using namespace std::chrono_literals;

inline EndpointSpec ep(std::string address, uint16_t port, std::string_view locality, uint32_t weight = 1,
                       Labels labels = {}) {
  EndpointSpec e;
  e.address = std::move(address);
  e.port = port;
  e.locality = Locality::parse(locality);
  e.weight = weight;
  e.labels = std::move(labels);
  return e;
}

class Recorder final : public Listener {
 public:
  void on_event(const Event& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  size_t count(EventKind k) const {
    size_t n = 0;
    for (const auto& e : events()) n += e.kind == k ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

struct Harness {
  ManualClock clock;
  SplitMixRandom random{42};
  Recorder recorder;
  std::unique_ptr<Cluster> cluster;

  explicit Harness(ClusterConfig config) {
    if (config.name.empty()) config.name = "test";
    ClusterOptions o;
    o.clock = &clock;
    o.random = &random;
    o.listener = &recorder;
    auto made = Cluster::create(std::move(config), o);
    if (!made) throw std::runtime_error(made.error_text());
    cluster = std::move(made.value());
  }

  // Picks n times, answers each with `status`, and counts where the picks went by key(endpoint).
  template <class Key>
  std::map<std::string, int> spread(const Client& client, int n, Key key, int status = 200) {
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
      Pick p = cluster->pick(client);
      if (!p) {
        ++out[std::string("error:") + to_string(p.error())];
        continue;
      }
      ++out[key(p.endpoint())];
      cluster->report(p, Outcome::http(status));
    }
    return out;
  }
  std::map<std::string, int> by_zone(const Client& client, int n) {
    return spread(client, n, [](const Endpoint& e) { return e.locality().zone; });
  }
  std::map<std::string, int> by_region(const Client& client, int n) {
    return spread(client, n, [](const Endpoint& e) { return e.locality().region; });
  }
  std::map<std::string, int> by_name(const Client& client, int n) {
    return spread(client, n, [](const Endpoint& e) { return e.name(); });
  }
  // Sends one request to `address` (picking until it comes up) and answers it with `status`.
  void fail_once(const Client& client, const std::string& name, int status = 503) {
    for (int i = 0; i < 10000; ++i) {
      Pick p = cluster->pick(client);
      if (p && p.endpoint().name() == name) {
        cluster->report(p, Outcome::http(status));
        return;
      }
    }
    throw std::runtime_error("never picked " + name);
  }
};

}  // namespace route_test

namespace route_test {

// Reports an outcome for the endpoint called `name` without picking it (it may sit at a
// priority that currently gets no traffic).
inline void report_to(Cluster& cluster, const std::string& name, const Outcome& outcome) {
  for (const auto& e : cluster.endpoints()) {
    if (e->name() == name) return cluster.report(*e, outcome);
  }
  throw std::runtime_error("no endpoint " + name);
}

inline bool is_ejected(Cluster& cluster, const std::string& name) {
  for (const auto& e : cluster.endpoints()) {
    if (e->name() == name) return e->ejected();
  }
  throw std::runtime_error("no endpoint " + name);
}

}  // namespace route_test
