// dns::longest_signed_ttl: the TTL `refresh` must cover is that of the RRsets signing signs,
// not of the NS of a delegation or of glue and names below it, which go out unsigned.
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
