// The query path allocates nothing: every operator new in this binary is counted, and answering
// queries of every kind (positive, negative, wildcard, referral, DNAME, truncated, dynamic,
// malformed)
// must leave the count where it was.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "dns_test_util.hpp"
#include "dns/dnssec.hpp"
#include "dns/overlay.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// These replacements pair malloc with free on purpose; GCC cannot see that they are the pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Every form that the standard library may call, so that new and delete always pair up (the
// sanitizers check that).
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace gslb;

namespace {
struct Answered100 {
  size_t answered = 0;     // responses sent
  uint64_t allocations = 0;
};
// Every query a hundred times over UDP and over TCP, counting operator new meanwhile.
Answered100 answer_100_times(const dns::Answers& answers, const std::vector<std::vector<uint8_t>>& queries) {
  std::vector<uint8_t> out(65535);
  dns::Scratch scratch;
  Answered100 r;
  const uint64_t before = g_allocations.load();
  for (int round = 0; round < 100; ++round)
    for (const auto& q : queries)
      for (bool tcp : {false, true}) {
        dns::Outcome outcome;
        r.answered += dns::answer(answers, dns::HandlerOptions{}, q, out, tcp, scratch, outcome) > 0;
      }
  r.allocations = g_allocations.load() - before;
  return r;
}
}  // namespace

TEST_CASE("answering queries allocates nothing") {
  const std::string text = R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
         IN MX  10 mail
ns1      IN A   192.0.2.1
mail     IN A   192.0.2.25
alias    IN CNAME www
*.wild   IN A   192.0.2.99
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.53
dn       IN DNAME elsewhere.example.
self     IN DNAME example.test.
big      IN TXT "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
)";
  auto zone = test::zone_from_text("example.test.", text);
  REQUIRE(zone);
  auto table = dns::compile({zone}, {dns::name_from_text("www.example.test.")});
  dns::DynamicAnswer dyn;
  dyn.kind = dns::DynamicAnswer::Kind::addresses;
  dyn.pick = dns::DynamicAnswer::Pick::weighted;
  dyn.alternatives = {{90, {*core::IpAddress::parse("192.0.2.10")}},
                      {10, {*core::IpAddress::parse("198.51.100.10")}}};
  auto overlay = dns::Overlay::build(*table, [&](std::string_view, uint16_t qtype) {
    return qtype == dns::rrtype::A ? &dyn : nullptr;
  });

  std::vector<std::vector<uint8_t>> queries;
  for (const char* name : {"www.example.test.", "alias.example.test.", "nope.example.test.",
                           "x.y.wild.example.test.", "host.sub.example.test.", "big.example.test.",
                           "example.test.", "www.example.org.", "a.b.dn.example.test.",
                           "www.self.example.test.", "mail.self.example.test.", "nope.self.example.test.",
                           "host.sub.self.example.test."})
    for (auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_ANY,
                      LDNS_RR_TYPE_MX})
      for (bool edns : {false, true}) queries.push_back(test::make_query(name, type, {edns, 1232}));
  queries.push_back({0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0});  // malformed: FORMERR
  queries.push_back({0x12, 0x34});                                      // too short: dropped

  const Answered100 r = answer_100_times({table.get(), overlay.get()}, queries);
  CHECK(r.answered > 0);
  CHECK(r.allocations == 0);
}

TEST_CASE("signed answers with DO=1 allocate nothing") {
  // A CSK made with ldns and written as the two files gslbd reads.
  char dir[] = "/tmp/gslbd-noalloc-XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string base = test::write_test_key(dir);
  REQUIRE(!base.empty());
  auto zone = test::zone_from_text("example.test.", R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
ns1      IN A   192.0.2.1
alias    IN CNAME www
*.wild   IN A   192.0.2.99
a.b.ent  IN TXT "x"
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.53
)");
  REQUIRE(zone);
  dns::SignSpec spec;
  spec.keys = {dns::KeyRef{base, "test", 1, 1}};
  spec.now = 1'800'000'000;
  core::Errors errors;
  auto signed_zone = dns::sign_zone(*zone, spec, {dns::DynamicName{dns::name_from_text("www.example.test."), true, false}}, errors);
  for (auto* f : {".key", ".private"}) std::remove((base + f).c_str());
  rmdir(dir);
  REQUIRE(errors.empty());
  REQUIRE(signed_zone);
  auto table = dns::compile({signed_zone}, {dns::name_from_text("www.example.test.")});
  dns::DynamicAnswer dyn;
  dyn.kind = dns::DynamicAnswer::Kind::addresses;
  dyn.alternatives = {{1, {*core::IpAddress::parse("192.0.2.10")}}};
  auto overlay = dns::Overlay::build(*table, [&](std::string_view, uint16_t qtype) {
    return qtype == dns::rrtype::A ? &dyn : nullptr;
  });
  std::vector<std::vector<uint8_t>> queries;
  for (const char* name : {"www.example.test.", "alias.example.test.", "nope.example.test.",
                           "x.y.wild.example.test.", "b.ent.example.test.", "host.sub.example.test.",
                           "sub.example.test.", "example.test."})
    for (auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_DNSKEY,
                      LDNS_RR_TYPE_DS, LDNS_RR_TYPE_ANY})
      queries.push_back(test::make_query(name, type, {true, 1232, true, false, true}));

  const Answered100 r = answer_100_times({table.get(), overlay.get()}, queries);
  CHECK(r.answered == 100 * 2 * queries.size());
  CHECK(r.allocations == 0);
  // What was answered was signed: the dynamic A and an NXDOMAIN (the NSECs the query path adds).
  for (const char* name : {"www.example.test.", "nope.example.test."}) {
    auto a = test::ask(*table, test::make_query(name, LDNS_RR_TYPE_A, {true, 1232, true, false, true}),
                       false, overlay.get());
    REQUIRE(a.pkt);
    size_t rrsigs = 0, nsecs = 0;
    for (auto sec : {LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY}) {
      ldns_rr_list* l = ldns_pkt_get_section_clone(a.pkt.get(), sec);
      for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); ++i) {
        rrsigs += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == LDNS_RR_TYPE_RRSIG;
        nsecs += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == LDNS_RR_TYPE_NSEC;
      }
      ldns_rr_list_deep_free(l);
    }
    CHECK(rrsigs > 0);
    if (std::string(name) == "nope.example.test.") CHECK(nsecs == 2);
  }
}

