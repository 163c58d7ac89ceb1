// Health state machine and the pool engine, with a manual clock: no sockets, no sleeps.
#include <catch2/catch.hpp>

#include <map>

#include "dns/wire.hpp"
#include "health/health.hpp"
#include "pool/engine.hpp"

using namespace gslb;
using namespace std::chrono_literals;
using health::State;

namespace {
health::MonoTime t0{};
core::IpAddress ip(const char* s) { return *core::IpAddress::parse(s); }
}  // namespace

TEST_CASE("the first result decides an unknown target; then rise/fall consecutive results") {
  health::Target t({2, 3});
  CHECK(t.state() == State::unknown);
  CHECK(t.usable(true));
  CHECK_FALSE(t.usable(false));
  auto c = t.record(true, "HTTP 200", 3ms, t0);
  REQUIRE(c);
  CHECK(c->to == State::up);
  CHECK_FALSE(t.record(false, "HTTP 503", 1ms, t0 + 1s));
  CHECK(t.pending());
  CHECK_FALSE(t.record(false, "HTTP 503", 1ms, t0 + 2s));
  c = t.record(false, "timeout after 500ms", 500ms, t0 + 3s);  // fall = 3
  REQUIRE(c);
  CHECK(c->from == State::up);
  CHECK(c->to == State::down);
  CHECK(t.since() == t0 + 3s);
  CHECK(t.reason() == "timeout after 500ms");
  CHECK_FALSE(t.pending());
  CHECK_FALSE(t.record(true, "HTTP 200", 1ms, t0 + 4s));
  CHECK(t.pending());
  CHECK(t.record(true, "HTTP 200", 1ms, t0 + 5s));  // rise = 2
  CHECK(t.state() == State::up);
}

TEST_CASE("a pass in between resets the failure count") {
  health::Target t({2, 2});
  t.record(true, "", {}, t0);
  CHECK_FALSE(t.record(false, "", {}, t0));
  CHECK_FALSE(t.record(true, "", {}, t0));
  CHECK_FALSE(t.record(false, "", {}, t0));
  CHECK(t.record(false, "", {}, t0));
}

TEST_CASE("drain overrides health") {
  health::Target t;
  t.record(true, "", {}, t0);
  t.set_drained(true);
  CHECK_FALSE(t.usable(true));
  t.set_drained(false);
  CHECK(t.usable(true));
}

namespace {

// Two regions: hangzhou (2 addresses, min 1) and shanghai (1 address).
pool::Config two_regions(pool::Mode mode = pool::Mode::failover) {
  pool::Config c;
  c.pools.push_back({"hangzhou", "cn-hangzhou", "http", {{ip("192.0.2.10"), 1}, {ip("192.0.2.11"), 1}}, 1});
  c.pools.push_back({"shanghai", "cn-shanghai", "http", {{ip("198.51.100.10"), 1}, {ip("2001:db8::10"), 1}}, 1});
  pool::Name n;
  n.fqdn = "www.example.test.";
  n.mode = mode;
  n.pools = {{0, 90}, {1, 10}};
  c.names.push_back(n);
  return c;
}

std::vector<std::string> addresses(const pool::Engine& e, uint16_t qtype = 1) {
  const dns::DynamicAnswer* a = e.answer(dns::name_from_text("www.example.test."), qtype);
  REQUIRE(a);
  std::vector<std::string> out;
  if (a->kind != dns::DynamicAnswer::Kind::addresses) return out;
  for (auto& ip : a->alternatives.front().addresses) out.push_back(ip.to_string());
  std::sort(out.begin(), out.end());
  return out;
}

size_t id_of(const pool::Engine& e, const char* addr) {
  for (size_t i = 0; i < e.targets().size(); ++i)
    if (e.targets()[i].ip == ip(addr)) return i;
  FAIL("no target " << addr);
  return 0;
}

}  // namespace

