// TOML configuration: every key read, every error collected with its position.
#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace route_test;

namespace {

// Every error parse_config reports for `text`, as "file:line:col: path: reason".
std::vector<std::string> error_lines(const char* text, const std::string& name) {
  auto r = parse_config(text, name);
  std::vector<std::string> out;
  if (r.ok()) return out;
  for (const auto& e : r.errors()) out.push_back(e.to_string());
  return out;
}

}  // namespace

TEST_CASE("a full configuration loads") {
  const char* text = R"(
[clusters.reviews.load_balancer]
policy = "least_request"
overprovisioning_factor = 1.4
panic_threshold = 40
fail_traffic_on_panic = true
[clusters.reviews.load_balancer.slow_start_config]
slow_start_window = "30s"
aggression = 2.0
min_weight_percent = 5

[clusters.reviews.locality]
failover = [{ from = "cn-hangzhou", to = "cn-shanghai" }]
failover_priority = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone"]

[clusters.reviews.outlier_detection]
consecutive_5xx = 1
consecutive_gateway_errors = 3
split_external_local_origin_errors = true
consecutive_local_origin_failures = 2
interval = "5s"
base_ejection_time = "5m"
max_ejection_percent = 100
min_health_percent = 20
min_healthy_to_eject_percent = 30
max_ejection_time_jitter = "2s"
enforcing_local_origin_success_rate = 0
enforcing_failure_percentage_local_origin = 100

[clusters.reviews.circuit_breaker]
max_requests = 100
max_retries = 3
[clusters.reviews.circuit_breaker.high]
max_requests = 500
max_connections = 50

[clusters.reviews.retry]
attempts = 3
retry_on = ["5xx", "reset"]
retriable_status_codes = [429]
base_interval = "50ms"
max_interval = "500ms"
budget_percent = 20.0

[clusters.reviews.rate_limit]
max_tokens = 100
tokens_per_fill = 100
fill_interval = "1s"
always_consume_default_token_bucket = false
[clusters.reviews.rate_limit.keys."/admin"]
max_tokens = 1
[[clusters.reviews.rate_limit.descriptors]]
entries = [{ key = "path", value = "/api" }, { key = "user", value = "bob" }]
max_tokens = 7

[[clusters.reviews.endpoints]]
address = "10.0.0.1"
port = 9080
weight = 3
locality = "cn-hangzhou/cn-hangzhou-a"
labels = { version = "v2" }

[[clusters.reviews.endpoints]]
address = "10.0.0.2"
port = 9080
health = "unhealthy"

[[clusters.reviews.endpoints]]
address = "10.0.0.3"
port = 9080
health = "degraded"

[clusters.ratings.locality]
distribute = [{ from = "cn-hangzhou/*", to = { "cn-hangzhou/*" = 80, "cn-shanghai/*" = 20 } }]
)";
  auto r = parse_config(text, "route.toml");
  INFO(r.error_text());
  REQUIRE(r.ok());
  REQUIRE(r->clusters.size() == 2);
  const ClusterConfig& c = *r->find("reviews");
  CHECK(c.lb.policy == LbPolicy::kLeastRequest);
  CHECK(c.lb.panic_threshold == 40);
  CHECK(c.lb.fail_traffic_on_panic);
  CHECK(c.lb.slow_start.slow_start_window == 30s);
  CHECK(c.lb.slow_start.aggression == 2.0);
  CHECK(c.lb.slow_start.min_weight_percent == 5.0);
  CHECK(c.locality.failover.at(0).to == "cn-shanghai");
  CHECK(c.locality.failover_priority.size() == 2);
  CHECK(c.outlier.base_ejection_time == 5min);
  CHECK(c.outlier.interval == 5s);
  CHECK(c.outlier.split_external_local_origin_errors);
  CHECK(c.outlier.min_health_percent == 20);
  CHECK(c.outlier.min_healthy_to_eject_percent == 30);
  CHECK(c.outlier.max_ejection_time_jitter == 2s);
  CHECK(c.outlier.enforcing_local_origin_success_rate == 0);
  CHECK(c.outlier.enforcing_failure_percentage_local_origin == 100);
  CHECK(c.circuit_breaker.max_retries == 3);
  CHECK(c.circuit_breaker.high.max_requests == 500);
  CHECK(c.circuit_breaker.high.max_connections == 50);
  CHECK(c.circuit_breaker.high.max_retries == 0);
  CHECK(c.retry.retry_on.server_error);
  CHECK_FALSE(c.retry.retry_on.gateway_error);  // retry_on replaces the default list
  CHECK(c.retry.retry_on.status_codes == std::vector<int>{429});
  CHECK(c.retry.budget_percent == 20.0);
  CHECK(c.rate_limit.enabled);
  REQUIRE(c.rate_limit.keys.size() == 1);
  CHECK(c.rate_limit.keys[0].second.max_tokens == 1);
  CHECK(c.rate_limit.keys[0].second.tokens_per_fill == 100);  // inherited from the default bucket
  CHECK_FALSE(c.rate_limit.always_consume_default_token_bucket);
  REQUIRE(c.rate_limit.descriptors.size() == 1);
  CHECK(c.rate_limit.descriptors[0].entries.size() == 2);
  CHECK(c.rate_limit.descriptors[0].entries[1].second == "bob");
  CHECK(c.rate_limit.descriptors[0].bucket.max_tokens == 7);
  CHECK(c.rate_limit.descriptors[0].bucket.fill_interval == 1s);
  REQUIRE(c.endpoints.size() == 3);
  CHECK(c.endpoints[2].health == Health::kDegraded);
  CHECK(c.endpoints[0].weight == 3);
  CHECK(c.endpoints[0].locality.zone == "cn-hangzhou-a");
  CHECK(c.endpoints[0].labels.at("version") == "v2");
  CHECK(c.endpoints[1].health == Health::kUnhealthy);
  const ClusterConfig& ratings = *r->find("ratings");
  CHECK_FALSE(ratings.lb.panic_threshold.has_value());  // unwritten: Istio's rule applies
  CHECK(effective_panic_threshold(ratings) == 0);
  REQUIRE(ratings.locality.distribute.size() == 1);
  CHECK(ratings.locality.distribute[0].to.size() == 2);
  CHECK(Cluster::create(c).ok());
}

