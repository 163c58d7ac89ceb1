// gslb/follow.h over the C++ Follower: the sink is gslb_route_set_address_health, so this needs
// nothing of the route C API's insides.
#include <gslb/follow.h>
#include <gslb/follow.hpp>

namespace follow = gslb::follow;

struct gslb_follow {
  std::unique_ptr<follow::Follower> follower;
};

namespace {

static_assert(int(follow::Notice::Kind::kConnected) == GSLB_FOLLOW_CONNECTED &&
              int(follow::Notice::Kind::kSynced) == GSLB_FOLLOW_SYNCED &&
              int(follow::Notice::Kind::kDisconnected) == GSLB_FOLLOW_DISCONNECTED &&
              int(follow::Notice::Kind::kHealth) == GSLB_FOLLOW_HEALTH &&
              int(follow::Notice::Kind::kBadLine) == GSLB_FOLLOW_BAD_LINE);

gslb_route_health c_health(gslb::route::Health h) {
  switch (h) {
    case gslb::route::Health::kHealthy: return GSLB_ROUTE_HEALTHY;
    case gslb::route::Health::kUnhealthy: return GSLB_ROUTE_UNHEALTHY;
    case gslb::route::Health::kDegraded: return GSLB_ROUTE_DEGRADED;
  }
  return GSLB_ROUTE_HEALTHY;
}

}  // namespace

extern "C" {

gslb_follow* gslb_follow_start(gslb_route_cluster* cluster, const gslb_follow_options* options) {
  if (cluster == nullptr) return nullptr;
  try {
    follow::FollowOptions fo;
    gslb_follow_options o{};
    if (options) o = *options;
    if (o.socket_path) fo.socket_path = o.socket_path;
    if (o.probe) fo.probe = o.probe;
    if (o.min_backoff_ms) fo.min_backoff = std::chrono::milliseconds(o.min_backoff_ms);
    if (o.max_backoff_ms) fo.max_backoff = std::chrono::milliseconds(o.max_backoff_ms);
    if (fo.max_backoff < fo.min_backoff) return nullptr;
    if (o.on_notice) {
      fo.on_notice = [fn = o.on_notice, user = o.user](const follow::Notice& n) {
        const gslb_follow_notice c{static_cast<gslb_follow_notice_kind>(n.kind), n.text.c_str(),
                                   n.address.c_str(), c_health(n.health), n.endpoints};
        fn(&c, user);
      };
    }
    auto sink = [cluster](const follow::HealthChange& c) {
      size_t n = 0;
      gslb_route_set_address_health(cluster, c.address.c_str(), c_health(c.health), &n);
      return n;
    };
    return new gslb_follow{std::make_unique<follow::Follower>(sink, std::move(fo))};
  } catch (...) {
    return nullptr;
  }
}

void gslb_follow_stop(gslb_follow* f) { delete f; }

void gslb_follow_get_stats(const gslb_follow* f, gslb_follow_stats* out) {
  if (f == nullptr || out == nullptr) return;
  const follow::FollowStats s = f->follower->stats();
  *out = gslb_follow_stats{s.connects, s.syncs, s.verdicts, s.bad_lines, s.health_changes, s.synced ? 1 : 0};
}

}  // extern "C"