namespace {
uint64_t g_log_lines = 0;
void count_line(std::string_view line) { g_log_lines += !line.empty(); }

// The same query with a COOKIE option (ldns writes the OPT last, with no options).
std::vector<uint8_t> with_cookie(std::vector<uint8_t> q, const std::vector<uint8_t>& cookie) {
  dns::put16(q.data() + q.size() - 2, uint16_t(4 + cookie.size()));
  const uint8_t head[] = {0, uint8_t(dns::kOptionCookie), 0, uint8_t(cookie.size())};
  q.insert(q.end(), head, head + 4);
  q.insert(q.end(), cookie.begin(), cookie.end());
  return q;
}
}  // namespace

TEST_CASE("rate limiting and cookies allocate nothing either") {
  auto zone = test::zone_from_text("example.test.", R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
ns1      IN A   192.0.2.1
*.wild   IN A   192.0.2.99
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.53
)");
  REQUIRE(zone);
  auto table = dns::compile({zone}, {});
  dns::GuardConfig cfg;
  cfg.rrl.responses_per_second = 3;
  cfg.rrl.nxdomains_per_second = 2;
  cfg.rrl.errors_per_second = 1;
  cfg.rrl.table_size = 256;  // small: eviction runs too
  cfg.rrl.exempt = {*core::Prefix::parse("10.9.9.0/24")};
  cfg.cookies.master = dns::random_key();
  dns::GuardStats stats;
  dns::Guard guard(cfg, stats, true, count_line);
  dns::GuardConfig lo_cfg = cfg;
  lo_cfg.rrl.log_only = true;
  dns::GuardStats lo_stats;
  dns::Guard log_only(lo_cfg, lo_stats, true, count_line);

  const std::vector<uint8_t> client_cookie{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<uint8_t> bad_cookie = client_cookie;
  bad_cookie.resize(24, 0x5A);
  std::vector<std::vector<uint8_t>> queries;
  for (const char* name : {"ns1.example.test.", "nope.example.test.", "a.wild.example.test.",
                           "x.sub.example.test.", "www.example.org."})
    for (auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_MX}) {
      auto q = test::make_query(name, type, {true, 1232});
      queries.push_back(q);
      queries.push_back(with_cookie(q, client_cookie));
      queries.push_back(with_cookie(q, bad_cookie));
      queries.push_back(with_cookie(q, {1, 2, 3}));  // malformed: FORMERR
    }

  // A valid server cookie, learned before counting starts.
  std::vector<uint8_t> out(65535);
  dns::Scratch scratch;
  const dns::Answers answers{table.get(), nullptr};
  std::vector<core::IpAddress> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(*core::IpAddress::parse(fmt::format("127.0.{}.1", i)));
  clients.push_back(*core::IpAddress::parse("10.9.9.9"));
  clients.push_back(*core::IpAddress::parse("2001:db8::1"));
  dns::Now now = dns::Now::read();
  dns::Outcome outcome;
  const dns::Client first{false, &clients[0], &guard, now};
  const size_t n = dns::answer(answers, dns::HandlerOptions{}, queries[1], out, first, scratch, outcome);
  REQUIRE(n > 28);
  std::vector<uint8_t> valid(out.begin() + long(n) - 24, out.begin() + long(n));
  const auto valid_query = with_cookie(test::make_query("ns1.example.test.", LDNS_RR_TYPE_A, {true, 1232}), valid);

  size_t answered = 0;
  const uint64_t before = g_allocations.load();
  for (int second = 0; second < 40; ++second) {
    now.mono += 1;
    now.unix += 97;  // crosses cookie rotation epochs (1h) a few times
    for (const auto& a : clients)
      for (dns::Guard* g : {&guard, &log_only})
        for (bool tcp : {false, true}) {
          const dns::Client c{tcp, &a, g, now};
          for (const auto& query : queries)
            answered += dns::answer(answers, dns::HandlerOptions{}, query, out, c, scratch, outcome) > 0;
          answered += dns::answer(answers, dns::HandlerOptions{}, valid_query, out, c, scratch, outcome) > 0;
        }
  }
  const uint64_t after = g_allocations.load();
  CHECK(answered > 0);
  CHECK(stats.rrl_dropped.load() > 0);
  CHECK(stats.rrl_slipped.load() > 0);
  CHECK(lo_stats.rrl_log_only.load() > 0);
  CHECK(stats.cookies[size_t(dns::CookieResult::valid)].load() > 0);
  CHECK(g_log_lines > 0);
  CHECK(after - before == 0);
}

