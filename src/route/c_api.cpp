// The C interface: thin wrappers that turn exceptions and C++ types into status codes and
// C strings. Nothing here decides routing.
#include <cstring>
#include <new>

#include "gslb/route.h"
#include "gslb/route.hpp"

using namespace gslb::route;

namespace {

// Adapts the C clock callback.
class CClock final : public Clock {
 public:
  CClock(uint64_t (*now)(void*), void* user) : now_(now), user_(user) {}
  TimePoint now() const noexcept override { return TimePoint{static_cast<int64_t>(now_(user_))}; }

 private:
  uint64_t (*now_)(void*);
  void* user_;
};

// Adapts Event to gslb_route_event; the strings live on this frame for the callback's duration.
class CListener final : public Listener {
 public:
  CListener(void (*cb)(void*, const gslb_route_event*), void* user) : cb_(cb), user_(user) {}
  void on_event(const Event& e) override {
    std::string endpoint = e.endpoint ? e.endpoint->name() : std::string();
    std::string client = e.client.locality.to_string();
    gslb_route_event out{};
    out.kind = static_cast<gslb_route_event_kind>(e.kind);
    out.cluster = e.cluster.c_str();
    out.endpoint = e.endpoint ? endpoint.c_str() : nullptr;
    out.reason = e.kind == EventKind::kEjected ? to_string(e.reason) : "";
    out.ejection_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(e.ejection_time).count());
    out.client_locality = client.c_str();
    out.priority = e.priority;
    cb_(user_, &out);
  }

 private:
  void (*cb_)(void*, const gslb_route_event*);
  void* user_;
};

void copy_errors(const std::string& text, char* out, size_t len) {
  if (out == nullptr || len == 0) return;
  size_t n = std::min(text.size(), len - 1);
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

gslb_route_status status_of(PickError e) {
  switch (e) {
    case PickError::kNone: return GSLB_ROUTE_OK;
    case PickError::kNoHealthyEndpoint: return GSLB_ROUTE_ERR_NO_HEALTHY_ENDPOINT;
    case PickError::kCircuitOpen: return GSLB_ROUTE_ERR_CIRCUIT_OPEN;
    case PickError::kRateLimited: return GSLB_ROUTE_ERR_RATE_LIMITED;
  }
  return GSLB_ROUTE_ERR_INTERNAL;
}

Labels labels_of(const gslb_route_label* labels, size_t count) {
  Labels out;
  for (size_t i = 0; labels != nullptr && i < count; ++i) {
    if (labels[i].key != nullptr) out.emplace(labels[i].key, labels[i].value ? labels[i].value : "");
  }
  return out;
}

Client client_of(const gslb_route_client& c) {
  return Client{Locality::parse(c.locality ? c.locality : ""), labels_of(c.labels, c.label_count)};
}

Health health_of(gslb_route_health h) {
  switch (h) {
    case GSLB_ROUTE_HEALTHY: return Health::kHealthy;
    case GSLB_ROUTE_DEGRADED: return Health::kDegraded;
    case GSLB_ROUTE_UNHEALTHY: break;
  }
  return Health::kUnhealthy;
}

gslb_route_health health_to_c(Health h) {
  switch (h) {
    case Health::kHealthy: return GSLB_ROUTE_HEALTHY;
    case Health::kDegraded: return GSLB_ROUTE_DEGRADED;
    case Health::kUnhealthy: break;
  }
  return GSLB_ROUTE_UNHEALTHY;
}

RoutingPriority priority_of(gslb_route_routing_priority p) {
  return p == GSLB_ROUTE_PRIORITY_HIGH ? RoutingPriority::kHigh : RoutingPriority::kDefault;
}

bool valid_resource(gslb_route_resource r) {
  return r >= GSLB_ROUTE_RESOURCE_CONNECTION && r <= GSLB_ROUTE_RESOURCE_RETRY;
}

}  // namespace

struct gslb_route_cluster {
  std::unique_ptr<CClock> clock;
  std::unique_ptr<SplitMixRandom> random;
  std::unique_ptr<CListener> listener;
  std::unique_ptr<Cluster> cluster;
};

