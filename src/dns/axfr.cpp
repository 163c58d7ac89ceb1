#include "dns/axfr.hpp"

#include <memory>

#include "dns/encoder.hpp"

namespace gslb::dns {

namespace {
constexpr size_t kMessageTarget = 16 * 1024;
}  // namespace

std::vector<std::string> transfer_messages(const Zone& zone, std::span<const uint8_t> query,
                                           const Query& q) {
  std::vector<std::string> messages;
  std::string question(reinterpret_cast<const char*>(query.data()) + kHeaderSize,
                       q.question_end - kHeaderSize);
  std::string base(reinterpret_cast<const char*>(q.qname_lower), q.qname_len);
  auto enc = std::make_unique<Encoder>(base);
  uint16_t count = 0;

  auto flush = [&] {
    std::string m(kHeaderSize, '\0');
    auto* h = reinterpret_cast<uint8_t*>(m.data());
    put16(h, q.id);
    put16(h + 2, 0x8400);  // QR, AA
    put16(h + 4, 1);
    put16(h + 6, count);
    m += question;
    m += enc->bytes();
    messages.push_back(std::move(m));
    enc = std::make_unique<Encoder>(base);
    count = 0;
  };
  auto put = [&](std::string_view owner, uint16_t type, uint32_t ttl, const Rdata& d) {
    if (enc->size() > kMessageTarget) flush();
    enc->rr(owner, type, ttl, d);
    ++count;
  };

  const RRset& soa = zone.soa();
  put(zone.apex, rrtype::SOA, soa.ttl, soa.rdata.front());
  for (const auto& node : zone.nodes)
    for (const auto& set : node.rrsets) {
      if (set.type == rrtype::SOA) continue;
      for (const auto& d : set.rdata) put(node.name, set.type, set.ttl, d);
    }
  put(zone.apex, rrtype::SOA, soa.ttl, soa.rdata.front());
  flush();
  return messages;
}

}  // namespace gslb::dns
