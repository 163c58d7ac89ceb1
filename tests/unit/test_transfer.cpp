// What a zone transfer carries (dns/axfr.hpp): the zone itself, or its transfer view with the
// dynamic names' fail-open addresses added beside the zone file's records. ldns reads the
// messages back.
#include <catch2/catch.hpp>

#include <algorithm>

#include "dns/axfr.hpp"
#include "dns_test_util.hpp"

using namespace gslb;

namespace {

// Every record of the AXFR as "owner ttl type rdata" text (ldns), closing SOA included.
std::vector<std::string> axfr_text(const dns::Zone& zone) {
  const auto query = test::make_query("example.test.", LDNS_RR_TYPE_AXFR, {false, 1232, false, true});
  dns::Query q;
  REQUIRE(dns::parse_query(query, q) == dns::ParseStatus::ok);
  std::vector<std::string> out;
  for (const auto& m : dns::transfer_messages(zone, query, q)) {
    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_wire2pkt(&raw, reinterpret_cast<const uint8_t*>(m.data()), m.size()) == LDNS_STATUS_OK);
    dns::LdnsPkt pkt(raw);
    const ldns_rr_list* an = ldns_pkt_answer(pkt.get());
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) {
      char* s = ldns_rr2str(ldns_rr_list_rr(an, i));
      std::string line(s);
      free(s);
      std::replace(line.begin(), line.end(), '\t', ' ');
      while (!line.empty() && line.back() == '\n') line.pop_back();
      out.push_back(line);
    }
  }
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("a transfer view adds the dynamic names' addresses and leaves the zone as it is") {
  auto zone = std::const_pointer_cast<dns::Zone>(test::zone_from_text(
      "example.test.", "$TTL 300\n@ SOA ns1 hostmaster 7 3600 600 86400 300\n@ NS ns1\n"
                       "ns1 A 192.0.2.1\nwww TXT \"from the file\"\nzz MX 10 ns1\n"));
  REQUIRE(zone);
  const auto ip = [](const char* text) { return *core::IpAddress::parse(text); };
  std::vector<dns::TransferName> names = {
      {dns::name_from_text("www.example.test."), 10, {ip("192.0.2.10"), ip("2001:db8::10"), ip("192.0.2.11")}},
      {dns::name_from_text("a.b.example.test."), 20, {ip("192.0.2.20")}},
      {dns::name_from_text("none.example.test."), 30, {}},  // all_down servfail: nothing
  };
  CHECK(&dns::transfer_source(*zone) == zone.get());
  zone->transfer_view = dns::make_transfer_view(*zone, names);
  const dns::Zone& view = dns::transfer_source(*zone);
  CHECK(&view == zone->transfer_view.get());
  CHECK(view.transfer_names.size() == 3);
  CHECK(std::is_sorted(view.nodes.begin(), view.nodes.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  REQUIRE(view.find(dns::name_from_text("a.b.example.test.")));
  CHECK_FALSE(view.find(dns::name_from_text("none.example.test.")));
  CHECK(view.soa().rdata.front().wire == zone->soa().rdata.front().wire);

  const auto recs = axfr_text(*zone);
  CHECK(has(recs, "www.example.test. 10 IN A 192.0.2.10"));
  CHECK(has(recs, "www.example.test. 10 IN A 192.0.2.11"));
  CHECK(has(recs, "www.example.test. 10 IN AAAA 2001:db8::10"));
  CHECK(has(recs, "www.example.test. 300 IN TXT \"from the file\""));
  CHECK(has(recs, "a.b.example.test. 20 IN A 192.0.2.20"));
  CHECK(has(recs, "zz.example.test. 300 IN MX 10 ns1.example.test."));
  CHECK(std::count_if(recs.begin(), recs.end(), [](const auto& r) { return r.find(" SOA ") != std::string::npos; }) == 2);
  CHECK(recs.size() == 6 + 3 + 1);  // SOA twice, NS, ns1 A, TXT, MX; www 3; a.b 1
  // The zone itself is unchanged: its own nodes have no addresses at www.
  CHECK_FALSE(zone->find(dns::name_from_text("www.example.test."))->find(dns::rrtype::A));
  CHECK_FALSE(zone->find(dns::name_from_text("a.b.example.test.")));
}