struct gslb_route_pick {
  Pick pick;
  EndpointPtr endpoint;  // kept after report so address() stays readable
  std::string locality;
  Outcome last{};
  bool reported = false;
};

struct gslb_route_retry {
  gslb_route_cluster* owner;
  RetryState state;
};

struct gslb_route_admission {
  Admission admission;
};

namespace {

gslb_route_status make_cluster(Result<RouteConfig> parsed, const char* cluster_name, const gslb_route_options* options,
                               gslb_route_cluster** out, char* errors, size_t errors_len) {
  if (!parsed) {
    copy_errors(parsed.error_text(), errors, errors_len);
    return GSLB_ROUTE_ERR_CONFIG;
  }
  const ClusterConfig* config = parsed->find(cluster_name);
  if (config == nullptr) {
    copy_errors(std::string("no cluster named \"") + cluster_name + "\"\n", errors, errors_len);
    return GSLB_ROUTE_ERR_NOT_FOUND;
  }
  auto handle = std::make_unique<gslb_route_cluster>();
  ClusterOptions o;
  gslb_route_options defaults{};
  const gslb_route_options& opt = options ? *options : defaults;
  if (opt.now_ns != nullptr) {
    handle->clock = std::make_unique<CClock>(opt.now_ns, opt.clock_user);
    o.clock = handle->clock.get();
  }
  if (opt.seed != 0) {
    handle->random = std::make_unique<SplitMixRandom>(opt.seed);
    o.random = handle->random.get();
  }
  if (opt.on_event != nullptr) {
    handle->listener = std::make_unique<CListener>(opt.on_event, opt.event_user);
    o.listener = handle->listener.get();
  }
  o.auto_tick = opt.manual_tick == 0;
  auto made = Cluster::create(*config, o);
  if (!made) {
    copy_errors(made.error_text(), errors, errors_len);
    return GSLB_ROUTE_ERR_CONFIG;
  }
  handle->cluster = std::move(made.value());
  *out = handle.release();
  return GSLB_ROUTE_OK;
}

// Turns a Pick into a C handle (recording it with the retry state, if any).
gslb_route_status hand_out(Pick p, RetryState* retry, gslb_route_pick** out) {
  if (!p) return status_of(p.error());
  if (retry != nullptr) retry->attempted(p.endpoint_ptr());
  auto handle = std::make_unique<gslb_route_pick>();
  handle->endpoint = p.endpoint_ptr();
  handle->locality = p.endpoint().locality().to_string();
  handle->pick = std::move(p);
  *out = handle.release();
  return GSLB_ROUTE_OK;
}

}  // namespace

