// Dynamic names: the static table marks the slots, the overlay fills them per health.
#include <catch2/catch.hpp>

#include <map>

#include "dns_test_util.hpp"
#include "dns/overlay.hpp"

#include <fmt/format.h>

using namespace gslb;
using test::ask;
using test::section;

namespace {

const char* kZone = R"($ORIGIN example.test.
$TTL 3600
@     IN SOA ns1 hostmaster 1 3600 600 86400 300
      IN NS  ns1
ns1   IN A   192.0.2.1
www   IN TXT "dynamic name with a static TXT"
app   IN CNAME www
)";

core::IpAddress ip(const char* s) { return *core::IpAddress::parse(s); }

struct Fixture {
  std::shared_ptr<const dns::AnswerTable> table;
  std::map<std::pair<std::string, uint16_t>, dns::DynamicAnswer> answers;
  Fixture() {
    auto z = test::zone_from_text("example.test.", kZone);
    REQUIRE(z);
    table = dns::compile({z}, {dns::name_from_text("www.example.test."),
                               dns::name_from_text("gslb.deep.example.test.")});
  }
  std::shared_ptr<const dns::Overlay> overlay() {
    return dns::Overlay::build(*table, [&](std::string_view name, uint16_t qtype) {
      auto it = answers.find({std::string(name), qtype});
      return it == answers.end() ? nullptr : &it->second;
    });
  }
  void set(const char* name, uint16_t qtype, dns::DynamicAnswer a) {
    answers[{dns::name_from_text(name), qtype}] = std::move(a);
  }
};

dns::DynamicAnswer all(std::vector<std::vector<core::IpAddress>> rotations) {
  dns::DynamicAnswer a;
  a.kind = dns::DynamicAnswer::Kind::addresses;
  a.ttl = 10;
  for (auto& r : rotations) a.alternatives.push_back({1, r});
  return a;
}

}  // namespace

TEST_CASE_METHOD(Fixture, "a dynamic name answers what the overlay holds; other types stay static") {
  set("www.example.test.", 1, all({{ip("192.0.2.10"), ip("192.0.2.11")}}));
  auto o = overlay();
  auto a = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A), false, o.get());
  CHECK(ldns_pkt_aa(a.pkt.get()));
  CHECK(section(a, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"www.example.test. 10 IN A 192.0.2.10",
                                 "www.example.test. 10 IN A 192.0.2.11"});
  auto txt = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_TXT), false, o.get());
  CHECK(section(txt, LDNS_SECTION_ANSWER).size() == 1);
  // No IPv6 address in the pool: NODATA for AAAA.
  auto aaaa = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_AAAA), false, o.get());
  CHECK(ldns_pkt_get_rcode(aaaa.pkt.get()) == LDNS_RCODE_NOERROR);
  CHECK(section(aaaa, LDNS_SECTION_ANSWER).empty());
  CHECK(section(aaaa, LDNS_SECTION_AUTHORITY).size() == 1);
}

TEST_CASE_METHOD(Fixture, "a CNAME into a dynamic name carries the dynamic addresses") {
  set("www.example.test.", 1, all({{ip("192.0.2.10")}}));
  auto o = overlay();
  auto a = ask(*table, test::make_query("app.example.test.", LDNS_RR_TYPE_A), false, o.get());
  CHECK(section(a, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"app.example.test. 3600 IN CNAME www.example.test.",
                                 "www.example.test. 10 IN A 192.0.2.10"});
}

TEST_CASE_METHOD(Fixture, "a dynamic name the zone file lacks exists, with its empty non-terminals") {
  set("gslb.deep.example.test.", 1, all({{ip("192.0.2.20")}}));
  auto o = overlay();
  auto a = ask(*table, test::make_query("gslb.deep.example.test.", LDNS_RR_TYPE_A), false, o.get());
  CHECK(section(a, LDNS_SECTION_ANSWER).size() == 1);
  auto ent = ask(*table, test::make_query("deep.example.test.", LDNS_RR_TYPE_A), false, o.get());
  CHECK(ldns_pkt_get_rcode(ent.pkt.get()) == LDNS_RCODE_NOERROR);
}

TEST_CASE_METHOD(Fixture, "rotation: each query gets the next alternative") {
  set("www.example.test.", 1,
      all({{ip("192.0.2.1"), ip("192.0.2.2")}, {ip("192.0.2.2"), ip("192.0.2.1")}}));
  auto o = overlay();
  dns::PickState st;
  std::vector<uint8_t> first;
  for (int i = 0; i < 4; ++i) {
    auto a = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A), false, o.get(), &st);
    ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(a.pkt.get()), 0);
    first.push_back(ldns_rdf_data(ldns_rr_rdf(rr, 0))[3]);
  }
  CHECK(first == std::vector<uint8_t>{1, 2, 1, 2});
}

