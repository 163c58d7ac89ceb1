// gslb-route-follow's pure half: the v1 stream lines as gslbd writes them (src/daemon/control.cpp,
// Verdicts::line), folded per address, applied to a real cluster. No sockets.
#include <catch2/catch.hpp>
#include <gslb/follow.hpp>

namespace follow = gslb::follow;
namespace route = gslb::route;

namespace {

follow::Verdict verdict(std::string address, follow::State s, std::string probe = "gw") {
  return follow::Verdict{std::move(address), std::move(probe), s, "", ""};
}

std::unique_ptr<route::Cluster> cluster() {
  route::ClusterConfig c;
  c.name = "backend";
  for (auto [addr, port, loc] : {std::tuple{"127.0.0.2", 8001, "r/a"}, std::tuple{"127.0.0.2", 8002, "r/a"},
                                 std::tuple{"127.0.0.3", 8001, "r/b"}}) {
    route::EndpointSpec e;
    e.address = addr;
    e.port = uint16_t(port);
    e.locality = route::Locality::parse(loc);
    c.endpoints.push_back(e);
  }
  auto made = route::Cluster::create(c);
  REQUIRE(made);
  return std::move(made.value());
}

route::Health health_of(route::Cluster& c, const std::string& address, uint16_t port) {
  for (const auto& ep : c.endpoints())
    if (ep->address() == address && ep->port() == port) return ep->health();
  FAIL("no endpoint " << address << ":" << port);
  return route::Health::kHealthy;
}

}  // namespace

TEST_CASE("parse_line reads gslbd's v1 state and synced lines") {
  std::string error;
  auto line = follow::parse_line(
      R"({"v":1,"type":"state","address":"127.0.0.2","probe":"gw","state":"down","reason":"connect refused \"x\"\u00e9","time":"2026-11-28T04:50:00Z"})",
      &error);
  REQUIRE(line);
  CHECK(line->type == follow::Line::Type::kState);
  CHECK(line->verdict.address == "127.0.0.2");
  CHECK(line->verdict.probe == "gw");
  CHECK(line->verdict.state == follow::State::kDown);
  CHECK(line->verdict.reason == "connect refused \"x\"\xc3\xa9");
  CHECK(line->verdict.time == "2026-11-28T04:50:00Z");

  auto synced = follow::parse_line(R"({"v":1,"type":"synced"})");
  REQUIRE(synced);
  CHECK(synced->type == follow::Line::Type::kSynced);

  for (const char* s : {"up", "unknown", "drained"}) {
    auto l = follow::parse_line(std::string(R"({"v":1,"type":"state","address":"::1","state":")") + s + "\"}");
    REQUIRE(l);
    CHECK(follow::to_string(l->verdict.state) == std::string(s));
  }
}

TEST_CASE("parse_line ignores what v1 may add and rejects what it cannot read") {
  // New fields and new line types within v1 are ignored, so gslbd can add them.
  auto extra = follow::parse_line(R"({"v":1,"type":"state","address":"a","state":"up","weight":3,"ok":true})");
  REQUIRE(extra);
  CHECK(extra->verdict.state == follow::State::kUp);
  auto other = follow::parse_line(R"({"v":1,"type":"heartbeat"})");
  REQUIRE(other);
  CHECK(other->type == follow::Line::Type::kOther);

  std::string error;
  CHECK_FALSE(follow::parse_line(R"({"v":2,"type":"synced"})", &error));
  CHECK(error.find("version 2") != std::string::npos);
  CHECK_FALSE(follow::parse_line(R"({"type":"synced"})", &error));
  CHECK_FALSE(follow::parse_line(R"({"v":1,"type":"state","address":"a","state":"sideways"})", &error));
  CHECK_FALSE(follow::parse_line(R"({"v":1,"type":"state","state":"up"})", &error));
  CHECK_FALSE(follow::parse_line("2026-11-28T04:50:00Z event=address-down", &error));
  CHECK_FALSE(follow::parse_line(R"({"v":1,"type":"synced"} trailing)", &error));
  CHECK_FALSE(follow::parse_line(R"({"v":1,"type":"synced")", &error));
  CHECK_FALSE(follow::parse_line(R"({"v":1,"type":{"nested":1}})", &error));
  CHECK_FALSE(follow::parse_line(R"({"v":1,"type":"sync\q"})", &error));
  CHECK_FALSE(follow::parse_line("", &error));
}