TEST_CASE("failover: first pool with min_healthy; fails over and back, with events") {
  pool::Engine e(two_regions(), {{"http", {2, 2}}}, true);
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
  std::vector<pool::Event> ev;
  for (auto a : {"192.0.2.10", "192.0.2.11", "198.51.100.10", "2001:db8::10"})
    e.record(id_of(e, a), true, "HTTP 200", 1ms, t0, ev);
  ev.clear();
  // One hangzhou address dies: it leaves the answer, the name stays.
  e.record(id_of(e, "192.0.2.10"), false, "connect refused", 0ms, t0, ev);
  CHECK(ev.empty());
  CHECK(e.record(id_of(e, "192.0.2.10"), false, "connect refused", 0ms, t0, ev));
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.11"});
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].text() == "event=address-down pool=hangzhou address=192.0.2.10 probe=http "
                      "reason=\"connect refused\" fails=2/2");
  CHECK(ev[0].level == core::Level::warning);
  // The second dies: the name fails over to shanghai.
  ev.clear();
  e.record(id_of(e, "192.0.2.11"), false, "HTTP 503", 1ms, t0, ev);
  e.record(id_of(e, "192.0.2.11"), false, "HTTP 503", 1ms, t0, ev);
  CHECK(addresses(e) == std::vector<std::string>{"198.51.100.10"});
  CHECK(addresses(e, 28) == std::vector<std::string>{"2001:db8::10"});
  REQUIRE(ev.size() == 3);
  CHECK(ev[1].text() == "event=pool-down pool=hangzhou region=cn-hangzhou healthy=0/2 min=1");
  CHECK(ev[2].text() == "event=failover name=www.example.test. from=hangzhou to=shanghai "
                      "reason=\"pool hangzhou has 0/2 healthy (min 1)\"");
  // One comes back after rise: failback.
  ev.clear();
  e.record(id_of(e, "192.0.2.11"), true, "HTTP 200", 1ms, t0, ev);
  e.record(id_of(e, "192.0.2.11"), true, "HTTP 200", 1ms, t0, ev);
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.11"});
  REQUIRE(ev.size() == 3);
  CHECK(ev[2].text() == "event=failback name=www.example.test. from=shanghai to=hangzhou "
                      "reason=\"pool hangzhou has 1/2 healthy (min 1)\"");
  CHECK(ev[2].level == core::Level::notice);
}

TEST_CASE("min_healthy: a pool below it counts as down") {
  auto cfg = two_regions();
  cfg.pools[0].min_healthy = 2;
  pool::Engine e(cfg, {{"http", {1, 1}}}, true);
  std::vector<pool::Event> ev;
  e.record(id_of(e, "192.0.2.10"), false, "HTTP 500", 1ms, t0, ev);
  CHECK(addresses(e) == std::vector<std::string>{"198.51.100.10"});
}

