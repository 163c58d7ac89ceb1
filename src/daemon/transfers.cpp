#include "daemon/transfers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <string>

#include "core/log.hpp"

namespace gslb::daemon {

TransferGrant grant_transfer(const dns::Zone& zone, std::span<const uint8_t> query,
                             const dns::Query& q, const core::IpAddress& peer, bool udp) {
  TransferGrant g;
  g.now = uint64_t(std::time(nullptr));
  g.tsig = dns::tsig_verify(query, zone.transfer_keys, g.now);
  const bool is_unsigned = g.tsig.result == dns::TsigCheck::Result::unsigned_query;
  g.allowed = g.tsig.result == dns::TsigCheck::Result::ok;
  if (is_unsigned)
    for (const auto& p : zone.allow_transfer) g.allowed = g.allowed || p.contains(peer);
  const std::string zone_name = dns::name_to_text(zone.apex);
  if (!g.allowed) {
    g.rcode = uint8_t(is_unsigned ? dns::Rcode::refused : dns::Rcode::notauth);
    if (!is_unsigned)
      core::logf(core::Level::warning, "event=axfr-refused zone={} client={} tsig={}{}", zone_name,
                 peer.to_string(), dns::to_string(g.tsig.result),
                 g.tsig.key_name.empty() ? std::string() : " key=" + g.tsig.key_name);
    return g;
  }
  const bool ixfr = q.qtype == dns::rrtype::IXFR && q.has_ixfr_serial;
  if (ixfr) g.plan = dns::plan_ixfr(zone, q.ixfr_serial);
  const std::string key = g.tsig.key ? " key=" + g.tsig.key->text_name : std::string();
  const char* transport = udp ? " transport=udp" : "";
  if (g.plan.kind == dns::IxfrPlan::Kind::axfr)
    core::logf(core::Level::info, "event=axfr zone={} client={}{}{}{}", zone_name, peer.to_string(),
               key, transport, ixfr ? fmt::format(" ixfr-from={}", q.ixfr_serial) : std::string());
  else
    core::logf(core::Level::info, "event=ixfr zone={} client={} from={} to={}{}{}", zone_name,
               peer.to_string(), q.ixfr_serial, zone.serial(), key, transport);
  zone.transfers.fetch_add(1, std::memory_order_relaxed);
  return g;
}

size_t answer_udp_ixfr(const dns::Zone& zone, std::span<const uint8_t> query, const dns::Query& q,
                       const core::IpAddress& peer, const dns::HandlerOptions& opt,
                       std::span<uint8_t> out, dns::Outcome& outcome) {
  const TransferGrant g = grant_transfer(zone, query, q, peer, true);
  if (g.allowed) {
    // The client's buffer (512 bytes without EDNS, RFC 6891 §6.2.5), within what we send.
    const size_t asked = q.has_edns ? std::max<size_t>(q.edns_size, 512) : 512;
    const size_t limit = std::min({asked, size_t(opt.edns_size), out.size()});
    auto whole = [&](const dns::IxfrPlan& plan) {
      dns::TransferStream s = g.stream(zone, query, q, plan);
      if (q.has_edns) s.add_opt(opt.edns_size, q.edns_do);
      return s.whole(limit);
    };
    auto m = whole(g.plan);
    if (!m) m = whole({dns::IxfrPlan::Kind::up_to_date, 0});
    if (m) {
      std::memcpy(out.data(), m->data(), m->size());
      return m->size();
    }
  }
  outcome.rcode = g.allowed ? uint8_t(dns::Rcode::servfail) : g.rcode;
  return dns::answer_error(query, q, opt, out, outcome.rcode, true);
}

}  // namespace gslb::daemon
