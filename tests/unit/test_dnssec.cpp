// DNSSEC helpers. dns::longest_signed_ttl: the TTL `refresh` must cover is that of the RRsets
// signing signs, not of the NS of a delegation or of glue and names below it, which go out
// unsigned. dns::nsec_has_type / nsec_without_type: the NSEC a dynamic NODATA carries, checked
// against the RDATA ldns makes from presentation format.
#include <catch2/catch.hpp>

#include "dns/dnssec.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"

using namespace gslb;

namespace {

const char* kZone =
    "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
    "@ IN NS ns1\nns1 IN A 127.0.0.1\n"
    "www 600 IN A 192.0.2.1\n"
    "sub 86400 IN NS ns.sub\n"            // a delegation: its NS is not signed
    "ns.sub 90000 IN A 192.0.2.53\n"      // glue, nor this
    "deep.below.sub 99999 IN TXT \"x\"\n"  // a name the cut hides, nor this
    "subsub.x 5000 IN TXT \"not below the cut\"\n";

// The RDATA (wire) ldns makes of "NSEC next.example.test. TYPES".
std::string nsec(const std::string& types) {
  ldns_rr* rr = nullptr;
  const std::string text = "x.example.test. 300 IN NSEC next.example.test. " + types;
  REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK);
  ldns_buffer* buf = ldns_buffer_new(512);
  REQUIRE(ldns_rr_rdata2buffer_wire(buf, rr) == LDNS_STATUS_OK);
  std::string out(reinterpret_cast<const char*>(ldns_buffer_begin(buf)), ldns_buffer_position(buf));
  ldns_buffer_free(buf);
  ldns_rr_free(rr);
  return out;
}

std::string text(const dns::LongestTtl& l) {
  return dns::name_to_text(l.owner) + " " + dns::rrtype_to_text(l.type) + " " + std::to_string(l.ttl);
}

}  // namespace

TEST_CASE("longest_signed_ttl skips what a delegation leaves unsigned") {
  auto z = test::zone_from_text("example.test.", kZone);
  REQUIRE(z);
  CHECK(text(dns::longest_signed_ttl(*z)) == "subsub.x.example.test. TXT 5000");

  auto with_ds = test::zone_from_text(
      "example.test.", std::string(kZone) + "sub 7200 IN DS 12345 13 2 "
      "8F5E1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7\n");
  REQUIRE(with_ds);
  CHECK(text(dns::longest_signed_ttl(*with_ds)) == "sub.example.test. DS 7200");  // the DS is signed

  auto apex_only = test::zone_from_text(
      "example.test.", "$ORIGIN example.test.\n@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                       "@ 60 IN NS ns1\nns1 60 IN A 127.0.0.1\n");
  REQUIRE(apex_only);
  CHECK(text(dns::longest_signed_ttl(*apex_only)) == "example.test. SOA 3600");
}

TEST_CASE("an NSEC bitmap without one type") {
  const std::string all = nsec("A AAAA RRSIG NSEC CAA");
  CHECK(dns::nsec_has_type(all, 1));
  CHECK(dns::nsec_has_type(all, 28));
  CHECK(dns::nsec_has_type(all, 257));  // CAA, in window 1
  CHECK_FALSE(dns::nsec_has_type(all, 15));
  CHECK_FALSE(dns::nsec_has_type(all, 300));  // window 1, past its bitmap
  CHECK(dns::nsec_without_type(all, 1) == nsec("AAAA RRSIG NSEC CAA"));
  CHECK(dns::nsec_without_type(all, 28) == nsec("A RRSIG NSEC CAA"));
  CHECK(dns::nsec_without_type(all, 257) == nsec("A AAAA RRSIG NSEC"));  // window 1 left out
  CHECK(dns::nsec_without_type(nsec("A AAAA"), 28) == nsec("A"));       // trailing zeros trimmed
  CHECK(dns::nsec_without_type(all, 15) == all);                           // not there: unchanged
  const std::string pointer = std::string("\xc0\x0c\x00\x01\x40", 5);  // a compressed next name
  CHECK_FALSE(dns::nsec_has_type(pointer, 1));
  CHECK(dns::nsec_without_type(pointer, 1) == pointer);
}
