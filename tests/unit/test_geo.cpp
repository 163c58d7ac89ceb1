// Source maps: the rule a client gets and the ECS scope around it (RFC 7871 §7.2.1: the widest
// prefix inside which every address gets the same rule), by the worked examples of the issue.
#include <catch2/catch.hpp>

#include "geo/map.hpp"

using namespace gslb;

namespace {

geo::Rule rule(const char* cidr, std::vector<std::string> regions) {
  return geo::Rule{*core::Prefix::parse(cidr), geo::Order{std::move(regions), {}}};
}

core::IpAddress ip(const char* text) { return *core::IpAddress::parse(text); }

geo::Map example() {
  geo::MapConfig cfg;
  cfg.name = "by-source";
  cfg.fallback.regions = {"hz", "sh"};
  cfg.nets = {rule("198.51.100.0/24", {"sh", "hz"}), rule("2001:db8:1::/48", {"sh"}),
              rule("10.0.0.0/8", {"sh", "hz"}), rule("10.1.0.0/16", {"hz", "sh"})};
  return geo::Map(std::move(cfg));
}

}  // namespace

TEST_CASE("the longest prefix decides; equal orders share a class") {
  const geo::Map m = example();
  REQUIRE(m.classes().size() == 3);  // default (hz, sh), (sh, hz), (sh)
  auto a = m.lookup(ip("198.51.100.7"));
  CHECK(a.rule == 0);
  CHECK(m.classes()[a.cls].regions == std::vector<std::string>{"sh", "hz"});
  CHECK(m.lookup(ip("10.9.9.9")).cls == a.cls);  // 10/8 has 198.51.100/24's order
  CHECK(m.lookup(ip("10.1.2.3")).rule == 3);
  CHECK(m.lookup(ip("10.1.2.3")).cls == 0);      // 10.1/16 has the default's order
  CHECK(m.lookup(ip("2001:db8:1:ffff::1")).rule == 1);
  CHECK(m.lookup(ip("192.0.2.1")).rule == geo::Match::kDefault);
  CHECK(m.lookup(ip("192.0.2.1")).cls == 0);
  CHECK(m.rule_text(0) == "198.51.100.0/24");
  CHECK(m.rule_text(geo::Match::kDefault) == "default");
}

TEST_CASE("scope: the rule's length only when nothing more specific lies inside it") {
  const geo::Map m = example();
  CHECK(m.lookup(ip("198.51.100.7")).scope == 24);
  CHECK(m.lookup(ip("198.51.100.7"), 24).scope == 24);
  CHECK(m.lookup(ip("10.1.0.0"), 16).scope == 16);
  // 10.2.3.4 and 10.1/16 share 10.0.0.0/14; bit 14 splits them: scope 15, not 8.
  CHECK(m.lookup(ip("10.2.3.4")).scope == 15);
  CHECK(m.lookup(ip("10.128.0.0")).scope == 9);
  // Nothing matches: the widest prefix no rule touches. 203 = 11001011, 198 = 11000110.
  CHECK(m.lookup(ip("203.0.113.1")).scope == 5);
  CHECK(m.lookup(ip("2001:db9::1")).scope == 32);
  CHECK(m.lookup(ip("3000::1")).scope == 4);  // 0x3 = 0011, 0x2 = 0010: bit 3 splits them
}

TEST_CASE("a source prefix shorter than the rule: the bits past it are zero") {
  const geo::Map m = example();
  // 198.51.0.0/16 walks toward 198.51.0.x: it leaves 198.51.100/24's path at bit 17 (100 =
  // 01100100: bit 17 is 1, the zero-padded address has 0), so scope 18 > source 16 tells
  // the resolver to ask again with more bits.
  const auto a = m.lookup(ip("198.51.0.0"), 16);
  CHECK(a.rule == geo::Match::kDefault);
  CHECK(a.scope == 18);
}

TEST_CASE("IPv4-mapped IPv6 sources are IPv4 clients") {
  const geo::Map m = example();
  const auto a = m.lookup(ip("::ffff:198.51.100.9"));
  CHECK(a.rule == 0);
  CHECK(a.scope == 96 + 24);
}

TEST_CASE("an empty map: everyone gets the default with scope 0") {
  geo::MapConfig cfg;
  cfg.fallback.regions = {"hz"};
  const geo::Map m(std::move(cfg));
  CHECK(m.lookup(ip("192.0.2.1")).scope == 0);
  CHECK(m.lookup(ip("2001:db8::1")).scope == 0);
  CHECK(m.lookup(ip("2001:db8::1")).rule == geo::Match::kDefault);
}

TEST_CASE("a default route is a rule like any other") {
  geo::MapConfig cfg;
  cfg.fallback.regions = {"hz"};
  cfg.nets = {rule("0.0.0.0/0", {"sh"}), rule("192.0.2.0/24", {"hz"})};
  const geo::Map m(std::move(cfg));
  CHECK(m.lookup(ip("198.51.100.1")).rule == 0);
  // 198 = 11000110 and 192 = 11000000 agree on 5 bits; bit 5 splits them: 196.0.0.0/6 holds
  // 198.51.100.1 and no other rule.
  CHECK(m.lookup(ip("198.51.100.1")).scope == 6);
}

TEST_CASE("counters count per rule and the default") {
  const geo::Map m = example();
  m.count(m.lookup(ip("198.51.100.7")));
  m.count(m.lookup(ip("198.51.100.8")));
  m.count(m.lookup(ip("192.0.2.1")));
  CHECK(m.counted(0) == 2);
  CHECK(m.counted(geo::Match::kDefault) == 1);
  CHECK(m.counted(3) == 0);
}
