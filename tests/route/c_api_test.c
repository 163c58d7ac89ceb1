/* Exercises gslb/route.h from C: config errors with positions, picks by locality, ejection on
 * a 5xx, its events, recovery with a caller-driven clock, retries that avoid the failed
 * endpoint, and the rate limiter. Exits non-zero on the first failed check. */
#include <gslb/route.h>

#include "../c_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t now_ns;
static int ejected_events;
static int returned_events;

static uint64_t test_clock(void* user) {
  (void)user;
  return now_ns;
}

static void on_event(void* user, const gslb_route_event* e) {
  (void)user;
  if (e->kind == GSLB_ROUTE_EVENT_EJECTED) {
    ++ejected_events;
    CHECK(strcmp(e->reason, "consecutive_5xx") == 0);
    /* base_ejection_time times the number of ejections: 30 s, then 60 s. */
    CHECK(e->ejection_ms == 30000ULL * (uint64_t)ejected_events);
  }
  if (e->kind == GSLB_ROUTE_EVENT_RETURNED) ++returned_events;
}

static const char* kConfig =
    "[clusters.reviews.outlier_detection]\n"
    "consecutive_5xx = 1\n"
    "max_ejection_percent = 100\n"
    "base_ejection_time = \"30s\"\n"
    "[clusters.reviews.retry]\n"
    "attempts = 2\n"
    "retry_on = [\"5xx\", \"connect-failure\"]\n"
    "[clusters.reviews.rate_limit]\n"
    "max_tokens = 5\n"
    "tokens_per_fill = 5\n"
    "fill_interval = \"1s\"\n"
    "[[clusters.reviews.endpoints]]\n"
    "address = \"10.0.1.1\"\n"
    "port = 9080\n"
    "locality = \"us-east-1/us-east-1a\"\n"
    "[[clusters.reviews.endpoints]]\n"
    "address = \"10.0.2.1\"\n"
    "port = 9080\n"
    "locality = \"us-east-1/us-east-1b\"\n";

static void test_config_errors(void) {
  char errors[1024];
  gslb_route_cluster* c = NULL;
  const char* bad =
      "[clusters.a.outlier_detection]\n"
      "max_ejection_percent = 150\n"
      "consecutive_5xxx = 1\n";
  gslb_route_status s = gslb_route_cluster_from_toml(bad, "bad.toml", "a", NULL, &c, errors, sizeof errors);
  CHECK(s == GSLB_ROUTE_ERR_CONFIG);
  CHECK(c == NULL);
  CHECK(strstr(errors, "bad.toml:2:24: clusters.a.outlier_detection.max_ejection_percent: must be 0..100") != NULL);
  CHECK(strstr(errors, "bad.toml:3:1: clusters.a.outlier_detection.consecutive_5xxx: unknown key") != NULL);
  s = gslb_route_cluster_from_toml(kConfig, "ok.toml", "nope", NULL, &c, errors, sizeof errors);
  CHECK(s == GSLB_ROUTE_ERR_NOT_FOUND);
}