TEST_CASE("all down: fail_open answers the first pool, empty is NODATA, servfail") {
  auto cfg = two_regions();
  for (auto mode : {pool::AllDown::fail_open, pool::AllDown::empty, pool::AllDown::servfail}) {
    cfg.names[0].all_down = mode;
    pool::Engine e(cfg, {{"http", {1, 1}}}, true);
    std::vector<pool::Event> ev;
    for (size_t i = 0; i < e.targets().size(); ++i) e.record(i, false, "timeout after 500ms", 500ms, t0, ev);
    const auto* a = e.answer(dns::name_from_text("www.example.test."), 1);
    REQUIRE(a);
    if (mode == pool::AllDown::fail_open) {
      CHECK(addresses(e) == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
    } else if (mode == pool::AllDown::empty) {
      CHECK(a->kind == dns::DynamicAnswer::Kind::nodata);
    } else {
      CHECK(a->kind == dns::DynamicAnswer::Kind::servfail);
    }
    CHECK(ev.back().text().rfind("event=all-down name=www.example.test.", 0) == 0);
  }
}

TEST_CASE("unknown counts as down when configured so") {
  pool::Engine e(two_regions(), {{"http", {2, 2}}}, false);
  const auto* a = e.answer(dns::name_from_text("www.example.test."), 1);
  CHECK(a->kind == dns::DynamicAnswer::Kind::addresses);  // fail_open: the first pool
  std::vector<pool::Event> ev;
  e.record(id_of(e, "198.51.100.10"), true, "HTTP 200", 1ms, t0, ev);
  CHECK(addresses(e) == std::vector<std::string>{"198.51.100.10"});
}

TEST_CASE("weighted: both pools answer, 90/10 by weight; one pool down leaves the other") {
  pool::Engine e(two_regions(pool::Mode::weighted), {{"http", {1, 1}}}, true);
  const auto* a = e.answer(dns::name_from_text("www.example.test."), 1);
  REQUIRE(a->pick == dns::DynamicAnswer::Pick::weighted);
  uint64_t hz = 0, sh = 0;
  for (auto& alt : a->alternatives) (alt.addresses.front().bytes[0] == 192 ? hz : sh) += alt.weight;
  CHECK(double(hz) / double(hz + sh) == Approx(0.9).margin(0.001));
  std::vector<pool::Event> ev;
  e.record(id_of(e, "198.51.100.10"), false, "HTTP 503", 1ms, t0, ev);
  e.record(id_of(e, "2001:db8::10"), false, "HTTP 503", 1ms, t0, ev);
  CHECK(e.active(0) == std::vector<size_t>{0});
}

TEST_CASE("return = one picks by address weight; return = 2 gives two addresses") {
  auto cfg = two_regions();
  cfg.pools[0].addresses.push_back({ip("192.0.2.12"), 2});
  cfg.names[0].ret = pool::Return::one;
  pool::Engine one(cfg, {{"http", {1, 1}}}, true);
  const auto* a = one.answer(dns::name_from_text("www.example.test."), 1);
  REQUIRE(a->alternatives.size() == 3);
  CHECK(a->alternatives[2].weight == 2 * a->alternatives[0].weight);
  for (auto& alt : a->alternatives) CHECK(alt.addresses.size() == 1);
  cfg.names[0].ret = pool::Return::some;
  cfg.names[0].count = 2;
  pool::Engine two(cfg, {{"http", {1, 1}}}, true);
  for (auto& alt : two.answer(dns::name_from_text("www.example.test."), 1)->alternatives)
    CHECK(alt.addresses.size() == 2);
}

TEST_CASE("drain takes an address out and brings it back") {
  pool::Engine e(two_regions(), {{"http", {1, 1}}}, true);
  std::vector<pool::Event> ev;
  CHECK(e.set_drained(ip("192.0.2.10"), true, ev) == 1);
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.11"});
  CHECK(ev.front().text() == "event=drain address=192.0.2.10 probe=http");
  e.set_drained(ip("192.0.2.10"), false, ev);
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
}

TEST_CASE("reload keeps the health of unchanged targets") {
  pool::Engine old(two_regions(), {{"http", {2, 2}}}, true);
  std::vector<pool::Event> ev;
  old.record(id_of(old, "192.0.2.10"), false, "connect refused", 0ms, t0, ev);
  pool::Engine next(two_regions(), {{"http", {2, 2}}}, true);
  next.adopt_health(old);
  CHECK(next.target(id_of(next, "192.0.2.10")).state() == State::down);
  // New thresholds do not forget a verdict: a dead address must not come back on a reload.
  pool::Engine changed(two_regions(), {{"http", {3, 3}}}, true);
  changed.adopt_health(old);
  CHECK(changed.target(id_of(changed, "192.0.2.10")).state() == State::down);
  CHECK(changed.target(id_of(changed, "192.0.2.10")).thresholds().fall == 3);
}

TEST_CASE("return = k draws by weight without replacement, whatever the list order") {
  auto cfg = two_regions();
  cfg.pools[0].addresses = {{ip("192.0.2.2"), 3}, {ip("192.0.2.4"), 1}, {ip("192.0.2.5"), 1}};
  cfg.names[0].ret = pool::Return::some;
  cfg.names[0].count = 2;
  pool::Engine e(cfg, {{"http", {1, 1}}}, true);
  const auto* a = e.answer(dns::name_from_text("www.example.test."), 1);
  REQUIRE(a->alternatives.size() == 6);  // ordered pairs of 3
  std::map<uint8_t, double> seen, lead;
  double total = 0;
  for (const auto& alt : a->alternatives) {
    total += alt.weight;
    lead[alt.addresses[0].bytes[3]] += alt.weight;
    for (const auto& ip : alt.addresses) seen[ip.bytes[3]] += alt.weight;
  }
  // Leads: 3/5, 1/5, 1/5. Present at all: .2 in 1 - (1/5*1/4 + 1/5*1/4)... = 0.9, others 0.55.
  CHECK(lead[2] / total == Approx(0.6).margin(0.01));
  CHECK(lead[4] / total == Approx(0.2).margin(0.01));
  CHECK(seen[2] / total == Approx(0.9).margin(0.01));
  CHECK(seen[4] / total == Approx(0.55).margin(0.01));
  CHECK(seen[5] / total == Approx(0.55).margin(0.01));
}

TEST_CASE("a verdict changes only the names that use its pools") {
  // Three names: www and api fail over hangzhou -> shanghai; static-ish uses only beijing.
  pool::Config c = two_regions();
  c.pools.push_back({"beijing", "cn-beijing", "http", {{ip("203.0.113.10"), 1}}, 1});
  pool::Name api = c.names[0];
  api.fqdn = "api.example.test.";
  c.names.push_back(api);
  pool::Name bj;
  bj.fqdn = "bj.example.test.";
  bj.pools = {{2, 1}};
  c.names.push_back(bj);
  pool::Engine e(c, {{"http", {1, 1}}}, true);
  auto first = e.take_changes();
  CHECK(first.all);  // construction: everything is new
  CHECK(e.take_changes().names.empty());
  std::vector<pool::Event> ev;
  auto t0 = health::MonoTime{};
  e.record(id_of(e, "192.0.2.10"), true, "", {}, t0, ev);  // first result, already counted up
  e.take_changes();
  ev.clear();
  CHECK(e.record(id_of(e, "192.0.2.10"), false, "HTTP 503", {}, t0, ev));
  auto ch = e.take_changes();
  CHECK_FALSE(ch.all);
  std::vector<std::string> names(ch.names.begin(), ch.names.end());
  CHECK(names == std::vector<std::string>{dns::name_from_text("www.example.test."),
                                          dns::name_from_text("api.example.test.")});
  // Beijing's only address dies: bj alone changes, and goes all-down.
  ev.clear();
  CHECK(e.record(id_of(e, "203.0.113.10"), false, "timeout", {}, t0, ev));
  ch = e.take_changes();
  names.assign(ch.names.begin(), ch.names.end());
  CHECK(names == std::vector<std::string>{dns::name_from_text("bj.example.test.")});
  bool all_down = false;
  for (const auto& x : ev) all_down = all_down || x.text().starts_with("event=all-down name=bj.example.test.");
  CHECK(all_down);
  // Nothing new: nothing to take.
  CHECK(e.take_changes().names.empty());
}

TEST_CASE("event lines are logfmt: values quoted and escaped only when they must be") {
  pool::Event e(core::Level::notice, "pool-up",
                {{"pool", "hangzhou"}, {"region", "US East (N. Virginia)"}, {"empty", ""},
                 {"odd", "a\"b=c\\d\ne\x01"}, {"reason", "timeout", true}});
  CHECK(e.text() == "event=pool-up pool=hangzhou region=\"US East (N. Virginia)\" empty=\"\" "
                    "odd=\"a\\\"b=c\\\\d\\ne\\u0001\" reason=\"timeout\"");
  REQUIRE(e.field("region"));
  CHECK(*e.field("region") == "US East (N. Virginia)");
  CHECK_FALSE(e.field("nothing"));
}

namespace {

// A map: 203.0.113/24 prefers shanghai; 198.51.100/24 splits 20/80 in weighted mode.
geo::MapPtr region_map() {
  geo::MapConfig m;
  m.name = "by-source";
  m.fallback.regions = {"cn-hangzhou", "cn-shanghai"};
  m.nets = {{*core::Prefix::parse("203.0.113.0/24"), {{"cn-shanghai", "cn-hangzhou"}, {}}},
            {*core::Prefix::parse("198.51.100.0/24"), {{}, {{"cn-hangzhou", 20}, {"cn-shanghai", 80}}}}};
  return std::make_shared<const geo::Map>(std::move(m));
}

// The first alternative's addresses for the class of `client`.
std::vector<std::string> class_addresses(const pool::Engine& e, const char* client) {
  const dns::DynamicAnswer* a = e.answer(dns::name_from_text("www.example.test."), 1);
  REQUIRE(a);
  REQUIRE(a->map);
  const auto& cls = a->classes.at(a->map->lookup(ip(client)).cls);
  std::vector<std::string> out;
  if (cls.kind == dns::DynamicAnswer::Kind::addresses)
    for (auto& addr : cls.alternatives.front().addresses) out.push_back(addr.to_string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("a mapped failover name: each class's order, health deciding within it") {
  pool::Config c = two_regions();
  c.names[0].map = region_map();
  pool::Engine e(c, {{"http", {1, 1}}}, true);
  CHECK(class_addresses(e, "192.0.2.1") == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
  CHECK(class_addresses(e, "203.0.113.9") == std::vector<std::string>{"198.51.100.10"});
  std::vector<pool::Event> ev;
  // Shanghai dies: its clients fail over to hangzhou; the default's never changed.
  e.record(id_of(e, "198.51.100.10"), false, "connect refused", 0ms, t0, ev);
  e.record(id_of(e, "2001:db8::10"), false, "connect refused", 0ms, t0, ev);
  CHECK(class_addresses(e, "203.0.113.9") == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
  CHECK(class_addresses(e, "192.0.2.1") == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
  // Events follow the name's own order: hangzhou is still up, so no failover event.
  for (const auto& x : ev) CHECK(x.kind != "failover");
}

TEST_CASE("ordered_for: listed regions first, unlisted follow in config order; weights per source") {
  pool::Config c = two_regions();
  const geo::Order sh_only{{"cn-shanghai"}, {}};
  const pool::Name f = pool::ordered_for(c, c.names[0], sh_only);
  REQUIRE(f.pools.size() == 2);
  CHECK(f.pools[0].pool == 1);
  CHECK(f.pools[1].pool == 0);
  c.names[0].mode = pool::Mode::weighted;
  const geo::Order split{{}, {{"cn-hangzhou", 20}, {"cn-shanghai", 80}}};
  const pool::Name w = pool::ordered_for(c, c.names[0], split);
  REQUIRE(w.pools.size() == 2);
  CHECK(w.pools[0].weight == 20);
  CHECK(w.pools[1].weight == 80);
  const geo::Order hz_only{{}, {{"cn-hangzhou", 5}}};
  const pool::Name h = pool::ordered_for(c, c.names[0], hz_only);
  REQUIRE(h.pools.size() == 1);
  CHECK(h.pools[0].pool == 0);
  const geo::Order nowhere{{}, {{"eu-west", 5}}};
  CHECK(pool::ordered_for(c, c.names[0], nowhere).pools.size() == 2);  // as configured
}

TEST_CASE("a mapped weighted name: a rule's weights split that source's answers") {
  pool::Config c = two_regions(pool::Mode::weighted);
  c.names[0].ret = pool::Return::one;
  c.names[0].map = region_map();
  pool::Engine e(c, {{"http", {1, 1}}}, true);
  const dns::DynamicAnswer* a = e.answer(dns::name_from_text("www.example.test."), 1);
  REQUIRE(a);
  const auto& cls = a->classes.at(a->map->lookup(ip("198.51.100.7")).cls);
  uint64_t hz = 0, sh = 0;
  for (const auto& alt : cls.alternatives)
    (alt.addresses.front().to_string().rfind("192.0.2.", 0) == 0 ? hz : sh) += alt.weight;
  CHECK(hz * 4 == sh);  // 20/80
  const auto& def = a->classes.at(0);
  hz = sh = 0;
  for (const auto& alt : def.alternatives)
    (alt.addresses.front().to_string().rfind("192.0.2.", 0) == 0 ? hz : sh) += alt.weight;
  CHECK(hz == 9 * sh);  // the name's own 90/10
}

TEST_CASE("clustered: this node's result is a vote; the shared verdict moves the answers") {
  pool::Engine e(two_regions(), {{"http", {1, 1}}}, true);
  e.set_clustered(true);
  std::vector<pool::Event> ev;
  const size_t t10 = id_of(e, "192.0.2.10"), t11 = id_of(e, "192.0.2.11");
  // This node sees .10 fail: a vote, not a verdict.
  CHECK_FALSE(e.record(t10, false, "connect refused", 0ms, t0, ev));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].text() == "event=vote address=192.0.2.10 probe=http vote=down "
                      "reason=\"connect refused\" first-check=yes");
  CHECK(e.target(t10).state() == State::down);
  CHECK(e.usable(t10));
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
  // The others see it up: still answered.
  ev.clear();
  CHECK_FALSE(e.set_shared(t10, false, "1/3", ev));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].text() == "event=address-up pool=hangzhou address=192.0.2.10 probe=http "
                      "reason=\"connect refused\" votes=1/3");
  CHECK_FALSE(e.set_shared(t10, false, "1/3", ev));  // no change, no event
  CHECK(ev.size() == 1);
  // A majority sees it down: it leaves the answers, with the votes in the event.
  ev.clear();
  CHECK(e.set_shared(t10, true, "2/3", ev));
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.11"});
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].text() == "event=address-down pool=hangzhou address=192.0.2.10 probe=http "
                      "reason=\"connect refused\" votes=2/3");
  // The second hangzhou address down everywhere: failover, as without a cluster.
  ev.clear();
  CHECK(e.set_shared(t11, true, "3/3", ev));
  CHECK(addresses(e) == std::vector<std::string>{"198.51.100.10"});
  REQUIRE(ev.size() == 3);
  CHECK(ev[2].kind == "failover");
  // A drain still wins over a shared "up".
  ev.clear();
  e.set_shared(t10, false, "0/3", ev);
  CHECK(addresses(e) == std::vector<std::string>{"192.0.2.10"});
  e.set_drained(ip("192.0.2.10"), true, ev);
  CHECK_FALSE(e.usable(t10));
  // Leaving cluster mode: this node's own health decides again (.10 is down here).
  e.set_drained(ip("192.0.2.10"), false, ev);
  e.set_clustered(false);
  CHECK_FALSE(e.usable(t10));
}

TEST_CASE("clustered: shared verdicts carry over a reload") {
  pool::Engine a(two_regions(), {{"http", {1, 1}}}, true);
  a.set_clustered(true);
  std::vector<pool::Event> ev;
  a.set_shared(id_of(a, "192.0.2.10"), true, "2/2", ev);
  pool::Engine b(two_regions(), {{"http", {1, 1}}}, true);
  b.adopt_health(a);
  CHECK(b.clustered());
  CHECK(b.shared(id_of(b, "192.0.2.10")) == std::optional<bool>(true));
  CHECK(addresses(b) == std::vector<std::string>{"192.0.2.11"});
}
