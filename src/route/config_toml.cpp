// TOML -> ClusterConfig. Type errors and unknown keys are found here, with the node's position;
// range and cross-field rules live in validate() and get their position from the path.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <toml++/toml.h>

#include "gslb/route/config.hpp"

#include <gslb/duration.hpp>

namespace gslb::route {

namespace {

struct Position {
  int line = 0;
  int col = 0;
};

struct Context {
  std::string file;
  Errors errors;
  std::map<std::string, Position> positions;  // key path -> where it was written

  void fail(const toml::source_region& where, std::string path, std::string message) {
    errors.push_back(Error{file, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column),
                           std::move(path), std::move(message)});
  }
  // Where a path (or its nearest written parent) is; validate() only knows paths.
  Position locate(std::string path) const {
    for (;;) {
      if (auto it = positions.find(path); it != positions.end()) return it->second;
      size_t cut = path.find_last_of(".[");
      if (cut == std::string::npos) return {};
      path.resize(cut);
    }
  }
};

// Reads one TOML table into struct fields, remembering which keys it consumed.
class Reader {
 public:
  Reader(const toml::table& table, std::string path, Context& ctx) : t_(table), path_(std::move(path)), ctx_(ctx) {
    ctx_.positions[path_] = {static_cast<int>(t_.source().begin.line), static_cast<int>(t_.source().begin.column)};
  }

  std::string at(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

  const toml::node* node(std::string_view key) {
    known_.emplace(key);
    const toml::node* n = t_.get(key);
    if (n != nullptr) ctx_.positions[at(key)] = {static_cast<int>(n->source().begin.line), static_cast<int>(n->source().begin.column)};
    return n;
  }

  void boolean(std::string_view key, bool& out) {
    if (const auto* n = node(key)) {
      if (auto v = n->value<bool>(); v && n->is_boolean()) out = *v;
      else ctx_.fail(n->source(), at(key), "must be true or false");
    }
  }

  template <class T>
  void integer(std::string_view key, T& out) {
    if (const auto* n = node(key)) {
      auto v = n->as_integer();
      if (v == nullptr || v->get() < 0 || static_cast<uint64_t>(v->get()) > std::numeric_limits<T>::max()) {
        ctx_.fail(n->source(), at(key), fmt::format("must be an integer 0..{}", std::numeric_limits<T>::max()));
      } else {
        out = static_cast<T>(v->get());
      }
    }
  }

  void number(std::string_view key, double& out) {
    if (const auto* n = node(key)) {
      if (n->is_floating_point()) out = n->as_floating_point()->get();
      else if (n->is_integer()) out = static_cast<double>(n->as_integer()->get());
      else ctx_.fail(n->source(), at(key), "must be a number");
    }
  }

  void string(std::string_view key, std::string& out) {
    if (const auto* n = node(key)) {
      if (n->is_string()) out = n->as_string()->get();
      else ctx_.fail(n->source(), at(key), "must be a string");
    }
  }

  void duration(std::string_view key, Duration& out) {
    if (const auto* n = node(key)) {
      std::optional<Duration> d = n->is_string() ? parse_duration(n->as_string()->get()) : std::nullopt;
      if (d) out = *d;
      else ctx_.fail(n->source(), at(key), "must be a duration such as \"250ms\", \"10s\", \"5m\" (at most 1 day)");
    }
  }

  void strings(std::string_view key, std::vector<std::string>& out) {
    if (const auto* n = node(key)) {
      const toml::array* a = n->as_array();
      if (a == nullptr) return ctx_.fail(n->source(), at(key), "must be an array of strings");
      out.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        const toml::node& e = *a->get(i);
        if (e.is_string()) out.push_back(e.as_string()->get());
        else ctx_.fail(e.source(), fmt::format("{}[{}]", at(key), i), "must be a string");
      }
    }
  }

  const toml::table* table(std::string_view key) {
    const toml::node* n = node(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) ctx_.fail(n->source(), at(key), "must be a table");
    return n->as_table();
  }

  const toml::array* array(std::string_view key) {
    const toml::node* n = node(key);
    if (n == nullptr) return nullptr;
    if (!n->is_array()) ctx_.fail(n->source(), at(key), "must be an array");
    return n->as_array();
  }

  // An array of tables at `key`: `each(reader)` reads one element, whose unknown keys are then
  // reported like any table's.
  template <class F>
  void tables(std::string_view key, F each) {
    const toml::array* a = array(key);
    for (size_t i = 0; a != nullptr && i < a->size(); ++i) {
      std::string p = fmt::format("{}[{}]", at(key), i);
      const toml::node& n = *a->get(i);
      if (!n.is_table()) {
        ctx_.fail(n.source(), p, "must be a table");
        continue;
      }
      Reader element(*n.as_table(), p, ctx_);
      each(element);
      element.finish();
    }
  }

