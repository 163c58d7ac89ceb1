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

const char* gslb_route_status_string(gslb_route_status status);

#ifdef __cplusplus
}
#endif

#endif /* GSLB_ROUTE_H */