TEST_CASE("every error is reported, in file order, as file:line:col: key.path: reason") {
  const char* text = R"([clusters.a.load_balancer]
polcy = "random"
panic_threshold = 120
[clusters.a.outlier_detection]
interval = "soon"
max_ejection_percent = -1
[clusters.a.rate_limit]
fill_interval = "10ms"
[clusters.a.locality]
distribute = [{ from = "r1/*", to = { "r1/*" = 70, "r2/*" = 20 } }]
failover = [{ from = "r1", to = "r2" }]
[[clusters.a.endpoints]]
address = "10.0.0.1"
port = 80
weight = 0
[[clusters.a.endpoints]]
address = "10.0.0.1"
port = 80
colour = "blue"
)";
  std::vector<std::string> got = error_lines(text, "bad.toml");
  std::vector<std::string> want = {
      "bad.toml:2:1: clusters.a.load_balancer.polcy: unknown key",
      "bad.toml:3:19: clusters.a.load_balancer.panic_threshold: must be 0..100",
      "bad.toml:5:12: clusters.a.outlier_detection.interval: must be a duration such as \"250ms\", \"10s\", \"5m\" (at most 1 day)",
      "bad.toml:6:24: clusters.a.outlier_detection.max_ejection_percent: must be an integer 0..4294967295",
      "bad.toml:8:17: clusters.a.rate_limit.fill_interval: must be >= 50ms",
      "bad.toml:10:14: clusters.a.locality.distribute: cannot be combined with locality.failover (as in Istio)",
      "bad.toml:10:37: clusters.a.locality.distribute[0].to: weights must add up to 100, not 90",
      "bad.toml:15:10: clusters.a.endpoints[0].weight: must be 1..1000",
      "bad.toml:16:1: clusters.a.endpoints[1]: duplicate endpoint 10.0.0.1:80",
      "bad.toml:19:1: clusters.a.endpoints[1].colour: unknown key",
  };
  CHECK(got == want);
}