TEST_CASE_METHOD(Fixture, "weighted picks split 90/10 within 2% over 100,000 queries") {
  dns::DynamicAnswer a;
  a.kind = dns::DynamicAnswer::Kind::addresses;
  a.pick = dns::DynamicAnswer::Pick::weighted;
  a.alternatives = {{90, {ip("192.0.2.1")}}, {10, {ip("198.51.100.1")}}};
  set("www.example.test.", 1, a);
  auto o = overlay();
  dns::PickState st;
  int first = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const dns::Template& t = o->pick(0, st);
    // The A record's RDATA is the template's last 4 bytes.
    first += uint8_t(t.bytes()[t.bytes().size() - 4]) == 192;
  }
  CHECK(first == Approx(0.9 * n).margin(0.02 * n));
}

TEST_CASE_METHOD(Fixture, "servfail and empty answers; no overlay at all is SERVFAIL") {
  dns::DynamicAnswer fail;
  fail.kind = dns::DynamicAnswer::Kind::servfail;
  set("www.example.test.", 1, fail);
  auto o = overlay();
  auto a = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A), false, o.get());
  CHECK(ldns_pkt_get_rcode(a.pkt.get()) == LDNS_RCODE_SERVFAIL);

  dns::DynamicAnswer empty;
  empty.kind = dns::DynamicAnswer::Kind::nodata;
  empty.ttl = 5;
  set("www.example.test.", 1, empty);
  o = overlay();
  auto e = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A), false, o.get());
  CHECK(ldns_pkt_get_rcode(e.pkt.get()) == LDNS_RCODE_NOERROR);
  auto auth = section(e, LDNS_SECTION_AUTHORITY);
  REQUIRE(auth.size() == 1);
  CHECK(auth[0].rfind("example.test. 5 IN SOA", 0) == 0);

  auto none = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A));
  CHECK(ldns_pkt_get_rcode(none.pkt.get()) == LDNS_RCODE_SERVFAIL);
}

TEST_CASE("check_dynamic_name refuses names that cannot be dynamic") {
  auto z = test::zone_from_text("example.test.", R"($ORIGIN example.test.
@ 3600 IN SOA ns1 hm 1 2 3 4 5
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.1
c 3600 IN CNAME ns1
sub 3600 IN NS ns.other.test.
)");
  REQUIRE(z);
  auto why = [&](const char* n) { return dns::check_dynamic_name({z}, dns::name_from_text(n)); };
  CHECK(why("www.example.test.").empty());
  CHECK(why("www.example.org.") == "is not inside any served zone");
  CHECK(why("c.example.test.") == "is a CNAME in its zone");
  CHECK(why("x.sub.example.test.") == "is at or below a delegation in its zone");
  CHECK(why("ns1.example.test.").find("has A/AAAA records") == 0);
}

TEST_CASE_METHOD(Fixture, "an update rebuilds the changed names and shares the rest") {
  set("www.example.test.", 1, all({{ip("192.0.2.10")}}));
  set("gslb.deep.example.test.", 1, all({{ip("192.0.2.20")}}));
  auto first = overlay();
  set("www.example.test.", 1, all({{ip("192.0.2.99")}}));
  set("gslb.deep.example.test.", 1, all({{ip("192.0.2.77")}}));  // changed, but not named below
  const std::string www = dns::name_from_text("www.example.test.");
  auto next = dns::Overlay::update(*first, *table, [&](std::string_view name, uint16_t qtype) {
    auto it = answers.find({std::string(name), qtype});
    return it == answers.end() ? nullptr : &it->second;
  }, {www});
  auto a = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A), false, next.get());
  CHECK(section(a, LDNS_SECTION_ANSWER) == std::vector<std::string>{"www.example.test. 10 IN A 192.0.2.99"});
  // The CNAME chain that ends at www follows it.
  auto app = ask(*table, test::make_query("app.example.test.", LDNS_RR_TYPE_A), false, next.get());
  CHECK(section(app, LDNS_SECTION_ANSWER).back() == "www.example.test. 10 IN A 192.0.2.99");
  // Not named: still what the first overlay had.
  auto deep = ask(*table, test::make_query("gslb.deep.example.test.", LDNS_RR_TYPE_A), false, next.get());
  CHECK(section(deep, LDNS_SECTION_ANSWER) == std::vector<std::string>{"gslb.deep.example.test. 10 IN A 192.0.2.20"});
  // The first overlay is untouched.
  auto old = ask(*table, test::make_query("www.example.test.", LDNS_RR_TYPE_A), false, first.get());
  CHECK(section(old, LDNS_SECTION_ANSWER) == std::vector<std::string>{"www.example.test. 10 IN A 192.0.2.10"});
}