  // Every key not consumed is an error: a typo must not silently fall back to a default.
  void finish() {
    for (auto&& [k, v] : t_) {
      if (!known_.count(std::string(k.str()))) ctx_.fail(k.source(), at(k.str()), "unknown key");
    }
  }

 private:
  const toml::table& t_;
  std::string path_;
  Context& ctx_;
  std::set<std::string, std::less<>> known_;
};

const toml::table* table_at(const toml::node& n, const std::string& path, Context& ctx) {
  if (!n.is_table()) ctx.fail(n.source(), path, "must be a table");
  return n.as_table();
}

void read_lb(Reader& parent, LbConfig& lb, Context& ctx) {
  const toml::table* t = parent.table("load_balancer");
  if (t == nullptr) return;
  Reader r(*t, parent.at("load_balancer"), ctx);
  std::string policy;
  r.string("policy", policy);
  if (!policy.empty()) {
    static const std::map<std::string, LbPolicy, std::less<>> kPolicies = {
        {"round_robin", LbPolicy::kRoundRobin}, {"least_request", LbPolicy::kLeastRequest},
        {"random", LbPolicy::kRandom}, {"ring_hash", LbPolicy::kRingHash}, {"maglev", LbPolicy::kMaglev}};
    if (auto it = kPolicies.find(policy); it != kPolicies.end()) lb.policy = it->second;
    else ctx.fail(t->get("policy")->source(), r.at("policy"),
                  "must be one of round_robin, least_request, random, ring_hash, maglev");
  }
  r.number("overprovisioning_factor", lb.overprovisioning_factor);
  if (t->contains("panic_threshold")) {
    uint32_t threshold = 0;
    r.integer("panic_threshold", threshold);
    lb.panic_threshold = threshold;
  }
  r.boolean("fail_traffic_on_panic", lb.fail_traffic_on_panic);
  r.integer("minimum_ring_size", lb.minimum_ring_size);
  r.integer("maximum_ring_size", lb.maximum_ring_size);
  r.integer("maglev_table_size", lb.maglev_table_size);
  if (const toml::table* ss = r.table("slow_start_config")) {
    Reader sr(*ss, r.at("slow_start_config"), ctx);
    sr.duration("slow_start_window", lb.slow_start.slow_start_window);
    sr.number("aggression", lb.slow_start.aggression);
    sr.number("min_weight_percent", lb.slow_start.min_weight_percent);
    sr.finish();
  }
  r.finish();
}

void read_locality(Reader& parent, LocalityLbConfig& l, Context& ctx) {
  const toml::table* t = parent.table("locality");
  if (t == nullptr) return;
  Reader r(*t, parent.at("locality"), ctx);
  r.boolean("enabled", l.enabled);
  r.strings("failover_priority", l.failover_priority);
  r.tables("failover", [&](Reader& er) {
    FailoverRule rule;
    er.string("from", rule.from);
    er.string("to", rule.to);
    l.failover.push_back(std::move(rule));
  });
  r.tables("distribute", [&](Reader& er) {
    DistributeRule rule;
    er.string("from", rule.from);
    if (const toml::table* to = er.table("to")) {
      for (auto&& [k, v] : *to) {
        std::string kp = fmt::format("{}.\"{}\"", er.at("to"), k.str());
        ctx.positions[kp] = {static_cast<int>(v.source().begin.line), static_cast<int>(v.source().begin.column)};
        auto w = v.as_integer();
        if (w == nullptr || w->get() < 0 || w->get() > 100) ctx.fail(v.source(), kp, "must be a weight 0..100");
        else rule.to.emplace_back(std::string(k.str()), static_cast<uint32_t>(w->get()));
      }
    }
    l.distribute.push_back(std::move(rule));
  });
  r.finish();
}

void read_outlier(Reader& parent, OutlierConfig& o, Context& ctx) {
  const toml::table* t = parent.table("outlier_detection");
  if (t == nullptr) return;
  Reader r(*t, parent.at("outlier_detection"), ctx);
  r.boolean("enabled", o.enabled);
  r.integer("consecutive_5xx", o.consecutive_5xx);
  r.integer("consecutive_gateway_errors", o.consecutive_gateway_errors);
  r.integer("consecutive_local_origin_failures", o.consecutive_local_origin_failures);
  r.boolean("split_external_local_origin_errors", o.split_external_local_origin_errors);
  r.duration("interval", o.interval);
  r.duration("base_ejection_time", o.base_ejection_time);
  r.duration("max_ejection_time", o.max_ejection_time);
  r.integer("max_ejection_percent", o.max_ejection_percent);
  r.boolean("always_eject_one_host", o.always_eject_one_host);
  r.integer("min_health_percent", o.min_health_percent);
  r.integer("min_healthy_to_eject_percent", o.min_healthy_to_eject_percent);
  r.duration("max_ejection_time_jitter", o.max_ejection_time_jitter);
  r.integer("enforcing_success_rate", o.enforcing_success_rate);
  r.integer("success_rate_minimum_hosts", o.success_rate_minimum_hosts);
  r.integer("success_rate_request_volume", o.success_rate_request_volume);
  r.integer("success_rate_stdev_factor", o.success_rate_stdev_factor);
  r.integer("enforcing_failure_percentage", o.enforcing_failure_percentage);
  r.integer("failure_percentage_threshold", o.failure_percentage_threshold);
  r.integer("failure_percentage_minimum_hosts", o.failure_percentage_minimum_hosts);
  r.integer("failure_percentage_request_volume", o.failure_percentage_request_volume);
  r.integer("enforcing_local_origin_success_rate", o.enforcing_local_origin_success_rate);
  r.integer("enforcing_failure_percentage_local_origin", o.enforcing_failure_percentage_local_origin);
  r.finish();
}

void read_thresholds(Reader& r, CircuitBreakerThresholds& t) {
  r.integer("max_connections", t.max_connections);
  r.integer("max_pending_requests", t.max_pending_requests);
  r.integer("max_requests", t.max_requests);
  r.integer("max_retries", t.max_retries);
}

void read_circuit_breaker(Reader& parent, CircuitBreakerConfig& c, Context& ctx) {
  const toml::table* t = parent.table("circuit_breaker");
  if (t == nullptr) return;
  Reader r(*t, parent.at("circuit_breaker"), ctx);
  read_thresholds(r, c);
  r.integer("max_requests_per_connection", c.max_requests_per_connection);
  if (const toml::table* high = r.table("high")) {
    Reader hr(*high, r.at("high"), ctx);
    read_thresholds(hr, c.high);
    hr.finish();
  }
  r.finish();
}

void read_retry(Reader& parent, RetryConfig& c, Context& ctx) {
  const toml::table* t = parent.table("retry");
  if (t == nullptr) return;
  Reader r(*t, parent.at("retry"), ctx);
  r.integer("attempts", c.attempts);
  std::vector<std::string> on;
  if (const toml::node* n = t->get("retry_on")) {
    r.strings("retry_on", on);
    c.retry_on = RetryOn{false, false, false, false, false, {}};
    for (size_t i = 0; i < on.size(); ++i) {
      const std::string& v = on[i];
      if (v == "5xx") c.retry_on.server_error = true;
      else if (v == "gateway-error") c.retry_on.gateway_error = true;
      else if (v == "connect-failure") c.retry_on.connect_failure = true;
      else if (v == "reset") c.retry_on.reset = true;
      else if (v == "retriable-4xx") c.retry_on.retriable_4xx = true;
      else ctx.fail(n->as_array() ? n->as_array()->get(i)->source() : n->source(), fmt::format("{}[{}]", r.at("retry_on"), i),
                    "must be one of 5xx, gateway-error, connect-failure, reset, retriable-4xx");
    }
  }
  if (const toml::array* a = r.array("retriable_status_codes")) {
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      std::string p = fmt::format("{}[{}]", r.at("retriable_status_codes"), i);
      ctx.positions[p] = {static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column)};
      if (e.is_integer()) c.retry_on.status_codes.push_back(static_cast<int>(e.as_integer()->get()));
      else ctx.fail(e.source(), p, "must be an HTTP status code");
    }
  }
  r.duration("base_interval", c.base_interval);
  r.duration("max_interval", c.max_interval);
  r.number("budget_percent", c.budget_percent);
  r.integer("min_retry_concurrency", c.min_retry_concurrency);
  r.integer("host_selection_attempts", c.host_selection_attempts);
  r.finish();
}