TEST_CASE("errors in the issue-15 keys carry file:line:col too") {
  const char* text = R"([clusters.a.outlier_detection]
max_ejection_time_jitter = "often"
min_healthy_to_eject_percent = 101
[clusters.a.load_balancer]
policy = "maglev"
[clusters.a.load_balancer.slow_start_config]
slow_start_window = "10s"
aggression = 0
[clusters.a.circuit_breaker.high]
max_requests_per_connection = 3
[clusters.a.rate_limit]
[[clusters.a.rate_limit.descriptors]]
entries = [{ key = "user", value = "" }]
[[clusters.a.endpoints]]
address = "10.0.0.1"
port = 80
health = "sick"
)";
  std::vector<std::string> got = error_lines(text, "new.toml");
  std::vector<std::string> want = {
      "new.toml:2:28: clusters.a.outlier_detection.max_ejection_time_jitter: must be a duration such as \"250ms\", \"10s\", \"5m\" (at most 1 day)",
      "new.toml:3:32: clusters.a.outlier_detection.min_healthy_to_eject_percent: must be 0..100",
      "new.toml:6:1: clusters.a.load_balancer.slow_start_config: applies to round_robin and least_request only (as in Envoy)",
      "new.toml:8:14: clusters.a.load_balancer.slow_start_config.aggression: must be > 0 and <= 100",
      "new.toml:10:1: clusters.a.circuit_breaker.high.max_requests_per_connection: unknown key",
      "new.toml:13:36: clusters.a.rate_limit.descriptors[0].entries[0].value: must not be empty (wildcard descriptors are not supported)",
      "new.toml:17:10: clusters.a.endpoints[0].health: must be \"healthy\", \"degraded\" or \"unhealthy\"",
  };
  CHECK(got == want);
}

TEST_CASE("TOML syntax errors carry the parser's position") {
  auto r = parse_config("[clusters.a]\nx = = 1\n", "syntax.toml");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 1);
  CHECK(r.errors()[0].line == 2);
  CHECK(r.errors()[0].to_string().rfind("syntax.toml:2:", 0) == 0);
}

TEST_CASE("unknown top-level keys and wrong types") {
  auto r = parse_config("cluster = 1\n[clusters.a.circuit_breaker]\nmax_requests = \"many\"\n", "t.toml");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 2);
  CHECK(r.errors()[0].to_string() == "t.toml:1:1: cluster: unknown key");
  CHECK(r.errors()[1].to_string() == "t.toml:3:16: clusters.a.circuit_breaker.max_requests: must be an integer 0..4294967295");
}

TEST_CASE("load_config reports a missing file") {
  auto r = load_config("/nonexistent/route.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.errors()[0].to_string() == "/nonexistent/route.toml: cannot open file");
}

TEST_CASE("programmatic configuration is validated too") {
  ClusterConfig c;
  c.name = std::string(16, 'p');  // built, not assigned from a literal: GCC 12 -Wrestrict false positive under ASan
  c.lb.maglev_table_size = 65536;  // not prime
  c.endpoints = {ep("", 0, "r/z")};
  auto made = Cluster::create(c);
  REQUIRE_FALSE(made.ok());
  CHECK(made.error_text() ==
        "load_balancer.maglev_table_size: must be a prime <= 5000011 (e.g. 65537)\n"
        "endpoints[0].address: must not be empty\n"
        "endpoints[0].port: must be 1..65535\n");
}
