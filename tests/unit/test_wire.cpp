// The query decoder: every malformed packet has a defined outcome, and for well-formed ones it
// agrees with ldns's parser.
#include <catch2/catch.hpp>

#include "dns_test_util.hpp"
#include "dns/wire.hpp"

using namespace gslb;
using dns::ParseStatus;

namespace {

ParseStatus parse(const std::vector<uint8_t>& p, dns::Query& q) { return dns::parse_query(p, q); }

// www.example.test. A, no EDNS, id 0x1234, RD.
std::vector<uint8_t> good() {
  return {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
          3, 'W', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
          0, 1, 0, 1};
}

}  // namespace

TEST_CASE("a good query decodes, name lower-cased") {
  dns::Query q;
  REQUIRE(parse(good(), q) == ParseStatus::ok);
  CHECK(q.id == 0x1234);
  CHECK(q.qtype == 1);
  CHECK(q.qclass == 1);
  CHECK(q.qname_len == 18);
  CHECK(q.label_count == 3);
  CHECK(std::string(reinterpret_cast<char*>(q.qname_lower), q.qname_len) ==
        dns::name_from_text("www.example.test."));
  CHECK_FALSE(q.has_edns);
}

TEST_CASE("one byte short of the question is FORMERR, short of a header is dropped") {
  dns::Query q;
  auto p = good();
  p.pop_back();
  CHECK(parse(p, q) == ParseStatus::formerr);
  std::vector<uint8_t> hdr(p.begin(), p.begin() + 11);
  CHECK(parse(hdr, q) == ParseStatus::drop);
}

TEST_CASE("a trailing byte is FORMERR: the section counts must account for every byte") {
  dns::Query q;
  auto p = good();
  p.push_back(0);
  CHECK(parse(p, q) == ParseStatus::formerr);
}

TEST_CASE("a response (QR=1) is dropped") {
  dns::Query q;
  auto p = good();
  p[2] |= 0x80;
  CHECK(parse(p, q) == ParseStatus::drop);
}

TEST_CASE("an opcode other than QUERY is NOTIMP, with the question kept for the echo") {
  dns::Query q;
  auto p = good();
  p[2] = (2 << 3) | 1;  // STATUS
  CHECK(parse(p, q) == ParseStatus::notimp);
  CHECK(q.has_question);
}

TEST_CASE("a compression pointer in the question, even a loop, is FORMERR") {
  dns::Query q;
  std::vector<uint8_t> p = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  CHECK(parse(p, q) == ParseStatus::formerr);
  std::vector<uint8_t> p2 = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xC0, 14, 0, 1, 0, 1};
  CHECK(parse(p2, q) == ParseStatus::formerr);
}

TEST_CASE("bad label lengths are FORMERR") {
  dns::Query q;
  SECTION("label runs past the end") {
    std::vector<uint8_t> p = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 'a', 'b', 0, 0, 1, 0, 1};
    CHECK(parse(p, q) == ParseStatus::formerr);
  }
  SECTION("reserved label type 0x40") {
    std::vector<uint8_t> p = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1};
    CHECK(parse(p, q) == ParseStatus::formerr);
  }
  SECTION("name longer than 255 bytes") {
    std::vector<uint8_t> p = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 5; ++i) {
      p.push_back(63);
      p.insert(p.end(), 63, 'a');
    }
    p.insert(p.end(), {0, 0, 1, 0, 1});
    CHECK(parse(p, q) == ParseStatus::formerr);
  }
}

TEST_CASE("QDCOUNT other than 1, or records in answer/authority, is FORMERR") {
  dns::Query q;
  auto p = good();
  p[5] = 0;
  CHECK(parse(std::vector<uint8_t>(p.begin(), p.begin() + 12), q) == ParseStatus::formerr);
  p = good();
  p[5] = 2;
  CHECK(parse(p, q) == ParseStatus::formerr);
  p = good();
  p[7] = 1;
  CHECK(parse(p, q) == ParseStatus::formerr);
}

TEST_CASE("EDNS: size, DO and version are read; two OPT records are FORMERR") {
  dns::Query q;
  auto p = good();
  p[11] = 1;
  std::vector<uint8_t> opt = {0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 0};
  p.insert(p.end(), opt.begin(), opt.end());
  REQUIRE(parse(p, q) == ParseStatus::ok);
  CHECK(q.has_edns);
  CHECK(q.edns_size == 4096);
  CHECK(q.edns_do);

  auto v1 = p;
  v1[v1.size() - 5] = 1;  // OPT TTL: extended rcode, then version
  CHECK(parse(v1, q) == ParseStatus::badvers);

  auto two = p;
  two[11] = 2;
  two.insert(two.end(), opt.begin(), opt.end());
  CHECK(parse(two, q) == ParseStatus::formerr);

  auto badopt = p;  // an option whose length runs past RDATA
  badopt[badopt.size() - 1] = 4;
  badopt.insert(badopt.end(), {0, 10, 0, 9});
  CHECK(parse(badopt, q) == ParseStatus::formerr);
}

