// Zone transfers as the DNS workers grant them: who may have one (TSIG key or address list),
// which answer (AXFR, or IXFR from the zone's history), the log line, and IXFR over UDP answered
// whole. The workers' sockets and streaming stay in dns_server.cpp.
#pragma once

#include <cstdint>
#include <span>

#include "core/address.hpp"
#include "dns/axfr.hpp"
#include "dns/handler.hpp"
#include "dns/ixfr.hpp"
#include "dns/tsig.hpp"

namespace gslb::daemon {

// A zone transfer that a client asked for: AXFR or IXFR over TCP, IXFR over UDP. A signed
// request (RFC 8945) is allowed by its key, from any address; an unsigned one by the zone's
// address list. Whoever is allowed gets a plan and a log line; a bad signature gets NOTAUTH
// (§5.2) and a log line, anyone else REFUSED.
struct TransferGrant {
  bool allowed = false;
  uint8_t rcode = 0;  // when refused
  dns::TsigCheck tsig;
  dns::IxfrPlan plan;  // AXFR, unless an IXFR finds the client's version
  uint64_t now = 0;

  // The answer's stream for `plan`, signed when the request was.
  dns::TransferStream stream(const dns::Zone& zone, std::span<const uint8_t> query,
                             const dns::Query& q, const dns::IxfrPlan& p) const {
    dns::TransferStream s(dns::ixfr_source(zone, p), query, q);
    if (tsig.key) s.sign_with(*tsig.key, tsig.mac, now);
    return s;
  }
};

// Checks the request and logs what was granted or refused; counts a granted transfer.
TransferGrant grant_transfer(const dns::Zone& zone, std::span<const uint8_t> query,
                             const dns::Query& q, const core::IpAddress& peer, bool udp);

// IXFR over UDP (RFC 1995 §2): the whole answer when it fits the client's buffer, else the
// current SOA alone, so that the client asks again over TCP. Refusals as over TCP.
size_t answer_udp_ixfr(const dns::Zone& zone, std::span<const uint8_t> query, const dns::Query& q,
                       const core::IpAddress& peer, const dns::HandlerOptions& opt,
                       std::span<uint8_t> out, dns::Outcome& outcome);

}  // namespace gslb::daemon
