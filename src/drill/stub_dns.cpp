#include "drill/stub_dns.hpp"

#include <algorithm>

#include "dns/wire.hpp"

namespace gslb::drill {

namespace {

// Skips a possibly compressed name starting at `pos`; returns the offset after it or 0.
size_t skip_name(std::span<const uint8_t> p, size_t pos) {
  for (size_t labels = 0; labels < 128; ++labels) {
    if (pos >= p.size()) return 0;
    const uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) return pos + 2 <= p.size() ? pos + 2 : 0;
    if (len & 0xC0) return 0;  // the reserved label types (RFC 6891 §5 retired 0x40)
    if (len == 0) return pos + 1;
    pos += 1 + len;
  }
  return 0;
}

}  // namespace

std::vector<uint8_t> make_a_query(std::string_view name, uint16_t id) {
  const std::string wire = dns::name_from_text(name);
  if (wire.empty()) return {};
  std::vector<uint8_t> q(dns::kHeaderSize + wire.size() + 4, 0);
  dns::put16(&q[0], id);
  dns::put16(&q[2], 0x0100);  // RD, like a stub resolver
  dns::put16(&q[4], 1);       // QDCOUNT
  std::copy(wire.begin(), wire.end(), q.begin() + dns::kHeaderSize);
  uint8_t* tail = &q[dns::kHeaderSize + wire.size()];
  dns::put16(tail, dns::rrtype::A);
  dns::put16(tail + 2, dns::kClassIN);
  return q;
}

std::optional<AAnswer> parse_a_answer(std::span<const uint8_t> p, uint16_t id) {
  if (p.size() < dns::kHeaderSize) return std::nullopt;
  const uint16_t flags = dns::get16(&p[2]);
  if (dns::get16(&p[0]) != id || !(flags & 0x8000)) return std::nullopt;
  AAnswer a;
  a.rcode = uint8_t(flags & 0x0F);
  const uint16_t qd = dns::get16(&p[4]), an = dns::get16(&p[6]);
  size_t pos = dns::kHeaderSize;
  for (uint16_t i = 0; i < qd; ++i) {
    pos = skip_name(p, pos);
    if (pos == 0 || pos + 4 > p.size()) return std::nullopt;
    pos += 4;
  }
  bool any_ttl = false;
  for (uint16_t i = 0; i < an; ++i) {
    pos = skip_name(p, pos);
    if (pos == 0 || pos + 10 > p.size()) return std::nullopt;
    const uint16_t type = dns::get16(&p[pos]), cls = dns::get16(&p[pos + 2]);
    const uint32_t ttl = dns::get32(&p[pos + 4]);
    const uint16_t rdlen = dns::get16(&p[pos + 8]);
    pos += 10;
    if (pos + rdlen > p.size()) return std::nullopt;
    // A CNAME's TTL bounds the cache entry just as the address's does (RFC 2181 §5.2 keeps
    // TTLs per RRset; a stub caches the chain as long as its shortest link).
    a.ttl = any_ttl ? std::min(a.ttl, ttl) : ttl;
    any_ttl = true;
    if (type == dns::rrtype::A && cls == dns::kClassIN && rdlen == 4) {
      core::IpAddress ip;
      std::copy(&p[pos], &p[pos] + 4, ip.bytes.begin());
      a.addresses.push_back(ip);
    }
    pos += rdlen;
  }
  return a;
}

}  // namespace gslb::drill