namespace {
// The same query with an ECS option (RFC 7871 §6): family, source prefix, address bytes.
std::vector<uint8_t> with_ecs(std::vector<uint8_t> q, uint16_t family, uint8_t source,
                              const std::vector<uint8_t>& address) {
  dns::put16(q.data() + q.size() - 2, uint16_t(8 + address.size()));
  const uint8_t head[] = {0, uint8_t(dns::kOptionEcs), 0, uint8_t(4 + address.size()),
                          0, uint8_t(family), source, 0};
  q.insert(q.end(), head, head + 8);
  q.insert(q.end(), address.begin(), address.end());
  return q;
}
}  // namespace

TEST_CASE("ECS queries on mapped names allocate nothing") {
  auto zone = test::zone_from_text("example.test.", R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
ns1      IN A   192.0.2.1
alias    IN CNAME www
)");
  REQUIRE(zone);
  auto table = dns::compile({zone}, {dns::name_from_text("www.example.test.")});
  geo::MapConfig mc;
  mc.fallback.regions = {"hz", "sh"};
  mc.nets = {{*core::Prefix::parse("198.51.100.0/24"), {{"sh", "hz"}, {}}},
             {*core::Prefix::parse("2001:db8:1::/48"), {{"sh"}, {}}}};
  dns::DynamicAnswer dyn;
  dyn.kind = dns::DynamicAnswer::Kind::addresses;
  dyn.map = std::make_shared<const geo::Map>(std::move(mc));
  for (const char* addr : {"192.0.2.10", "198.51.100.10", "203.0.113.10"}) {
    dns::DynamicAnswer cls;
    cls.kind = dns::DynamicAnswer::Kind::addresses;
    // The default class picks at random by weight, the others by the client's network.
    cls.pick = dyn.classes.empty() ? dns::DynamicAnswer::Pick::weighted : dns::DynamicAnswer::Pick::sticky;
    cls.alternatives = {{90, {*core::IpAddress::parse(addr)}}, {10, {*core::IpAddress::parse("192.0.2.99")}}};
    dyn.classes.push_back(cls);
  }
  auto overlay = dns::Overlay::build(*table, [&](std::string_view, uint16_t qtype) {
    return qtype == dns::rrtype::A ? &dyn : nullptr;
  });

  std::vector<std::vector<uint8_t>> queries;
  for (const char* name : {"www.example.test.", "alias.example.test.", "nope.example.test.",
                           "example.test."})
    for (auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA}) {
      auto q = test::make_query(name, type, {true, 1232});
      queries.push_back(q);
      queries.push_back(with_ecs(q, 1, 24, {198, 51, 100}));
      queries.push_back(with_ecs(q, 1, 32, {203, 0, 113, 7}));
      queries.push_back(with_ecs(q, 2, 48, {0x20, 0x01, 0x0d, 0xb8, 0, 1}));
      queries.push_back(with_ecs(q, 1, 0, {}));
      queries.push_back(with_ecs(q, 1, 23, {198, 51, 101}));  // bits beyond /23: FORMERR
      queries.push_back(with_ecs(q, 7, 0, {}));               // unknown family: FORMERR
    }

  const core::IpAddress sources[] = {*core::IpAddress::parse("198.51.100.1"),
                                     *core::IpAddress::parse("2001:db8:1::1"),
                                     *core::IpAddress::parse("::ffff:192.0.2.1")};
  std::vector<uint8_t> out(65535);
  dns::Scratch scratch;
  const dns::Answers answers{table.get(), overlay.get()};
  size_t answered = 0, mapped = 0, formerr = 0;
  const uint64_t before = g_allocations.load();
  for (int round = 0; round < 100; ++round)
    for (const auto& q : queries)
      for (const auto& src : sources) {
        dns::Client client;
        client.address = &src;
        dns::Outcome outcome;
        answered += dns::answer(answers, dns::HandlerOptions{}, q, out, client, scratch, outcome) > 0;
        mapped += outcome.mapped;
        formerr += outcome.rcode == uint8_t(dns::Rcode::formerr);
      }
  const uint64_t after = g_allocations.load();
  CHECK(answered > 0);
  CHECK(mapped > 0);
  CHECK(formerr > 0);
  CHECK(after - before == 0);
}