static void test_routing(void) {
  gslb_route_options opt;
  memset(&opt, 0, sizeof opt);
  opt.now_ns = test_clock;
  opt.seed = 7;
  opt.on_event = on_event;
  gslb_route_cluster* c = NULL;
  char errors[512] = "";
  gslb_route_status s = gslb_route_cluster_from_toml(kConfig, "ok.toml", "reviews", &opt, &c, errors, sizeof errors);
  CHECK(s == GSLB_ROUTE_OK);
  if (s != GSLB_ROUTE_OK) {
    fprintf(stderr, "%s", errors);
    exit(1);
  }

  gslb_route_pick* p = NULL;
  CHECK(gslb_route_pick_endpoint(c, "us-east-1/us-east-1a", NULL, &p) == GSLB_ROUTE_OK);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.1.1") == 0);
  CHECK(gslb_route_pick_port(p) == 9080);
  CHECK(strcmp(gslb_route_pick_locality(p), "us-east-1/us-east-1a") == 0);
  CHECK(gslb_route_pick_priority(p) == 0);
  gslb_route_report_http(c, p, 503, 1200);
  gslb_route_pick_free(p);
  CHECK(ejected_events == 1);

  CHECK(gslb_route_pick_endpoint(c, "us-east-1/us-east-1a", NULL, &p) == GSLB_ROUTE_OK);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.2.1") == 0);
  CHECK(gslb_route_pick_priority(p) == 1);
  gslb_route_report_http(c, p, 200, 900);
  gslb_route_pick_free(p);

  /* The rate limiter allows 5 a second: 2 used, 3 left, then refused. */
  int ok = 0, limited = 0;
  for (int i = 0; i < 5; ++i) {
    s = gslb_route_pick_endpoint(c, "us-east-1/us-east-1a", NULL, &p);
    if (s == GSLB_ROUTE_OK) {
      ++ok;
      gslb_route_pick_free(p);
    } else if (s == GSLB_ROUTE_ERR_RATE_LIMITED) {
      ++limited;
    }
  }
  CHECK(ok == 3);
  CHECK(limited == 2);

  /* 30 s later the ejection is over and the bucket refilled: back to the local zone. */
  now_ns += 30ULL * 1000 * 1000 * 1000;
  CHECK(gslb_route_pick_endpoint(c, "us-east-1/us-east-1a", NULL, &p) == GSLB_ROUTE_OK);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.1.1") == 0);
  gslb_route_pick_free(p);
  CHECK(returned_events == 1);

  /* A retry after a connect failure goes to the other endpoint. */
  gslb_route_retry* r = gslb_route_retry_new(c);
  CHECK(gslb_route_retry_pick(r, "us-east-1/us-east-1a", &p) == GSLB_ROUTE_OK);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.1.1") == 0);
  gslb_route_report_failure(c, p, GSLB_ROUTE_CONNECT_FAILED, 100);
  uint64_t backoff = 999999;
  CHECK(gslb_route_retry_should_retry(r, p, &backoff) == 1);
  CHECK(backoff < 25000); /* first retry: [0, 25 ms) */
  gslb_route_pick_free(p);
  CHECK(gslb_route_retry_pick(r, "us-east-1/us-east-1a", &p) == GSLB_ROUTE_OK);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.2.1") == 0);
  gslb_route_report_http(c, p, 200, 100);
  CHECK(gslb_route_retry_should_retry(r, p, &backoff) == 0);
  gslb_route_pick_free(p);
  gslb_route_retry_free(r);

  CHECK(gslb_route_set_health(c, "10.0.2.1", 9080, 0) == GSLB_ROUTE_OK);
  CHECK(gslb_route_set_health(c, "10.9.9.9", 9080, 0) == GSLB_ROUTE_ERR_NOT_FOUND);

  gslb_route_stats st;
  gslb_route_get_stats(c, &st);
  CHECK(st.ejections_total == 2);
  CHECK(st.rate_limited == 2);
  CHECK(strcmp(gslb_route_status_string(GSLB_ROUTE_ERR_CIRCUIT_OPEN), "circuit open") == 0);
  gslb_route_cluster_free(c);
}

/* Everything the C++ API reaches: labels for failover_priority, membership updates, degraded
 * endpoints, the per-priority view, connection/pending accounting, routing priorities. */
static const char* kLabelled =
    "[clusters.api.locality]\n"
    "failover_priority = [\"network\"]\n"
    "[clusters.api.load_balancer]\n"
    "panic_threshold = 50\n"
    "[clusters.api.circuit_breaker]\n"
    "max_connections = 1\n"
    "max_pending_requests = 1\n"
    "max_requests_per_connection = 2\n"
    "[clusters.api.circuit_breaker.high]\n"
    "max_connections = 2\n"
    "[clusters.api.rate_limit]\n"
    "max_tokens = 1000\n"
    "[[clusters.api.rate_limit.descriptors]]\n"
    "entries = [{ key = \"user\", value = \"bob\" }]\n"
    "max_tokens = 1\n"
    "[[clusters.api.endpoints]]\n"
    "address = \"10.0.0.1\"\n"
    "port = 80\n"
    "labels = { network = \"n1\" }\n"
    "[[clusters.api.endpoints]]\n"
    "address = \"10.0.0.2\"\n"
    "port = 80\n"
    "labels = { network = \"n2\" }\n";

