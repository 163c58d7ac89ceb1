/* gslb/route.h: the C interface of gslb::route, for C programs and language bindings.
 *
 * Handles are opaque. A cluster is safe to use from several threads at once (pick, report,
 * set_health, tick); a pick or a retry handle belongs to one request and one thread at a time.
 * No function lets a C++ exception escape: failures come back as gslb_route_status codes. */
#ifndef GSLB_ROUTE_H
#define GSLB_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gslb_route_status {
  GSLB_ROUTE_OK = 0,
  GSLB_ROUTE_ERR_INVALID_ARGUMENT = 1,
  GSLB_ROUTE_ERR_CONFIG = 2,
  GSLB_ROUTE_ERR_NOT_FOUND = 3,
  GSLB_ROUTE_ERR_NO_HEALTHY_ENDPOINT = 4,
  GSLB_ROUTE_ERR_CIRCUIT_OPEN = 5,
  GSLB_ROUTE_ERR_RATE_LIMITED = 6,
  GSLB_ROUTE_ERR_INTERNAL = 7
} gslb_route_status;

typedef enum gslb_route_local_failure {
  GSLB_ROUTE_CONNECT_FAILED = 0,
  GSLB_ROUTE_TIMEOUT = 1,
  GSLB_ROUTE_RESET = 2
} gslb_route_local_failure;

typedef enum gslb_route_event_kind {
  GSLB_ROUTE_EVENT_EJECTED = 0,
  GSLB_ROUTE_EVENT_RETURNED = 1,
  GSLB_ROUTE_EVENT_PANIC_ENTERED = 2,
  GSLB_ROUTE_EVENT_PANIC_LEFT = 3
} gslb_route_event_kind;

/* Strings are valid only during the callback. */
typedef struct gslb_route_event {
  gslb_route_event_kind kind;
  const char* cluster;
  const char* endpoint;        /* "address:port"; NULL for panic events */
  const char* reason;          /* ejection reason, e.g. "consecutive_5xx"; "" otherwise */
  uint64_t ejection_ms;        /* how long the ejection lasts */
  const char* client_locality; /* panic events: whose priorities */
  uint32_t priority;           /* panic events */
} gslb_route_event;

/* Zero-initialise, then set what you need. */
typedef struct gslb_route_options {
  uint64_t (*now_ns)(void* user); /* monotonic nanoseconds; NULL: the system steady clock */
  void* clock_user;
  uint64_t seed; /* 0: seeded from the system */
  void (*on_event)(void* user, const gslb_route_event* event);
  void* event_user;
  int manual_tick; /* nonzero: the caller runs gslb_route_tick() itself */
} gslb_route_options;

typedef struct gslb_route_stats {
  uint64_t picks;
  uint64_t no_healthy;
  uint64_t circuit_open;
  uint64_t rate_limited;
  uint64_t panic_picks;
  uint64_t ejections_total;
  uint64_t ejections_active;
  uint64_t ejections_overflow;
} gslb_route_stats;

typedef struct gslb_route_cluster gslb_route_cluster;
typedef struct gslb_route_pick gslb_route_pick;
typedef struct gslb_route_retry gslb_route_retry;
typedef struct gslb_route_admission gslb_route_admission;

/* Active health as the application sees it. DEGRADED: Envoy's degraded state, used only when
 * the healthy endpoints of every priority cannot carry the traffic. */
typedef enum gslb_route_health {
  GSLB_ROUTE_HEALTHY = 0,
  GSLB_ROUTE_UNHEALTHY = 1,
  GSLB_ROUTE_DEGRADED = 2
} gslb_route_health;

/* Envoy's routing priority: each has its own circuit-breaker thresholds ([circuit_breaker] and
 * [circuit_breaker.high]). */
typedef enum gslb_route_routing_priority {
  GSLB_ROUTE_PRIORITY_DEFAULT = 0,
  GSLB_ROUTE_PRIORITY_HIGH = 1
} gslb_route_routing_priority;

/* What gslb_route_admit counts against max_connections, max_pending_requests, max_requests
 * and max_retries. */
typedef enum gslb_route_resource {
  GSLB_ROUTE_RESOURCE_CONNECTION = 0,
  GSLB_ROUTE_RESOURCE_PENDING_REQUEST = 1,
  GSLB_ROUTE_RESOURCE_REQUEST = 2,
  GSLB_ROUTE_RESOURCE_RETRY = 3
} gslb_route_resource;

