/* gslb/follow.h: the C interface of gslb-route-follow. It follows gslbd's verdict stream
 * (`gslbctl verdicts --follow`, format v1) on a thread of its own and sets the health of a
 * gslb_route_cluster's endpoints by address (gslb_route_set_address_health), reconnecting and
 * resyncing when gslbd restarts. No C++ exception escapes. */
#ifndef GSLB_FOLLOW_H
#define GSLB_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

#include <gslb/route.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gslb_follow gslb_follow;

typedef enum gslb_follow_notice_kind {
  GSLB_FOLLOW_CONNECTED = 0,
  GSLB_FOLLOW_SYNCED = 1,       /* the snapshot is in: every known verdict applied */
  GSLB_FOLLOW_DISCONNECTED = 2, /* text says why; the last verdicts stay in force */
  GSLB_FOLLOW_HEALTH = 3,       /* address, health, endpoints, text (gslbd's reason) */
  GSLB_FOLLOW_BAD_LINE = 4      /* text says why */
} gslb_follow_notice_kind;

/* Valid during the callback only. */
typedef struct gslb_follow_notice {
  gslb_follow_notice_kind kind;
  const char* text;
  const char* address;
  gslb_route_health health;
  size_t endpoints;
} gslb_follow_notice;

/* Called on the follower's thread; must not call gslb_follow_stop on its own handle. */
typedef void (*gslb_follow_notice_fn)(const gslb_follow_notice* notice, void* user);

/* Zero or NULL fields take the defaults. */
typedef struct gslb_follow_options {
  const char* socket_path;   /* default /run/gslbd/control.sock */
  const char* probe;         /* only this probe's verdicts; NULL: every probe's */
  uint32_t min_backoff_ms;   /* default 100 */
  uint32_t max_backoff_ms;   /* default 5000 */
  gslb_follow_notice_fn on_notice;
  void* user;
} gslb_follow_options;

typedef struct gslb_follow_stats {
  uint64_t connects;
  uint64_t syncs;
  uint64_t verdicts;
  uint64_t bad_lines;
  uint64_t health_changes;
  int synced; /* connected now and past the snapshot */
} gslb_follow_stats;

/* Starts following for `cluster`, which must outlive the follower. NULL on failure (bad
 * arguments, no thread). */
gslb_follow* gslb_follow_start(gslb_route_cluster* cluster, const gslb_follow_options* options);
/* Stops the thread and frees the follower. NULL is ignored. */
void gslb_follow_stop(gslb_follow* follow);
void gslb_follow_get_stats(const gslb_follow* follow, gslb_follow_stats* out);

#ifdef __cplusplus
}
#endif

#endif /* GSLB_FOLLOW_H */
