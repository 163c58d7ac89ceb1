// The one place ldns is included from. ldns/common.h redefines `bool`, `true` and `false` unless
// <stdbool.h> came first, which breaks standard headers included after it. Private to src/dns.
#pragma once

#include <stdbool.h>  // NOLINT(modernize-deprecated-headers): must precede ldns

#include <ldns/ldns.h>

#include <memory>

namespace gslb::dns {

struct LdnsRrFree {
  void operator()(ldns_rr* rr) const noexcept { ldns_rr_free(rr); }
};
struct LdnsRdfFree {
  void operator()(ldns_rdf* rdf) const noexcept { ldns_rdf_deep_free(rdf); }
};
struct LdnsPktFree {
  void operator()(ldns_pkt* pkt) const noexcept { ldns_pkt_free(pkt); }
};
// Signing (dnssec.cpp). A key list frees the keys in it; an RR list does not free its RRs.
struct LdnsKeyFree {
  void operator()(ldns_key* k) const noexcept { ldns_key_deep_free(k); }
};
struct LdnsKeyListFree {
  void operator()(ldns_key_list* l) const noexcept { ldns_key_list_free(l); }
};
struct LdnsDnssecZoneFree {
  void operator()(ldns_dnssec_zone* z) const noexcept { ldns_dnssec_zone_deep_free(z); }
};
struct LdnsRrListFree {
  void operator()(ldns_rr_list* l) const noexcept { ldns_rr_list_free(l); }
};
using LdnsKey = std::unique_ptr<ldns_key, LdnsKeyFree>;
using LdnsKeyList = std::unique_ptr<ldns_key_list, LdnsKeyListFree>;
using LdnsDnssecZone = std::unique_ptr<ldns_dnssec_zone, LdnsDnssecZoneFree>;
using LdnsRrList = std::unique_ptr<ldns_rr_list, LdnsRrListFree>;
using LdnsRr = std::unique_ptr<ldns_rr, LdnsRrFree>;
using LdnsRdf = std::unique_ptr<ldns_rdf, LdnsRdfFree>;
using LdnsPkt = std::unique_ptr<ldns_pkt, LdnsPktFree>;

}  // namespace gslb::dns