void read_bucket(Reader& r, TokenBucketConfig& b) {
  r.integer("max_tokens", b.max_tokens);
  r.integer("tokens_per_fill", b.tokens_per_fill);
  r.duration("fill_interval", b.fill_interval);
}

void read_rate_limit(Reader& parent, RateLimitConfig& c, Context& ctx) {
  const toml::table* t = parent.table("rate_limit");
  if (t == nullptr) return;
  c.enabled = true;
  Reader r(*t, parent.at("rate_limit"), ctx);
  r.boolean("enabled", c.enabled);
  read_bucket(r, c.bucket);
  if (const toml::table* keys = r.table("keys")) {
    for (auto&& [k, v] : *keys) {
      std::string p = fmt::format("{}.keys.\"{}\"", parent.at("rate_limit"), k.str());
      const toml::table* kt = table_at(v, p, ctx);
      if (kt == nullptr) continue;
      Reader kr(*kt, p, ctx);
      TokenBucketConfig b = c.bucket;
      read_bucket(kr, b);
      kr.finish();
      c.keys.emplace_back(std::string(k.str()), b);
    }
  }
  r.boolean("always_consume_default_token_bucket", c.always_consume_default_token_bucket);
  r.tables("descriptors", [&](Reader& dr) {
    RateLimitDescriptor d;
    d.bucket = c.bucket;
    read_bucket(dr, d.bucket);
    dr.tables("entries", [&](Reader& er) {
      std::pair<std::string, std::string> entry;
      er.string("key", entry.first);
      er.string("value", entry.second);
      d.entries.push_back(std::move(entry));
    });
    c.descriptors.push_back(std::move(d));
  });
  r.finish();
}