static void test_full_api(void) {
  gslb_route_cluster* c = NULL;
  char errors[512] = "";
  gslb_route_status s = gslb_route_cluster_from_toml(kLabelled, "api.toml", "api", NULL, &c, errors, sizeof errors);
  CHECK(s == GSLB_ROUTE_OK);
  if (s != GSLB_ROUTE_OK) {
    fprintf(stderr, "%s", errors);
    exit(1);
  }

  /* failover_priority by the client's labels: network n2 puts 10.0.0.2 first. */
  gslb_route_label n2 = {"network", "n2"};
  gslb_route_client client = {"r/z", &n2, 1};
  gslb_route_pick* p = NULL;
  CHECK(gslb_route_pick_for(c, &client, NULL, &p) == GSLB_ROUTE_OK);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.0.2") == 0);
  CHECK(gslb_route_pick_panic(p) == 0);
  gslb_route_report_http(c, p, 200, 10);
  gslb_route_pick_free(p);
  gslb_route_priority_info prio[4];
  CHECK(gslb_route_priorities(c, &client, prio, 4) == 2);
  CHECK(prio[0].load_percent == 100);
  CHECK(prio[0].total == 1);

  /* Degraded: 10.0.0.2 only degraded, 10.0.0.1 healthy: all healthy load moves to priority 1. */
  CHECK(gslb_route_set_health_state(c, "10.0.0.2", 80, GSLB_ROUTE_DEGRADED) == GSLB_ROUTE_OK);
  CHECK(gslb_route_priorities(c, &client, prio, 4) == 2);
  CHECK(prio[0].degraded == 1);
  CHECK(prio[0].load_percent == 0);
  CHECK(prio[1].load_percent == 100);
  gslb_route_endpoint_info info;
  CHECK(gslb_route_endpoint_state(c, "10.0.0.2", 80, &info) == GSLB_ROUTE_OK);
  CHECK(info.health == GSLB_ROUTE_DEGRADED);
  CHECK(info.ejected == 0);
  CHECK(gslb_route_endpoint_state(c, "10.9.9.9", 80, &info) == GSLB_ROUTE_ERR_NOT_FOUND);

  /* Membership: a third endpoint in n2, and 10.0.0.2 healthy again, give priority 0 back all the
   * traffic; a bad update changes nothing. */
  gslb_route_label l1 = {"network", "n1"};
  gslb_route_endpoint eps[3] = {
      {"10.0.0.1", 80, 1, "r/z", &l1, 1, GSLB_ROUTE_HEALTHY},
      {"10.0.0.2", 80, 1, "r/z", &n2, 1, GSLB_ROUTE_HEALTHY},
      {"10.0.0.3", 80, 2, "r/z", &n2, 1, GSLB_ROUTE_HEALTHY},
  };
  CHECK(gslb_route_update(c, eps, 3, errors, sizeof errors) == GSLB_ROUTE_OK);
  CHECK(gslb_route_priorities(c, &client, prio, 4) == 2);
  CHECK(prio[0].total == 2);
  CHECK(prio[0].healthy == 2);
  CHECK(prio[0].load_percent == 100);
  CHECK(gslb_route_pick_for(c, &client, NULL, &p) == GSLB_ROUTE_OK);
  CHECK(gslb_route_pick_priority(p) == 0);
  CHECK(strcmp(gslb_route_pick_address(p), "10.0.0.1") != 0);
  gslb_route_pick_free(p);
  eps[2].port = 0;
  CHECK(gslb_route_update(c, eps, 3, errors, sizeof errors) == GSLB_ROUTE_ERR_CONFIG);
  CHECK(strstr(errors, "endpoints[2].port: must be 1..65535") != NULL);
  CHECK(gslb_route_priorities(c, &client, prio, 0) == 2);

  /* Connections and pending requests: one each at DEFAULT, two connections at HIGH. */
  gslb_route_admission* conn = NULL;
  gslb_route_admission* conn2 = NULL;
  gslb_route_admission* pending = NULL;
  CHECK(gslb_route_admit(c, GSLB_ROUTE_RESOURCE_CONNECTION, GSLB_ROUTE_PRIORITY_DEFAULT, &conn) == GSLB_ROUTE_OK);
  CHECK(gslb_route_admit(c, GSLB_ROUTE_RESOURCE_CONNECTION, GSLB_ROUTE_PRIORITY_DEFAULT, &conn2) ==
        GSLB_ROUTE_ERR_CIRCUIT_OPEN);
  CHECK(conn2 == NULL);
  CHECK(gslb_route_overflow(c, GSLB_ROUTE_RESOURCE_CONNECTION, GSLB_ROUTE_PRIORITY_DEFAULT) == 1);
  CHECK(gslb_route_admit(c, GSLB_ROUTE_RESOURCE_CONNECTION, GSLB_ROUTE_PRIORITY_HIGH, &conn2) == GSLB_ROUTE_OK);
  CHECK(gslb_route_active(c, GSLB_ROUTE_RESOURCE_CONNECTION, GSLB_ROUTE_PRIORITY_HIGH) == 1);
  CHECK(gslb_route_admit(c, GSLB_ROUTE_RESOURCE_PENDING_REQUEST, GSLB_ROUTE_PRIORITY_DEFAULT, &pending) ==
        GSLB_ROUTE_OK);
  gslb_route_admission* pending2 = NULL;
  CHECK(gslb_route_admit(c, GSLB_ROUTE_RESOURCE_PENDING_REQUEST, GSLB_ROUTE_PRIORITY_DEFAULT, &pending2) ==
        GSLB_ROUTE_ERR_CIRCUIT_OPEN);
  gslb_route_admission_release(pending);
  CHECK(gslb_route_admit(c, GSLB_ROUTE_RESOURCE_PENDING_REQUEST, GSLB_ROUTE_PRIORITY_DEFAULT, &pending2) ==
        GSLB_ROUTE_OK);
  gslb_route_admission_release(pending2);
  gslb_route_admission_release(conn);
  gslb_route_admission_release(conn2);
  CHECK(gslb_route_active(c, GSLB_ROUTE_RESOURCE_CONNECTION, GSLB_ROUTE_PRIORITY_DEFAULT) == 0);
  CHECK(gslb_route_admit(c, (gslb_route_resource)9, GSLB_ROUTE_PRIORITY_DEFAULT, &conn) ==
        GSLB_ROUTE_ERR_INVALID_ARGUMENT);
  /* max_requests_per_connection = 2: the second request is the connection's last. */
  CHECK(gslb_route_connection_exhausted(c, 1) == 0);
  CHECK(gslb_route_connection_exhausted(c, 2) == 1);

  /* A descriptor with its own bucket of one token. */
  gslb_route_label bob = {"user", "bob"};
  gslb_route_descriptor desc = {&bob, 1};
  gslb_route_pick_options po;
  memset(&po, 0, sizeof po);
  po.descriptors = &desc;
  po.descriptor_count = 1;
  CHECK(gslb_route_pick_for(c, &client, &po, &p) == GSLB_ROUTE_OK);
  gslb_route_pick_free(p);
  CHECK(gslb_route_pick_for(c, &client, &po, &p) == GSLB_ROUTE_ERR_RATE_LIMITED);
  CHECK(gslb_route_pick_for(c, &client, NULL, &p) == GSLB_ROUTE_OK);
  gslb_route_pick_free(p);

  /* A HIGH retry handle passes its priority and the client's labels on. */
  gslb_route_retry* r = gslb_route_retry_new_for(c, GSLB_ROUTE_PRIORITY_HIGH);
  CHECK(gslb_route_retry_pick_for(r, &client, &p) == GSLB_ROUTE_OK);
  CHECK(gslb_route_pick_priority(p) == 0);
  gslb_route_pick_free(p);
  gslb_route_retry_free(r);
  gslb_route_cluster_free(c);
}

int main(void) {
  test_config_errors();
  test_routing();
  test_full_api();
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c api: all checks passed\n");
  return 0;
}
