// Lookup semantics, end to end through the compiled table and the query handler, with ldns
// parsing what we send.
#include <catch2/catch.hpp>

#include <set>

#include "dns_test_util.hpp"

using namespace gslb;
using test::ask;
using test::section;

namespace {

const char* kZone = R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
         IN NS  ns.elsewhere.net.
         IN MX  10 mail
ns1      IN A   192.0.2.1
mail     IN A   192.0.2.25
mail     IN AAAA 2001:db8::25
www  60  IN A   192.0.2.10
www  60  IN A   192.0.2.11
alias    IN CNAME www
alias2   IN CNAME alias
dangling IN CNAME gone
outside  IN CNAME www.other.net.
loop1    IN CNAME loop2
loop2    IN CNAME loop1
*.wild   IN A   192.0.2.99
*.wild   IN TXT "wild"
wc       IN CNAME x.wild
a.b.ent  IN TXT "deep"
sub      IN NS  ns.sub
sub      IN DS  1 13 2 0011223344556677889900112233445566778899001122334455667788990011
ns.sub   IN A   192.0.2.53
nods     IN NS  ns.elsewhere.net.
_sip._tcp IN SRV 0 5 5060 mail
big      IN TXT "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
)";

struct Fixture {
  std::shared_ptr<const dns::AnswerTable> table;
  Fixture() {
    auto z = test::zone_from_text("example.test.", kZone);
    REQUIRE(z);
    table = dns::compile({z});
  }
};

ldns_pkt_rcode rcode(const test::Answered& a) { return ldns_pkt_get_rcode(a.pkt.get()); }

}  // namespace

TEST_CASE_METHOD(Fixture, "positive answer: AA, RD copied, RA clear, question echoed as sent") {
  auto a = ask(*table, "wWw.ExAmple.TEST.", LDNS_RR_TYPE_A);
  REQUIRE(a.pkt);
  CHECK(rcode(a) == LDNS_RCODE_NOERROR);
  CHECK(ldns_pkt_aa(a.pkt.get()));
  CHECK(ldns_pkt_rd(a.pkt.get()));
  CHECK_FALSE(ldns_pkt_ra(a.pkt.get()));
  CHECK(section(a, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"www.example.test. 60 IN A 192.0.2.10",
                                 "www.example.test. 60 IN A 192.0.2.11"});
  // The question keeps the client's case byte for byte (resolvers check it: 0x20 encoding).
  const char* sent = "\003wWw\007ExAmple\004TEST";
  CHECK(std::equal(sent, sent + 18, a.wire.begin() + 12));
}