TEST_CASE("the decoder agrees with ldns on queries ldns builds") {
  const char* names[] = {"www.example.test.", "A.b.C.d.", ".", "xn--bcher-kva.example.",
                         "_443._tcp.www.example.test."};
  const ldns_rr_type types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_ANY,
                                LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_TXT};
  for (const char* n : names) {
    for (auto t : types) {
      for (bool edns : {false, true}) {
        auto wire = test::make_query(n, t, {edns, 1400});
        dns::Query q;
        REQUIRE(parse(wire, q) == ParseStatus::ok);
        ldns_pkt* pkt = nullptr;
        REQUIRE(ldns_wire2pkt(&pkt, wire.data(), wire.size()) == LDNS_STATUS_OK);
        ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
        ldns_rdf* owner = ldns_rdf_clone(ldns_rr_owner(question));
        ldns_dname2canonical(owner);
        CHECK(std::string(reinterpret_cast<char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner)) ==
              std::string(reinterpret_cast<char*>(q.qname_lower), q.qname_len));
        CHECK(q.qtype == ldns_rr_get_type(question));
        CHECK(q.id == ldns_pkt_id(pkt));
        CHECK(q.has_edns == ldns_pkt_edns(pkt));
        if (edns) CHECK(q.edns_size == ldns_pkt_edns_udp_size(pkt));
        ldns_rdf_deep_free(owner);
        ldns_pkt_free(pkt);
      }
    }
  }
}

TEST_CASE("name helpers") {
  CHECK(dns::name_to_text(dns::name_from_text("WWW.Example.test")) == "www.example.test.");
  CHECK(dns::name_from_text("a..b").empty());
  CHECK(dns::name_from_text(std::string(64, 'a') + ".test").empty());
  CHECK(dns::name_is_subdomain(dns::name_from_text("a.b.test"), dns::name_from_text("b.test")));
  CHECK_FALSE(dns::name_is_subdomain(dns::name_from_text("ab.test"), dns::name_from_text("b.test")));
  CHECK(dns::name_label_count(dns::name_from_text(".")) == 0);
}

TEST_CASE("canonical_key orders names as RFC 4034 section 6.1 does") {
  // The RFC's own example, in its order (lower-cased, as the table holds names).
  const std::vector<std::string> ordered = {
      std::string("\x07" "example\0", 9),
      std::string("\x01" "a\x07" "example\0", 11),
      std::string("\x08" "yljkjljk\x01" "a\x07" "example\0", 20),
      std::string("\x01" "z\x01" "a\x07" "example\0", 13),
      std::string("\x04" "zabc\x01" "a\x07" "example\0", 16),
      std::string("\x01" "z\x07" "example\0", 11),
      std::string("\x01\x01\x01" "z\x07" "example\0", 13),
      std::string("\x01*\x01" "z\x07" "example\0", 13),
      std::string("\x01\x80\x01" "z\x07" "example\0", 13),
  };
  auto key = [](const std::string& name) {
    uint8_t out[gslb::dns::kMaxCanonicalKey];
    const size_t n = gslb::dns::canonical_key(reinterpret_cast<const uint8_t*>(name.data()), name.size(), out);
    return std::string(reinterpret_cast<const char*>(out), n);
  };
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    INFO("name " << i);
    CHECK(key(ordered[i]) < key(ordered[i + 1]));
  }
  // A zero byte inside a label sorts before every other byte but after the label's end.
  const std::string a0("\x02" "a\0" "\x07" "example\0", 12), a("\x01" "a\x07" "example\0", 11),
      a1("\x02" "a\x01" "\x07" "example\0", 12);
  CHECK(key(a) < key(a0));
  CHECK(key(a0) < key(a1));
}

TEST_CASE("IXFR may carry the client's SOA in authority (RFC 1995 §3); other queries may not") {
  auto query = [](uint16_t qtype) {
    std::string m("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00", 12);
    const std::string apex = dns::name_from_text("example.test.");
    m += apex;
    m += char(qtype >> 8);
    m += char(qtype);
    m += std::string("\x00\x01", 2);
    m += std::string("\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x16", 12);  // SOA, RDLENGTH 22
    m += std::string("\x00\x00", 2);                                                // MNAME ., RNAME .
    m += std::string("\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x02\x58\x00\x01\x51\x80\x00\x00\x01\x2c", 20);
    return std::vector<uint8_t>(m.begin(), m.end());
  };
  dns::Query q;
  CHECK(parse(query(dns::rrtype::IXFR), q) == ParseStatus::ok);
  CHECK(q.qtype == dns::rrtype::IXFR);
  CHECK(q.has_ixfr_serial);
  CHECK(q.ixfr_serial == 1);
  CHECK(parse(query(dns::rrtype::A), q) == ParseStatus::formerr);
  CHECK_FALSE(q.has_ixfr_serial);
}