void read_endpoints(Reader& parent, std::vector<EndpointSpec>& out, Context& ctx) {
  const toml::array* a = parent.array("endpoints");
  if (a == nullptr) return;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string p = fmt::format("{}[{}]", parent.at("endpoints"), i);
    const toml::table* t = table_at(*a->get(i), p, ctx);
    if (t == nullptr) continue;
    Reader r(*t, p, ctx);
    EndpointSpec e;
    r.string("address", e.address);
    r.integer("port", e.port);
    r.integer("weight", e.weight);
    std::string locality, health;
    r.string("locality", locality);
    e.locality = Locality::parse(locality);
    r.string("health", health);
    if (health == "unhealthy") e.health = Health::kUnhealthy;
    else if (health == "degraded") e.health = Health::kDegraded;
    else if (!health.empty() && health != "healthy")
      ctx.fail(t->get("health")->source(), r.at("health"), "must be \"healthy\", \"degraded\" or \"unhealthy\"");
    if (const toml::table* labels = r.table("labels")) {
      for (auto&& [k, v] : *labels) {
        if (v.is_string()) e.labels.emplace(std::string(k.str()), v.as_string()->get());
        else ctx.fail(v.source(), fmt::format("{}.labels.\"{}\"", p, k.str()), "must be a string");
      }
    }
    r.finish();
    out.push_back(std::move(e));
  }
}

}  // namespace

Result<RouteConfig> parse_config(std::string_view toml_text, const std::string& source_name) {
  Context ctx;
  ctx.file = source_name;
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    ctx.fail(e.source(), "", std::string(e.description()));
    return std::move(ctx.errors);
  }
  RouteConfig config;
  Reader top(root, "", ctx);
  if (const toml::table* clusters = top.table("clusters")) {
    for (auto&& [name, node] : *clusters) {
      std::string path = fmt::format("clusters.{}", name.str());
      const toml::table* t = table_at(node, path, ctx);
      if (t == nullptr) continue;
      ClusterConfig cc;
      cc.name = std::string(name.str());
      Reader r(*t, path, ctx);
      read_lb(r, cc.lb, ctx);
      read_locality(r, cc.locality, ctx);
      read_outlier(r, cc.outlier, ctx);
      read_circuit_breaker(r, cc.circuit_breaker, ctx);
      read_retry(r, cc.retry, ctx);
      read_rate_limit(r, cc.rate_limit, ctx);
      read_endpoints(r, cc.endpoints, ctx);
      r.finish();
      for (Error& e : validate(cc, path)) {
        Position pos = ctx.locate(e.path);
        e.file = source_name;
        e.line = pos.line;
        e.col = pos.col;
        ctx.errors.push_back(std::move(e));
      }
      config.clusters.push_back(std::move(cc));
    }
  }
  top.finish();
  if (!ctx.errors.empty()) {
    // Report in file order, whichever pass found them.
    std::stable_sort(ctx.errors.begin(), ctx.errors.end(), [](const Error& a, const Error& b) {
      return std::tie(a.line, a.col) < std::tie(b.line, b.col);
    });
    return std::move(ctx.errors);
  }
  return config;
}

Result<RouteConfig> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errors{Error{path, 0, 0, "", "cannot open file"}};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace gslb::route