typedef struct gslb_route_label {
  const char* key;
  const char* value;
} gslb_route_label;

/* Who is asking: its locality ("region/zone/subzone") and labels, for failover_priority. */
typedef struct gslb_route_client {
  const char* locality;
  const gslb_route_label* labels;
  size_t label_count;
} gslb_route_client;

/* A request's rate-limit descriptor: ordered (key, value) entries, matched against
 * [[rate_limit.descriptors]]. */
typedef struct gslb_route_descriptor {
  const gslb_route_label* entries;
  size_t entry_count;
} gslb_route_descriptor;

/* Zero-initialise, then set what you need. */
typedef struct gslb_route_pick_options {
  const uint64_t* hash_key;           /* NULL, or a key for ring_hash/maglev */
  const char* rate_limit_key;         /* NULL or "": the default bucket */
  gslb_route_routing_priority priority;
  const gslb_route_descriptor* descriptors;
  size_t descriptor_count;
} gslb_route_pick_options;

/* One member, for gslb_route_update. weight 0 means 1. Strings are copied. */
typedef struct gslb_route_endpoint {
  const char* address;
  uint16_t port;
  uint32_t weight;
  const char* locality;
  const gslb_route_label* labels;
  size_t label_count;
  gslb_route_health health;
} gslb_route_endpoint;

/* How one client sees one priority (gslb_route_priorities). */
typedef struct gslb_route_priority_info {
  uint32_t load_percent;          /* share of all traffic to its healthy endpoints */
  uint32_t degraded_load_percent; /* share to its degraded endpoints */
  uint32_t healthy;               /* healthy and not ejected */
  uint32_t degraded;              /* degraded and not ejected */
  uint32_t total;
  int panic;
} gslb_route_priority_info;

/* One endpoint's state (gslb_route_endpoint_state). */
typedef struct gslb_route_endpoint_info {
  gslb_route_health health;
  int ejected;
  uint32_t times_ejected;
  uint32_t active_requests;
} gslb_route_endpoint_info;

/* Builds cluster `cluster_name` from TOML text ([clusters.<name>] tables). On
 * GSLB_ROUTE_ERR_CONFIG every error is written to `errors` (if not NULL), one
 * "file:line:col: key.path: reason" per line, truncated to errors_len bytes including the NUL. */
gslb_route_status gslb_route_cluster_from_toml(const char* toml_text, const char* source_name,
                                               const char* cluster_name, const gslb_route_options* options,
                                               gslb_route_cluster** out, char* errors, size_t errors_len);
gslb_route_status gslb_route_cluster_from_file(const char* path, const char* cluster_name,
                                               const gslb_route_options* options, gslb_route_cluster** out,
                                               char* errors, size_t errors_len);
/* Every pick and retry handle must be freed before its cluster. */
void gslb_route_cluster_free(gslb_route_cluster* cluster);

/* client_locality: "region/zone/subzone". hash_key: NULL, or a key for ring_hash/maglev. */
gslb_route_status gslb_route_pick_endpoint(gslb_route_cluster* cluster, const char* client_locality,
                                           const uint64_t* hash_key, gslb_route_pick** out);
const char* gslb_route_pick_address(const gslb_route_pick* pick);
uint16_t gslb_route_pick_port(const gslb_route_pick* pick);
const char* gslb_route_pick_locality(const gslb_route_pick* pick);
uint32_t gslb_route_pick_priority(const gslb_route_pick* pick);

/* Report the outcome; the pick stays allocated (free it with gslb_route_pick_free). */
void gslb_route_report_http(gslb_route_cluster* cluster, gslb_route_pick* pick, int status, uint64_t latency_us);
void gslb_route_report_failure(gslb_route_cluster* cluster, gslb_route_pick* pick,
                               gslb_route_local_failure failure, uint64_t latency_us);
void gslb_route_pick_free(gslb_route_pick* pick);

gslb_route_status gslb_route_set_health(gslb_route_cluster* cluster, const char* address, uint16_t port,
                                        int healthy);