TEST_CASE_METHOD(Fixture, "NXDOMAIN and NODATA carry the SOA with TTL min(SOA TTL, MINIMUM)") {
  auto nx = ask(*table, "nope.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(nx) == LDNS_RCODE_NXDOMAIN);
  CHECK(ldns_pkt_aa(nx.pkt.get()));
  CHECK(section(nx, LDNS_SECTION_AUTHORITY) ==
        std::vector<std::string>{
            "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300"});
  auto nodata = ask(*table, "www.example.test.", LDNS_RR_TYPE_AAAA);
  CHECK(rcode(nodata) == LDNS_RCODE_NOERROR);
  CHECK(section(nodata, LDNS_SECTION_ANSWER).empty());
  CHECK(section(nodata, LDNS_SECTION_AUTHORITY).size() == 1);
}

TEST_CASE_METHOD(Fixture, "an empty non-terminal answers NODATA, not NXDOMAIN") {
  auto a = ask(*table, "b.ent.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(a) == LDNS_RCODE_NOERROR);
  CHECK(section(a, LDNS_SECTION_ANSWER).empty());
  auto b = ask(*table, "ent.example.test.", LDNS_RR_TYPE_TXT);
  CHECK(rcode(b) == LDNS_RCODE_NOERROR);
  auto c = ask(*table, "x.ent.example.test.", LDNS_RR_TYPE_TXT);
  CHECK(rcode(c) == LDNS_RCODE_NXDOMAIN);
}

TEST_CASE_METHOD(Fixture, "CNAME chains are followed inside the zone") {
  auto a = ask(*table, "alias2.example.test.", LDNS_RR_TYPE_A);
  CHECK(section(a, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"alias.example.test. 3600 IN CNAME www.example.test.",
                                 "alias2.example.test. 3600 IN CNAME alias.example.test.",
                                 "www.example.test. 60 IN A 192.0.2.10",
                                 "www.example.test. 60 IN A 192.0.2.11"});
  auto c = ask(*table, "alias.example.test.", LDNS_RR_TYPE_CNAME);
  CHECK(section(c, LDNS_SECTION_ANSWER).size() == 1);
  // RFC 6604: the RCODE is that of the last name in the chain.
  auto d = ask(*table, "dangling.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(d) == LDNS_RCODE_NXDOMAIN);
  CHECK(section(d, LDNS_SECTION_ANSWER).size() == 1);
  auto o = ask(*table, "outside.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(o) == LDNS_RCODE_NOERROR);
  CHECK(section(o, LDNS_SECTION_ANSWER).size() == 1);
  auto l = ask(*table, "loop1.example.test.", LDNS_RR_TYPE_A);
  REQUIRE(l.pkt);
  CHECK(section(l, LDNS_SECTION_ANSWER).size() == 2);
  auto w = ask(*table, "wc.example.test.", LDNS_RR_TYPE_A);
  CHECK(section(w, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"wc.example.test. 3600 IN CNAME x.wild.example.test.",
                                 "x.wild.example.test. 3600 IN A 192.0.2.99"});
}

TEST_CASE_METHOD(Fixture, "wildcards synthesise the queried name (RFC 4592)") {
  auto a = ask(*table, "Some.Deep.name.wild.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(a) == LDNS_RCODE_NOERROR);
  CHECK(section(a, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"some.deep.name.wild.example.test. 3600 IN A 192.0.2.99"});
  auto nodata = ask(*table, "x.wild.example.test.", LDNS_RR_TYPE_MX);
  CHECK(rcode(nodata) == LDNS_RCODE_NOERROR);
  CHECK(section(nodata, LDNS_SECTION_ANSWER).empty());
  CHECK(section(nodata, LDNS_SECTION_AUTHORITY).size() == 1);
  // The wildcard does not reach past an existing name: wild itself is an empty non-terminal.
  auto ent = ask(*table, "wild.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(ent) == LDNS_RCODE_NOERROR);
  CHECK(section(ent, LDNS_SECTION_ANSWER).empty());
  // A query for the literal "*" label gets the wildcard's own records.
  auto star = ask(*table, "*.wild.example.test.", LDNS_RR_TYPE_TXT);
  CHECK(section(star, LDNS_SECTION_ANSWER).size() == 1);
}

TEST_CASE_METHOD(Fixture, "delegations: referral with glue and AA clear; DS from the parent") {
  auto a = ask(*table, "host.sub.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(a) == LDNS_RCODE_NOERROR);
  CHECK_FALSE(ldns_pkt_aa(a.pkt.get()));
  CHECK(section(a, LDNS_SECTION_ANSWER).empty());
  CHECK(section(a, LDNS_SECTION_AUTHORITY) ==
        std::vector<std::string>{"sub.example.test. 3600 IN NS ns.sub.example.test."});
  CHECK(section(a, LDNS_SECTION_ADDITIONAL) ==
        std::vector<std::string>{"ns.sub.example.test. 3600 IN A 192.0.2.53"});
  auto glue = ask(*table, "ns.sub.example.test.", LDNS_RR_TYPE_A);
  CHECK_FALSE(ldns_pkt_aa(glue.pkt.get()));
  CHECK(section(glue, LDNS_SECTION_ANSWER).empty());
  auto ds = ask(*table, "sub.example.test.", LDNS_RR_TYPE_DS);
  CHECK(ldns_pkt_aa(ds.pkt.get()));
  CHECK(section(ds, LDNS_SECTION_ANSWER).size() == 1);
  auto nods = ask(*table, "nods.example.test.", LDNS_RR_TYPE_DS);
  CHECK(ldns_pkt_aa(nods.pkt.get()));
  CHECK(section(nods, LDNS_SECTION_ANSWER).empty());
  CHECK(section(nods, LDNS_SECTION_AUTHORITY).size() == 1);
}

TEST_CASE_METHOD(Fixture, "additional section: addresses of MX, SRV and NS targets we hold") {
  auto mx = ask(*table, "example.test.", LDNS_RR_TYPE_MX);
  CHECK(section(mx, LDNS_SECTION_ADDITIONAL) ==
        std::vector<std::string>{"mail.example.test. 3600 IN A 192.0.2.25",
                                 "mail.example.test. 3600 IN AAAA 2001:db8::25"});
  auto ns = ask(*table, "example.test.", LDNS_RR_TYPE_NS);
  CHECK(section(ns, LDNS_SECTION_ANSWER).size() == 2);
  CHECK(section(ns, LDNS_SECTION_ADDITIONAL) ==
        std::vector<std::string>{"ns1.example.test. 3600 IN A 192.0.2.1"});
  auto srv = ask(*table, "_sip._tcp.example.test.", LDNS_RR_TYPE_SRV);
  CHECK(section(srv, LDNS_SECTION_ADDITIONAL).size() == 2);
}

TEST_CASE_METHOD(Fixture, "REFUSED outside our zones, REFUSED for class CH") {
  auto a = ask(*table, "www.example.org.", LDNS_RR_TYPE_A);
  CHECK(rcode(a) == LDNS_RCODE_REFUSED);
  CHECK_FALSE(ldns_pkt_aa(a.pkt.get()));
}

TEST_CASE_METHOD(Fixture, "EDNS: OPT echoed with 1232 only when asked; BADVERS for version 1") {
  auto plain = ask(*table, "www.example.test.", LDNS_RR_TYPE_A);
  CHECK_FALSE(ldns_pkt_edns(plain.pkt.get()));
  auto e = ask(*table, "www.example.test.", LDNS_RR_TYPE_A, {true, 4096});
  CHECK(ldns_pkt_edns(e.pkt.get()));
  CHECK(ldns_pkt_edns_udp_size(e.pkt.get()) == 1232);

  auto q = test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232});
  q[q.size() - 5] = 1;  // OPT TTL: extended rcode, then version
  auto bad = ask(*table, q);
  REQUIRE(bad.pkt);
  CHECK(ldns_pkt_edns_version(bad.pkt.get()) == 0);
  CHECK(ldns_pkt_edns_extended_rcode(bad.pkt.get()) == 1);  // 16 = BADVERS: 1 << 4 | 0
  CHECK(section(bad, LDNS_SECTION_ANSWER).empty());
}

TEST_CASE_METHOD(Fixture, "too big for UDP: TC with the question only; TCP gets it all") {
  auto small = ask(*table, "big.example.test.", LDNS_RR_TYPE_TXT);
  REQUIRE(small.pkt);
  CHECK(ldns_pkt_tc(small.pkt.get()));
  CHECK(ldns_pkt_qdcount(small.pkt.get()) == 1);
  CHECK(ldns_pkt_ancount(small.pkt.get()) == 0);
  CHECK(small.wire.size() <= 512);
  auto edns = ask(*table, "big.example.test.", LDNS_RR_TYPE_TXT, {true, 1232});
  CHECK_FALSE(ldns_pkt_tc(edns.pkt.get()));
  CHECK(section(edns, LDNS_SECTION_ANSWER).size() == 6);
  auto tcp = ask(*table, "big.example.test.", LDNS_RR_TYPE_TXT, {false, 0, true, true});
  CHECK_FALSE(ldns_pkt_tc(tcp.pkt.get()));
  CHECK(section(tcp, LDNS_SECTION_ANSWER).size() == 6);
}

TEST_CASE_METHOD(Fixture, "ANY: one RRset over UDP (RFC 8482), the whole node over TCP") {
  auto udp = ask(*table, "example.test.", LDNS_RR_TYPE_ANY);
  auto ans = section(udp, LDNS_SECTION_ANSWER);
  REQUIRE_FALSE(ans.empty());
  std::set<std::string> types;
  for (auto& l : ans) types.insert(l.substr(l.find(" IN ") + 4, l.find(' ', l.find(" IN ") + 4) - l.find(" IN ") - 4));
  CHECK(types.size() == 1);
  auto tcp = ask(*table, "example.test.", LDNS_RR_TYPE_ANY, {false, 0, true, true});
  CHECK(section(tcp, LDNS_SECTION_ANSWER).size() == 4);  // SOA, 2 NS, MX
}

TEST_CASE_METHOD(Fixture, "AXFR and IXFR: over TCP the caller streams; IXFR over UDP too, AXFR NOTIMP") {
  auto udp = ask(*table, "example.test.", LDNS_RR_TYPE_AXFR);
  CHECK(rcode(udp) == LDNS_RCODE_NOTIMPL);
  CHECK(udp.outcome.transfer_zone == -1);
  auto tcp = ask(*table, "example.test.", LDNS_RR_TYPE_AXFR, {false, 0, true, true});
  CHECK(tcp.wire.empty());
  CHECK(tcp.outcome.transfer_zone == 0);
  // Below the apex: not a zone, over either transport.
  auto below = ask(*table, "www.example.test.", LDNS_RR_TYPE_IXFR);
  CHECK(rcode(below) == LDNS_RCODE_NOTAUTH);
}

TEST_CASE("IXFR over UDP: the caller answers a listed or signed client; the handler refuses the rest") {
  core::Errors errors;
  const std::string text = kZone;
  auto z = dns::load_zone("example.test.", "test.zone", errors, &text);
  REQUIRE(z);
  z->allow_transfer = {*core::Prefix::parse("127.0.0.0/8")};
  auto table = dns::compile({z});
  auto outcome_for = [&](const std::vector<uint8_t>& query, const char* from) {
    const auto address = *core::IpAddress::parse(from);
    std::vector<uint8_t> out(4096);
    dns::Scratch scratch;
    dns::Client client;
    client.address = &address;
    test::Answered a;
    const size_t n = dns::answer({table.get(), nullptr}, dns::HandlerOptions{}, query, out, client, scratch,
                                 a.outcome);
    out.resize(n);
    a.wire = out;
    return a;
  };
  const auto query = test::make_query("example.test.", LDNS_RR_TYPE_IXFR);
  // Listed: RFC 1995 §2 lets IXFR come over UDP; the caller answers it in one message.
  auto listed = outcome_for(query, "127.0.0.1");
  CHECK(listed.wire.empty());
  CHECK(listed.outcome.transfer_zone == 0);
  // Not listed and unsigned: REFUSED here, through rate limiting like any error.
  auto stranger = outcome_for(query, "192.0.2.9");
  CHECK(stranger.outcome.transfer_zone == -1);
  REQUIRE(stranger.wire.size() >= 12);
  CHECK((stranger.wire[3] & 0xF) == uint8_t(dns::Rcode::refused));
  // Signed (a TSIG record last): the caller checks the key, whatever the address.
  std::string signed_query(query.begin(), query.end());
  dns::TsigKey key{dns::name_from_text("k."), dns::name_from_text("hmac-sha256."), "secret", "k"};
  dns::TsigSigner(key, "", 1'800'000'000).sign(signed_query);
  auto with_key = outcome_for(std::vector<uint8_t>(signed_query.begin(), signed_query.end()), "192.0.2.9");
  CHECK(with_key.wire.empty());
  CHECK(with_key.outcome.transfer_zone == 0);
}

TEST_CASE("zone errors carry file:line and stop the load") {
  core::Errors errors;
  auto z = test::zone_from_text("example.test.", R"($ORIGIN example.test.
@ 3600 IN SOA ns1 hm 1 2 3 4 5
  3600 IN NS ns1
bad 3600 IN A 1.2.3
www.example.org. 3600 IN A 192.0.2.1
c IN CNAME www
c IN A 192.0.2.1
)", &errors);
  CHECK_FALSE(z);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].to_string().rfind("test.zone:4: ", 0) == 0);
  CHECK(errors[1].to_string().find("CNAME and other data") != std::string::npos);
}

TEST_CASE("out-of-zone data is skipped with a warning, as BIND does") {
  const std::string text = "$ORIGIN example.test.\n$TTL 60\n@ IN SOA ns1 hm 1 2 3 4 5\n"
                           "  IN NS ns1\nwww.example.org. IN A 192.0.2.1\nns1 IN A 192.0.2.2\n";
  core::Errors errors, warnings;
  dns::LoadOptions options;
  options.warnings = &warnings;
  auto z = dns::load_zone("example.test.", "test.zone", errors, &text, options);
  REQUIRE(z);
  CHECK(errors.empty());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].to_string() == "test.zone:5: ignoring out-of-zone data (www.example.org.)");
  CHECK(z->nodes.size() == 2);
}

TEST_CASE("a zone without SOA or NS at the apex is rejected") {
  core::Errors errors;
  CHECK_FALSE(test::zone_from_text("example.test.", "$ORIGIN example.test.\nwww 60 IN A 192.0.2.1\n", &errors));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message.find("no SOA") != std::string::npos);
  CHECK(errors[1].message.find("no NS") != std::string::npos);
}

TEST_CASE("nested zones: the child answers its names, the parent answers DS at the cut") {
  auto parent = test::zone_from_text("example.test.", R"($ORIGIN example.test.
@ 3600 IN SOA ns1 hm 1 2 3 4 5
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.1
child 3600 IN NS ns1.child
child 3600 IN DS 1 13 2 0011223344556677889900112233445566778899001122334455667788990011
ns1.child 3600 IN A 192.0.2.2
)");
  auto child = test::zone_from_text("child.example.test.", R"($ORIGIN child.example.test.
@ 3600 IN SOA ns1 hm 7 2 3 4 5
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.2
www 3600 IN A 192.0.2.3
)");
  REQUIRE(parent);
  REQUIRE(child);
  auto t = dns::compile({child, parent});
  auto www = ask(*t, "www.child.example.test.", LDNS_RR_TYPE_A);
  CHECK(ldns_pkt_aa(www.pkt.get()));
  CHECK(section(www, LDNS_SECTION_ANSWER).size() == 1);
  auto soa = ask(*t, "child.example.test.", LDNS_RR_TYPE_SOA);
  CHECK(section(soa, LDNS_SECTION_ANSWER).front().find(" 7 ") != std::string::npos);
  auto ds = ask(*t, "child.example.test.", LDNS_RR_TYPE_DS);
  CHECK(section(ds, LDNS_SECTION_ANSWER).size() == 1);
  auto nx = ask(*t, "nope.child.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(nx) == LDNS_RCODE_NXDOMAIN);
  CHECK(section(nx, LDNS_SECTION_AUTHORITY).front().find(" 7 ") != std::string::npos);
}

TEST_CASE("a DNAME's CNAME is followed into our zone; names in the copied records stay right") {
  std::string text = kZone;
  text += "self     IN DNAME example.test.\nmx       IN MX 10 mail\n";
  auto z = test::zone_from_text("example.test.", text);
  REQUIRE(z);
  auto table = dns::compile({z});
  auto a = ask(*table, "WWW.self.example.test.", LDNS_RR_TYPE_A);
  REQUIRE(a.pkt);
  CHECK(rcode(a) == LDNS_RCODE_NOERROR);
  CHECK(ldns_pkt_aa(a.pkt.get()));
  CHECK(section(a, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"self.example.test. 3600 IN DNAME example.test.",
                                 "www.example.test. 60 IN A 192.0.2.10",
                                 "www.example.test. 60 IN A 192.0.2.11",
                                 "www.self.example.test. 3600 IN CNAME WWW.example.test."});
  // A chain at the target, an MX (a compressed name in RDATA) and its additional address.
  auto c = ask(*table, "alias2.self.example.test.", LDNS_RR_TYPE_A);
  CHECK(section(c, LDNS_SECTION_ANSWER).size() == 6);
  auto m = ask(*table, "mx.self.example.test.", LDNS_RR_TYPE_MX);
  CHECK(section(m, LDNS_SECTION_ANSWER) ==
        std::vector<std::string>{"mx.example.test. 3600 IN MX 10 mail.example.test.",
                                 "mx.self.example.test. 3600 IN CNAME mx.example.test.",
                                 "self.example.test. 3600 IN DNAME example.test."});
  // NODATA and NXDOMAIN at the target: its SOA in authority, its RCODE (RFC 6604).
  auto n = ask(*table, "mail.self.example.test.", LDNS_RR_TYPE_TXT);
  CHECK(rcode(n) == LDNS_RCODE_NOERROR);
  CHECK(section(n, LDNS_SECTION_AUTHORITY) ==
        std::vector<std::string>{"example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. "
                                 "1 3600 600 86400 300"});
  auto x = ask(*table, "nope.self.example.test.", LDNS_RR_TYPE_A);
  CHECK(rcode(x) == LDNS_RCODE_NXDOMAIN);
  CHECK(section(x, LDNS_SECTION_ANSWER).size() == 2);
  CHECK(section(x, LDNS_SECTION_AUTHORITY).size() == 1);
  // Below a delegation: the referral follows the CNAME; AA is the DNAME's.
  auto r = ask(*table, "host.sub.self.example.test.", LDNS_RR_TYPE_A);
  CHECK(ldns_pkt_aa(r.pkt.get()));
  CHECK(section(r, LDNS_SECTION_AUTHORITY) == std::vector<std::string>{"sub.example.test. 3600 IN NS ns.sub.example.test."});
  CHECK(section(r, LDNS_SECTION_ADDITIONAL) == std::vector<std::string>{"ns.sub.example.test. 3600 IN A 192.0.2.53"});
  // Not for qtype CNAME; too big for UDP: TC, and TCP gets it all.
  CHECK(section(ask(*table, "www.self.example.test.", LDNS_RR_TYPE_CNAME), LDNS_SECTION_ANSWER).size() == 2);
  auto big = ask(*table, "big.self.example.test.", LDNS_RR_TYPE_TXT);
  CHECK(ldns_pkt_tc(big.pkt.get()));
  auto big_tcp = ask(*table, "big.self.example.test.", LDNS_RR_TYPE_TXT, {false, 1232, true, true});
  CHECK(section(big_tcp, LDNS_SECTION_ANSWER).size() == 2 + 6);
}