namespace {
// The last four bytes of a response to a plain (no EDNS) A query: its one A record's address.
uint32_t sticky_answer(const dns::AnswerTable& table, const dns::Overlay& o, const core::IpAddress& src) {
  static const auto q = test::make_query("www.example.test.", LDNS_RR_TYPE_A);
  std::vector<uint8_t> out(512);
  dns::Scratch scratch;
  dns::Client client;
  client.address = &src;
  dns::Outcome outcome;
  const size_t n = dns::answer(dns::Answers{&table, &o}, dns::HandlerOptions{}, q, out, client,
                               scratch, outcome);
  REQUIRE(n > 4);
  return dns::get32(out.data() + n - 4);
}
}  // namespace

TEST_CASE_METHOD(Fixture, "sticky: a client's network keeps its address; a removed one moves only its clients") {
  dns::DynamicAnswer a;
  a.kind = dns::DynamicAnswer::Kind::addresses;
  a.pick = dns::DynamicAnswer::Pick::sticky;
  for (const char* addr : {"192.0.2.10", "192.0.2.11", "192.0.2.12"})
    a.alternatives.push_back({1, {ip(addr)}});
  set("www.example.test.", 1, a);
  auto before = overlay();
  a.alternatives.erase(a.alternatives.begin() + 2);  // 192.0.2.12 fails
  set("www.example.test.", 1, a);
  auto after = overlay();
  std::map<uint32_t, int> share;
  int moved = 0, kept = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto src = ip(fmt::format("10.{}.{}.7", i / 256, i % 256).c_str());
    const uint32_t was = sticky_answer(*table, *before, src);
    // Another host of the same /24 gets the same address.
    CHECK(sticky_answer(*table, *before, ip(fmt::format("10.{}.{}.200", i / 256, i % 256).c_str())) == was);
    ++share[was];
    const uint32_t now = sticky_answer(*table, *after, src);
    if (was == 0xC000020C) ++moved;  // 192.0.2.12's clients must move
    else if (now == was) ++kept;
  }
  REQUIRE(share.size() == 3);
  for (const auto& [addr, n] : share) CHECK(std::abs(n - 1000) < 120);  // about a third each
  CHECK(kept == 3000 - share[0xC000020C]);  // every other client kept its address
  CHECK(moved == share[0xC000020C]);
}

TEST_CASE_METHOD(Fixture, "ECS: echoed with the map's scope; ignored when turned off") {
  dns::DynamicAnswer a;
  a.kind = dns::DynamicAnswer::Kind::addresses;
  geo::MapConfig mc;
  mc.fallback.regions = {"hz"};
  mc.nets = {{*core::Prefix::parse("198.51.100.0/24"), {{"sh"}, {}}}};
  a.map = std::make_shared<const geo::Map>(std::move(mc));
  a.classes = {all({{ip("192.0.2.10")}}), all({{ip("198.51.100.10")}})};
  set("www.example.test.", 1, a);
  auto o = overlay();
  auto plain = test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232});
  auto ecs = plain;  // + ECS 198.51.100.0/24 (ldns writes the OPT last, with no options)
  dns::put16(ecs.data() + ecs.size() - 2, 11);
  for (uint8_t b : {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100}) ecs.push_back(b);
  const auto src = ip("192.0.2.1");  // the default's client by its source
  auto run = [&](const std::vector<uint8_t>& q, bool on) {
    std::vector<uint8_t> out(512);
    dns::Scratch scratch;
    dns::Client client;
    client.address = &src;
    dns::HandlerOptions opt;
    opt.ecs = on;
    dns::Outcome outcome;
    out.resize(dns::answer(dns::Answers{table.get(), o.get()}, opt, q, out, client, scratch, outcome));
    return std::make_pair(out, outcome);
  };
  const auto [by_source, so] = run(plain, true);
  const auto [by_ecs, eo] = run(ecs, true);
  const auto [ignored, io] = run(ecs, false);
  CHECK(so.ecs_scope == 0);
  CHECK(eo.ecs_scope == 24);
  CHECK(eo.map_rule == 0);
  CHECK(io.map_rule == geo::Match::kDefault);
  // The option comes back as sent but for SCOPE: the last 11 bytes of the response.
  REQUIRE(by_ecs.size() == by_source.size() + 11);
  CHECK(std::vector<uint8_t>(by_ecs.end() - 11, by_ecs.end()) ==
        std::vector<uint8_t>{0, 8, 0, 7, 0, 1, 24, 24, 198, 51, 100});
  // The A RDATA just before the OPT (11 bytes of its own, 11 of ECS): 198.51.100.10.
  CHECK(dns::get32(by_ecs.data() + by_ecs.size() - 22 - 4) == 0xC633640A);
  // Off: the option is ignored like any unknown one; the source decides; nothing is echoed.
  CHECK(ignored == by_source);
}