void gslb_route_tick(gslb_route_cluster* cluster);
void gslb_route_get_stats(const gslb_route_cluster* cluster, gslb_route_stats* out);

/* Retries: one handle per logical request, following the cluster's [retry] policy. */
gslb_route_retry* gslb_route_retry_new(gslb_route_cluster* cluster);
/* Like gslb_route_pick_endpoint, avoiding endpoints this request already tried. */
gslb_route_status gslb_route_retry_pick(gslb_route_retry* retry, const char* client_locality, gslb_route_pick** out);
/* After reporting `pick` (an attempt of this request): returns 1 and sets *backoff_us when the
 * reported outcome should be retried, 0 when the request is done (success or final failure). */
int gslb_route_retry_should_retry(gslb_route_retry* retry, const gslb_route_pick* pick, uint64_t* backoff_us);
void gslb_route_retry_free(gslb_route_retry* retry);

/* Like gslb_route_pick_endpoint with the client's labels (failover_priority), a rate-limit key
 * and a routing priority. options may be NULL. */
gslb_route_status gslb_route_pick_for(gslb_route_cluster* cluster, const gslb_route_client* client,
                                      const gslb_route_pick_options* options, gslb_route_pick** out);
/* Nonzero when the pick's priority was in panic (it may have chosen an unhealthy endpoint). */
int gslb_route_pick_panic(const gslb_route_pick* pick);
/* A retry handle whose retries count against `priority`'s max_retries and retry budget. */
gslb_route_retry* gslb_route_retry_new_for(gslb_route_cluster* cluster, gslb_route_routing_priority priority);
gslb_route_status gslb_route_retry_pick_for(gslb_route_retry* retry, const gslb_route_client* client,
                                            gslb_route_pick** out);

/* Replaces the membership; endpoints keep their outlier state by address:port. On
 * GSLB_ROUTE_ERR_CONFIG nothing changed and the errors are written as for cluster_from_toml. */
gslb_route_status gslb_route_update(gslb_route_cluster* cluster, const gslb_route_endpoint* endpoints, size_t count,
                                    char* errors, size_t errors_len);
gslb_route_status gslb_route_set_health_state(gslb_route_cluster* cluster, const char* address, uint16_t port,
                                              gslb_route_health health);
gslb_route_status gslb_route_endpoint_state(const gslb_route_cluster* cluster, const char* address, uint16_t port,
                                            gslb_route_endpoint_info* out);
/* Sets `health` on every endpoint with this address, whatever its port (a verdict about a host,
 * e.g. gslbd's through gslb/follow.h); `count` (may be NULL) gets how many. NOT_FOUND if none. */
gslb_route_status gslb_route_set_address_health(gslb_route_cluster* cluster, const char* address,
                                                gslb_route_health health, size_t* count);

/* The priorities as `client` sees them: fills up to `capacity` entries of `out` (which may be
 * NULL when capacity is 0) and returns how many priorities there are. */
size_t gslb_route_priorities(gslb_route_cluster* cluster, const gslb_route_client* client,
                             gslb_route_priority_info* out, size_t capacity);

/* Circuit-breaker accounting for the caller's own connection pool: take a connection or a
 * pending-request slot before opening a connection or queueing a request, free it when the
 * connection closes or the request leaves the queue. GSLB_ROUTE_ERR_CIRCUIT_OPEN at the limit
 * (the overflow is counted). An admission must be released before its cluster is freed. */
gslb_route_status gslb_route_admit(gslb_route_cluster* cluster, gslb_route_resource resource,
                                   gslb_route_routing_priority priority, gslb_route_admission** out);
void gslb_route_admission_release(gslb_route_admission* admission);
uint32_t gslb_route_active(const gslb_route_cluster* cluster, gslb_route_resource resource,
                           gslb_route_routing_priority priority);
uint64_t gslb_route_overflow(const gslb_route_cluster* cluster, gslb_route_resource resource,
                             gslb_route_routing_priority priority);
/* max_requests_per_connection: nonzero once a connection that has served `requests_served`
 * requests should be closed after the current one. */
int gslb_route_connection_exhausted(const gslb_route_cluster* cluster, uint64_t requests_served);

const char* gslb_route_status_string(gslb_route_status status);

#ifdef __cplusplus
}
#endif

#endif /* GSLB_ROUTE_H */