TEST_CASE("VerdictTable folds an address's targets: any down or drained makes it unhealthy") {
  follow::VerdictTable t;
  t.begin_snapshot();
  auto c = t.record(verdict("127.0.0.2", follow::State::kUp, "gw"));
  REQUIRE(c);
  CHECK(c->health == route::Health::kHealthy);
  // Same address checked by a second probe (two pools): its failure counts.
  c = t.record(verdict("127.0.0.2", follow::State::kDown, "tcp"));
  REQUIRE(c);
  CHECK(c->health == route::Health::kUnhealthy);
  CHECK_FALSE(t.record(verdict("127.0.0.2", follow::State::kDrained, "gw")));  // still unhealthy
  CHECK_FALSE(t.record(verdict("127.0.0.2", follow::State::kUp, "gw")));
  c = t.record(verdict("127.0.0.2", follow::State::kUp, "tcp"));
  REQUIRE(c);
  CHECK(c->health == route::Health::kHealthy);
}

TEST_CASE("VerdictTable: unknown is no opinion") {
  follow::VerdictTable t;
  // Never decided: nothing to set.
  CHECK_FALSE(t.record(verdict("127.0.0.2", follow::State::kUnknown)));
  CHECK_FALSE(t.health("127.0.0.2"));
  REQUIRE(t.record(verdict("127.0.0.2", follow::State::kDown)));
  // A restarted gslbd says unknown until its first result: the address stays unhealthy.
  t.begin_snapshot();
  CHECK_FALSE(t.record(verdict("127.0.0.2", follow::State::kUnknown)));
  CHECK(t.end_snapshot().empty());
  CHECK(t.health("127.0.0.2") == route::Health::kUnhealthy);
}

TEST_CASE("VerdictTable: a probe filter keeps other probes' verdicts out") {
  follow::VerdictTable t("gw");
  CHECK_FALSE(t.record(verdict("127.0.0.2", follow::State::kDown, "tcp")));
  REQUIRE(t.record(verdict("127.0.0.2", follow::State::kUp, "gw")));
  CHECK(t.health("127.0.0.2") == route::Health::kHealthy);
}

TEST_CASE("VerdictTable: a resync forgets targets gslbd no longer checks") {
  follow::VerdictTable t;
  t.begin_snapshot();
  REQUIRE(t.record(verdict("127.0.0.2", follow::State::kDown)));
  REQUIRE(t.record(verdict("127.0.0.3", follow::State::kDown)));
  REQUIRE(t.record(verdict("127.0.0.4", follow::State::kUp)));
  CHECK(t.end_snapshot().empty());
  // gslbd restarted with 127.0.0.3 and 127.0.0.4 out of its configuration.
  t.begin_snapshot();
  CHECK_FALSE(t.record(verdict("127.0.0.2", follow::State::kDown)));
  auto changes = t.end_snapshot();
  REQUIRE(changes.size() == 1);  // 127.0.0.4 was healthy already
  CHECK(changes[0].address == "127.0.0.3");
  CHECK(changes[0].health == route::Health::kHealthy);
  CHECK_FALSE(t.health("127.0.0.3"));
  CHECK(t.health("127.0.0.2") == route::Health::kUnhealthy);
}

TEST_CASE("apply sets every endpoint with the address, whatever its port") {
  auto c = cluster();
  CHECK(follow::apply(*c, {"127.0.0.2", route::Health::kUnhealthy}) == 2);
  CHECK(health_of(*c, "127.0.0.2", 8001) == route::Health::kUnhealthy);
  CHECK(health_of(*c, "127.0.0.2", 8002) == route::Health::kUnhealthy);
  CHECK(health_of(*c, "127.0.0.3", 8001) == route::Health::kHealthy);
  CHECK(follow::apply(*c, {"127.0.0.9", route::Health::kUnhealthy}) == 0);

  // The client in r/a now goes to r/b: gslbd's verdict moved it, no request failed.
  route::Client client{route::Locality::parse("r/a")};
  for (int i = 0; i < 20; ++i) {
    route::Pick p = c->pick(client);
    REQUIRE(p);
    CHECK(p.endpoint().address() == "127.0.0.3");
    c->report(p, route::Outcome::http(200, std::chrono::milliseconds(1)));
  }
  CHECK(follow::apply(*c, {"127.0.0.2", route::Health::kHealthy}) == 2);
  route::Pick p = c->pick(client);
  REQUIRE(p);
  CHECK(p.endpoint().address() == "127.0.0.2");
}