extern "C" {

gslb_route_status gslb_route_cluster_from_toml(const char* toml_text, const char* source_name, const char* cluster_name,
                                               const gslb_route_options* options, gslb_route_cluster** out,
                                               char* errors, size_t errors_len) {
  if (toml_text == nullptr || cluster_name == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    return make_cluster(parse_config(toml_text, source_name ? source_name : "<string>"), cluster_name, options, out,
                        errors, errors_len);
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

gslb_route_status gslb_route_cluster_from_file(const char* path, const char* cluster_name,
                                               const gslb_route_options* options, gslb_route_cluster** out,
                                               char* errors, size_t errors_len) {
  if (path == nullptr || cluster_name == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    return make_cluster(load_config(path), cluster_name, options, out, errors, errors_len);
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

void gslb_route_cluster_free(gslb_route_cluster* cluster) { delete cluster; }

gslb_route_status gslb_route_pick_endpoint(gslb_route_cluster* cluster, const char* client_locality,
                                           const uint64_t* hash_key, gslb_route_pick** out) {
  if (cluster == nullptr || client_locality == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  try {
    PickOptions o;
    if (hash_key != nullptr) o.hash_key = *hash_key;
    return hand_out(cluster->cluster->pick(Client{Locality::parse(client_locality)}, o), nullptr, out);
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

const char* gslb_route_pick_address(const gslb_route_pick* pick) { return pick ? pick->endpoint->address().c_str() : ""; }
uint16_t gslb_route_pick_port(const gslb_route_pick* pick) { return pick ? pick->endpoint->port() : 0; }
const char* gslb_route_pick_locality(const gslb_route_pick* pick) { return pick ? pick->locality.c_str() : ""; }
uint32_t gslb_route_pick_priority(const gslb_route_pick* pick) { return pick ? pick->pick.priority() : 0; }

void gslb_route_report_http(gslb_route_cluster* cluster, gslb_route_pick* pick, int status, uint64_t latency_us) {
  if (cluster == nullptr || pick == nullptr || pick->reported) return;
  try {
    pick->last = Outcome::http(status, std::chrono::microseconds(latency_us));
    pick->reported = true;
    cluster->cluster->report(pick->pick, pick->last);
  } catch (...) {
  }
}

void gslb_route_report_failure(gslb_route_cluster* cluster, gslb_route_pick* pick, gslb_route_local_failure failure,
                               uint64_t latency_us) {
  if (cluster == nullptr || pick == nullptr || pick->reported) return;
  try {
    pick->last = Outcome::local(static_cast<LocalFailure>(failure), std::chrono::microseconds(latency_us));
    pick->reported = true;
    cluster->cluster->report(pick->pick, pick->last);
  } catch (...) {
  }
}

void gslb_route_pick_free(gslb_route_pick* pick) { delete pick; }

gslb_route_status gslb_route_set_health(gslb_route_cluster* cluster, const char* address, uint16_t port, int healthy) {
  if (cluster == nullptr || address == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    bool found = cluster->cluster->set_health(address, port, healthy ? Health::kHealthy : Health::kUnhealthy);
    return found ? GSLB_ROUTE_OK : GSLB_ROUTE_ERR_NOT_FOUND;
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

void gslb_route_tick(gslb_route_cluster* cluster) {
  if (cluster == nullptr) return;
  try {
    cluster->cluster->tick();
  } catch (...) {
  }
}

void gslb_route_get_stats(const gslb_route_cluster* cluster, gslb_route_stats* out) {
  if (cluster == nullptr || out == nullptr) return;
  try {
    ClusterStats s = cluster->cluster->stats();
    *out = gslb_route_stats{s.picks,          s.no_healthy,      s.circuit_open,     s.rate_limited,
                            s.panic_picks,    s.ejections_total, s.ejections_active, s.ejections_overflow};
  } catch (...) {
    *out = gslb_route_stats{};
  }
}

gslb_route_retry* gslb_route_retry_new(gslb_route_cluster* cluster) {
  if (cluster == nullptr) return nullptr;
  Cluster& c = *cluster->cluster;
  return new (std::nothrow) gslb_route_retry{cluster, RetryState(c.config().retry, c.random(), &c.circuit_breaker())};
}

gslb_route_status gslb_route_retry_pick(gslb_route_retry* retry, const char* client_locality, gslb_route_pick** out) {
  if (retry == nullptr || client_locality == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  try {
    return hand_out(retry->owner->cluster->pick(Client{Locality::parse(client_locality)}, retry->state.pick_options()),
                    &retry->state, out);
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

int gslb_route_retry_should_retry(gslb_route_retry* retry, const gslb_route_pick* pick, uint64_t* backoff_us) {
  if (retry == nullptr || pick == nullptr || !pick->reported) return 0;
  RetryState::Decision d = retry->state.on_outcome(pick->last);
  if (backoff_us != nullptr)
    *backoff_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d.backoff).count());
  return d.retry() ? 1 : 0;
}

void gslb_route_retry_free(gslb_route_retry* retry) { delete retry; }

gslb_route_status gslb_route_pick_for(gslb_route_cluster* cluster, const gslb_route_client* client,
                                      const gslb_route_pick_options* options, gslb_route_pick** out) {
  if (cluster == nullptr || client == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  try {
    PickOptions o;
    // Views into the caller's strings, alive for the call.
    std::vector<DescriptorEntry> entries;
    std::vector<DescriptorView> descriptors;
    if (options != nullptr) {
      if (options->hash_key != nullptr) o.hash_key = *options->hash_key;
      if (options->rate_limit_key != nullptr) o.rate_limit_key = options->rate_limit_key;
      o.priority = priority_of(options->priority);
      size_t total = 0;
      for (size_t i = 0; options->descriptors != nullptr && i < options->descriptor_count; ++i)
        total += options->descriptors[i].entry_count;
      entries.reserve(total);  // no reallocation: the views below point into it
      for (size_t i = 0; options->descriptors != nullptr && i < options->descriptor_count; ++i) {
        const gslb_route_descriptor& d = options->descriptors[i];
        size_t first = entries.size();
        for (size_t k = 0; d.entries != nullptr && k < d.entry_count; ++k) {
          entries.emplace_back(d.entries[k].key ? d.entries[k].key : "", d.entries[k].value ? d.entries[k].value : "");
        }
        descriptors.push_back(DescriptorView{std::span<const DescriptorEntry>(entries.data() + first, entries.size() - first)});
      }
      o.descriptors = descriptors;
    }
    return hand_out(cluster->cluster->pick(client_of(*client), o), nullptr, out);
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

int gslb_route_pick_panic(const gslb_route_pick* pick) { return pick != nullptr && pick->pick.panic() ? 1 : 0; }

gslb_route_retry* gslb_route_retry_new_for(gslb_route_cluster* cluster, gslb_route_routing_priority priority) {
  if (cluster == nullptr) return nullptr;
  Cluster& c = *cluster->cluster;
  return new (std::nothrow)
      gslb_route_retry{cluster, RetryState(c.config().retry, c.random(), &c.circuit_breaker(), priority_of(priority))};
}

gslb_route_status gslb_route_retry_pick_for(gslb_route_retry* retry, const gslb_route_client* client,
                                            gslb_route_pick** out) {
  if (retry == nullptr || client == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  try {
    return hand_out(retry->owner->cluster->pick(client_of(*client), retry->state.pick_options()), &retry->state, out);
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

gslb_route_status gslb_route_update(gslb_route_cluster* cluster, const gslb_route_endpoint* endpoints, size_t count,
                                    char* errors, size_t errors_len) {
  if (cluster == nullptr || (endpoints == nullptr && count > 0)) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    std::vector<EndpointSpec> specs;
    specs.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      const gslb_route_endpoint& e = endpoints[i];
      EndpointSpec spec;
      spec.address = e.address ? e.address : "";
      spec.port = e.port;
      spec.weight = e.weight == 0 ? 1 : e.weight;
      spec.locality = Locality::parse(e.locality ? e.locality : "");
      spec.labels = labels_of(e.labels, e.label_count);
      spec.health = health_of(e.health);
      specs.push_back(std::move(spec));
    }
    Errors found = cluster->cluster->update(std::move(specs));
    if (found.empty()) return GSLB_ROUTE_OK;
    std::string text;
    for (const auto& e : found) text += e.to_string() + "\n";
    copy_errors(text, errors, errors_len);
    return GSLB_ROUTE_ERR_CONFIG;
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

gslb_route_status gslb_route_set_health_state(gslb_route_cluster* cluster, const char* address, uint16_t port,
                                              gslb_route_health health) {
  if (cluster == nullptr || address == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    return cluster->cluster->set_health(address, port, health_of(health)) ? GSLB_ROUTE_OK : GSLB_ROUTE_ERR_NOT_FOUND;
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

gslb_route_status gslb_route_set_address_health(gslb_route_cluster* cluster, const char* address,
                                                gslb_route_health health, size_t* count) {
  if (cluster == nullptr || address == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    size_t n = 0;
    for (const auto& ep : cluster->cluster->endpoints())
      if (ep->address() == address) n += cluster->cluster->set_health(ep->address(), ep->port(), health_of(health));
    if (count) *count = n;
    return n ? GSLB_ROUTE_OK : GSLB_ROUTE_ERR_NOT_FOUND;
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

gslb_route_status gslb_route_endpoint_state(const gslb_route_cluster* cluster, const char* address, uint16_t port,
                                            gslb_route_endpoint_info* out) {
  if (cluster == nullptr || address == nullptr || out == nullptr) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  try {
    for (const auto& ep : cluster->cluster->endpoints()) {
      if (ep->address() != address || ep->port() != port) continue;
      *out = gslb_route_endpoint_info{health_to_c(ep->health()), ep->ejected() ? 1 : 0, ep->times_ejected(),
                                      ep->active_requests()};
      return GSLB_ROUTE_OK;
    }
    return GSLB_ROUTE_ERR_NOT_FOUND;
  } catch (...) {
    return GSLB_ROUTE_ERR_INTERNAL;
  }
}

size_t gslb_route_priorities(gslb_route_cluster* cluster, const gslb_route_client* client,
                             gslb_route_priority_info* out, size_t capacity) {
  if (cluster == nullptr || client == nullptr || (out == nullptr && capacity > 0)) return 0;
  try {
    std::vector<PriorityInfo> levels = cluster->cluster->priorities(client_of(*client));
    for (size_t i = 0; i < levels.size() && i < capacity; ++i) {
      const PriorityInfo& l = levels[i];
      out[i] = gslb_route_priority_info{l.load_percent, l.degraded_load_percent, l.healthy, l.degraded, l.total,
                                        l.panic ? 1 : 0};
    }
    return levels.size();
  } catch (...) {
    return 0;
  }
}

gslb_route_status gslb_route_admit(gslb_route_cluster* cluster, gslb_route_resource resource,
                                   gslb_route_routing_priority priority, gslb_route_admission** out) {
  if (cluster == nullptr || out == nullptr || !valid_resource(resource)) return GSLB_ROUTE_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  Admission a = cluster->cluster->circuit_breaker().try_acquire(static_cast<Resource>(resource), priority_of(priority));
  if (!a) return GSLB_ROUTE_ERR_CIRCUIT_OPEN;
  auto* handle = new (std::nothrow) gslb_route_admission{std::move(a)};
  if (handle == nullptr) return GSLB_ROUTE_ERR_INTERNAL;  // the Admission frees its slot on the way out
  *out = handle;
  return GSLB_ROUTE_OK;
}

void gslb_route_admission_release(gslb_route_admission* admission) { delete admission; }

uint32_t gslb_route_active(const gslb_route_cluster* cluster, gslb_route_resource resource,
                           gslb_route_routing_priority priority) {
  if (cluster == nullptr || !valid_resource(resource)) return 0;
  return cluster->cluster->circuit_breaker().active(static_cast<Resource>(resource), priority_of(priority));
}

uint64_t gslb_route_overflow(const gslb_route_cluster* cluster, gslb_route_resource resource,
                             gslb_route_routing_priority priority) {
  if (cluster == nullptr || !valid_resource(resource)) return 0;
  return cluster->cluster->circuit_breaker().overflow(static_cast<Resource>(resource), priority_of(priority));
}

int gslb_route_connection_exhausted(const gslb_route_cluster* cluster, uint64_t requests_served) {
  if (cluster == nullptr) return 0;
  return cluster->cluster->circuit_breaker().connection_exhausted(requests_served) ? 1 : 0;
}

const char* gslb_route_status_string(gslb_route_status status) {
  switch (status) {
    case GSLB_ROUTE_OK: return "ok";
    case GSLB_ROUTE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case GSLB_ROUTE_ERR_CONFIG: return "configuration error";
    case GSLB_ROUTE_ERR_NOT_FOUND: return "not found";
    case GSLB_ROUTE_ERR_NO_HEALTHY_ENDPOINT: return "no healthy endpoint";
    case GSLB_ROUTE_ERR_CIRCUIT_OPEN: return "circuit open";
    case GSLB_ROUTE_ERR_RATE_LIMITED: return "rate limited";
    case GSLB_ROUTE_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

}  // extern "C"
