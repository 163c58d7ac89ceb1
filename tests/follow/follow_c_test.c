/* Exercises gslb/follow.h from C against a stand-in for gslbd's control socket (this program
 * plays gslbd: it accepts, checks the request, writes verdict lines): a snapshot marks an
 * address's endpoints (both ports) unhealthy; after the connection drops the follower
 * reconnects and a new snapshot brings the address back. A refusal (an older gslbd) comes first. gslb_route_set_address_health is
 * checked on its own too. Exits non-zero on the first failed check. */
#define _GNU_SOURCE
#include <gslb/follow.h>

#include "../c_check.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static atomic_int connected_notices, synced_notices, health_notices, refused_notices;

static const char* kConfig =
    "[[clusters.api.endpoints]]\n"
    "address = \"127.0.0.2\"\nport = 8001\nlocality = \"r/a\"\n"
    "[[clusters.api.endpoints]]\n"
    "address = \"127.0.0.2\"\nport = 8002\nlocality = \"r/a\"\n"
    "[[clusters.api.endpoints]]\n"
    "address = \"127.0.0.3\"\nport = 8001\nlocality = \"r/b\"\n";

static void on_notice(const gslb_follow_notice* n, void* user) {
  (void)user;
  if (n->kind == GSLB_FOLLOW_CONNECTED) atomic_fetch_add(&connected_notices, 1);
  if (n->kind == GSLB_FOLLOW_SYNCED) atomic_fetch_add(&synced_notices, 1);
  if (n->kind == GSLB_FOLLOW_DISCONNECTED && strstr(n->text, "refused the verdicts request"))
    atomic_fetch_add(&refused_notices, 1);
  if (n->kind == GSLB_FOLLOW_HEALTH) {
    atomic_fetch_add(&health_notices, 1);
    CHECK(strcmp(n->address, "127.0.0.2") == 0);
    CHECK(n->endpoints == 2);
  }
}

static gslb_route_health health(gslb_route_cluster* c, uint16_t port) {
  gslb_route_endpoint_info info;
  if (gslb_route_endpoint_state(c, "127.0.0.2", port, &info) != GSLB_ROUTE_OK) return (gslb_route_health)-1;
  return info.health;
}

/* Until both ports of 127.0.0.2 are `want`, up to 5 s. */
static int wait_health(gslb_route_cluster* c, gslb_route_health want) {
  for (int i = 0; i < 500; ++i) {
    if (health(c, 8001) == want && health(c, 8002) == want) return 1;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* Accepts the follower, checks its request, sends `lines`. Returns the connection. */
static int serve(int listener, const char* lines) {
  int fd = accept(listener, NULL, NULL);
  CHECK(fd >= 0);
  if (fd < 0) return -1;
  char req[64] = {0};
  size_t got = 0;
  while (got < sizeof req - 1 && (got == 0 || req[got - 1] != '\n')) {
    ssize_t n = read(fd, req + got, sizeof req - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  CHECK(strcmp(req, "verdicts\t--follow\n") == 0);
  CHECK(write(fd, lines, strlen(lines)) == (ssize_t)strlen(lines));
  return fd;
}

int main(void) {
  char errors[512];
  gslb_route_cluster* cluster = NULL;
  CHECK(gslb_route_cluster_from_toml(kConfig, "test", "api", NULL, &cluster, errors, sizeof errors) == GSLB_ROUTE_OK);
  if (!cluster) return 1;

  size_t n = 0;
  CHECK(gslb_route_set_address_health(cluster, "127.0.0.2", GSLB_ROUTE_DEGRADED, &n) == GSLB_ROUTE_OK);
  CHECK(n == 2);
  CHECK(health(cluster, 8001) == GSLB_ROUTE_DEGRADED && health(cluster, 8002) == GSLB_ROUTE_DEGRADED);
  CHECK(gslb_route_set_address_health(cluster, "127.0.0.9", GSLB_ROUTE_UNHEALTHY, NULL) == GSLB_ROUTE_ERR_NOT_FOUND);
  CHECK(gslb_route_set_address_health(cluster, "127.0.0.2", GSLB_ROUTE_HEALTHY, NULL) == GSLB_ROUTE_OK);

  char dir[] = "/tmp/gslb-follow-c-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ctl.sock", dir);
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(bind(listener, (struct sockaddr*)&sa, sizeof sa) == 0);
  CHECK(listen(listener, 4) == 0);

  gslb_follow_options o;
  memset(&o, 0, sizeof o);
  o.socket_path = sa.sun_path;
  o.min_backoff_ms = 20;
  o.max_backoff_ms = 200;
  o.on_notice = on_notice;
  gslb_follow* f = gslb_follow_start(cluster, &o);
  CHECK(f != NULL);

  /* An older gslbd does not know the command: the follower says so and tries again later. */
  int conn = serve(listener, "1\nunknown command verdicts\n");
  close(conn);

  conn = serve(listener,
               "0\n"
               "{\"v\":1,\"type\":\"state\",\"address\":\"127.0.0.2\",\"probe\":\"gw\",\"state\":\"down\","
               "\"reason\":\"connect refused\",\"time\":\"2026-11-28T04:50:00Z\"}\n"
               "{\"v\":1,\"type\":\"state\",\"address\":\"127.0.0.3\",\"probe\":\"gw\",\"state\":\"unknown\","
               "\"reason\":\"\",\"time\":\"2026-11-28T04:50:00Z\"}\n"
               "{\"v\":1,\"type\":\"synced\"}\n");
  CHECK(wait_health(cluster, GSLB_ROUTE_UNHEALTHY));
  close(conn);  /* gslbd restarts */

  conn = serve(listener,
               "0\n"
               "{\"v\":1,\"type\":\"state\",\"address\":\"127.0.0.2\",\"probe\":\"gw\",\"state\":\"up\","
               "\"reason\":\"HTTP 200\",\"time\":\"2026-11-28T04:51:00Z\"}\n"
               "{\"v\":1,\"type\":\"synced\"}\n");
  CHECK(wait_health(cluster, GSLB_ROUTE_HEALTHY));

  gslb_follow_stats st;
  for (int i = 0; i < 500; ++i) {  /* the synced line may trail the health change */
    gslb_follow_get_stats(f, &st);
    if (st.syncs == 2) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(st.connects == 2);
  CHECK(st.syncs == 2);
  CHECK(st.verdicts == 3);
  CHECK(st.health_changes == 2);
  CHECK(st.synced == 1);
  gslb_follow_stop(f);
  close(conn);
  CHECK(atomic_load(&connected_notices) == 2);
  CHECK(atomic_load(&synced_notices) == 2);
  CHECK(atomic_load(&health_notices) == 2);
  CHECK(atomic_load(&refused_notices) == 1);

  close(listener);
  unlink(sa.sun_path);
  rmdir(dir);
  gslb_route_cluster_free(cluster);
  if (failures) return 1;
  puts("follow C API: ok");
  return 0;
}
