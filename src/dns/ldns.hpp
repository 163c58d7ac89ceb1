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
using LdnsRr = std::unique_ptr<ldns_rr, LdnsRrFree>;
using LdnsRdf = std::unique_ptr<ldns_rdf, LdnsRdfFree>;
using LdnsPkt = std::unique_ptr<ldns_pkt, LdnsPktFree>;

}  // namespace gslb::dns
