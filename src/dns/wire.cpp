#include "dns/wire.hpp"

#include <cstring>

namespace gslb::dns {

namespace {

// Skips a possibly compressed name; returns the offset after it, or 0 if malformed.
// Compression pointers are not followed: only their two bytes are skipped, so no loop can form.
size_t skip_name(const uint8_t* p, size_t len, size_t off) noexcept {
  size_t total = 0;
  while (off < len) {
    uint8_t l = p[off];
    if ((l & 0xC0) == 0xC0) return off + 2 <= len ? off + 2 : 0;
    if (l & 0xC0) return 0;  // 0x40 and 0x80 label types are obsolete (RFC 6891 §5)
    total += l + 1;
    if (total > kMaxName) return 0;
    off += 1 + l;
    if (l == 0) return off;
  }
  return 0;
}

// RFC 7871 §6 and §7.2.1: the option's framing and that ADDRESS is exactly SOURCE's bits.
bool parse_ecs(const uint8_t* d, uint16_t len, Query& q) noexcept {
  if (len < 4) return false;
  const uint16_t family = get16(d);
  const uint8_t source = d[2];
  const unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;
  if (max == 0 || source > max) return false;
  const unsigned bytes = (source + 7u) / 8u;
  if (len != 4 + bytes) return false;
  if (source % 8 && (d[4 + bytes - 1] & uint8_t(0xFF >> (source % 8)))) return false;
  q.ecs_family = family;
  q.ecs_source = source;
  std::memset(q.ecs_address, 0, sizeof q.ecs_address);
  std::memcpy(q.ecs_address, d + 4, bytes);
  return true;
}

}  // namespace

ParseStatus parse_query(std::span<const uint8_t> packet, Query& q) noexcept {
  const uint8_t* p = packet.data();
  const size_t len = packet.size();
  q.has_question = false;
  q.has_edns = false;
  q.edns_size = 0;
  q.edns_version = 0;
  q.edns_do = false;
  q.cookie_at = 0;
  q.cookie_len = 0;
  q.cookie_malformed = false;
  q.ecs_at = 0;
  q.ecs_len = 0;
  q.ecs_malformed = false;
  q.has_ixfr_serial = false;
  q.ixfr_serial = 0;
  q.has_tsig = false;
  if (len < kHeaderSize) return ParseStatus::drop;
  q.id = get16(p);
  q.flags = get16(p + 2);
  if (q.flags & 0x8000) return ParseStatus::drop;  // QR=1: a response, never answer it
  const uint16_t qd = get16(p + 4), an = get16(p + 6), ns = get16(p + 8), ar = get16(p + 10);
  const unsigned opcode = (q.flags >> 11) & 0xF;

  // Question. Only QDCOUNT=1 is meaningful (RFC 9619); a pointer inside it could only point
  // back into the header, so it is malformed.
  size_t off = kHeaderSize;
  if (qd >= 1) {
    size_t n = 0;
    q.label_count = 0;
    for (;;) {
      if (off >= len) return opcode ? ParseStatus::notimp : ParseStatus::formerr;
      uint8_t l = p[off];
      if (l & 0xC0) return opcode ? ParseStatus::notimp : ParseStatus::formerr;
      if (n + l + 1 > kMaxName || off + 1 + l > len)
        return opcode ? ParseStatus::notimp : ParseStatus::formerr;
      if (l == 0) {
        q.qname_lower[n++] = 0;
        ++off;
        break;
      }
      q.label_offsets[q.label_count++] = uint8_t(n);
      q.qname_lower[n++] = l;
      for (unsigned i = 0; i < l; ++i) q.qname_lower[n++] = ascii_lower(p[off + 1 + i]);
      off += 1 + l;
    }
    q.qname_len = n;
    if (off + 4 > len) return opcode ? ParseStatus::notimp : ParseStatus::formerr;
    q.qtype = get16(p + off);
    q.qclass = get16(p + off + 2);
    off += 4;
    q.question_end = off;
    q.has_question = qd == 1;
  }
  if (opcode != 0) return ParseStatus::notimp;
  if (qd != 1) return ParseStatus::formerr;
  // A query carries no answer or authority records (NOTIFY and UPDATE are other opcodes), but
  // for IXFR's SOA in authority (RFC 1995 §3): its serial says which version the client has.
  if (an != 0 || (ns != 0 && !(ns == 1 && q.qtype == rrtype::IXFR))) return ParseStatus::formerr;

  bool badvers = false;
  for (unsigned i = 0; i < unsigned(ns) + ar; ++i) {
    size_t name_at = off;
    off = skip_name(p, len, off);
    if (off == 0 || off + 10 > len) return ParseStatus::formerr;
    const uint16_t type = get16(p + off);
    const uint16_t rdlen = get16(p + off + 8);
    if (off + 10 + rdlen > len) return ParseStatus::formerr;
    if (i < ns) {
      // SOA RDATA ends with SERIAL and four more 32-bit fields, whatever its names' form.
      if (type == rrtype::SOA && rdlen >= 22) {
        q.has_ixfr_serial = true;
        q.ixfr_serial = get32(p + off + 10 + rdlen - 20);
      }
      off += 10 + rdlen;
      continue;
    }
    if (type == rrtype::TSIG) q.has_tsig = true;
    if (type == rrtype::OPT) {
      // RFC 6891 §6.1.1: one OPT at most, owned by the root.
      if (q.has_edns || p[name_at] != 0) return ParseStatus::formerr;
      q.has_edns = true;
      q.edns_size = get16(p + off + 2);
      q.edns_version = p[off + 5];
      q.edns_do = (p[off + 6] & 0x80) != 0;
      if (q.edns_version != 0) badvers = true;
      // Options are walked to check their framing and find COOKIE and ECS; unknown ones are ignored
      // (§6.1.2).
      size_t o = off + 10, end = off + 10 + rdlen;
      while (o < end) {
        if (o + 4 > end) return ParseStatus::formerr;
        const uint16_t code = get16(p + o), olen = get16(p + o + 2);
        if (o + 4 + olen > end) return ParseStatus::formerr;
        if (code == kOptionCookie && q.cookie_len == 0 && !q.cookie_malformed) {
          if (olen == 8 || (olen >= 16 && olen <= 40)) {
            q.cookie_at = uint16_t(o + 4);
            q.cookie_len = uint8_t(olen);
          } else {
            q.cookie_malformed = true;
          }
        }
        if (code == kOptionEcs) {
          if (q.ecs_at != 0 || q.ecs_malformed || !parse_ecs(p + o + 4, olen, q)) {
            q.ecs_malformed = true;
            q.ecs_at = 0;
          } else {
            q.ecs_at = uint16_t(o + 4);
            q.ecs_len = olen;
          }
        }
        o += 4 + olen;
      }
    }
    off += 10 + rdlen;
  }
  if (off != len) return ParseStatus::formerr;  // trailing bytes: the counts do not add up
  return badvers ? ParseStatus::badvers : ParseStatus::ok;
}

std::string name_from_text(std::string_view text) {
  std::string out;
  if (text == "." || text.empty()) return std::string(1, '\0');
  if (text.back() == '.') text.remove_suffix(1);
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    size_t l = dot - start;
    if (l == 0 || l > kMaxLabel) return {};
    out.push_back(char(l));
    for (size_t i = start; i < dot; ++i) out.push_back(char(ascii_lower(uint8_t(text[i]))));
    start = dot + 1;
    if (dot == text.size()) break;
  }
  out.push_back('\0');
  if (out.size() > kMaxName) return {};
  return out;
}

std::string name_to_text(std::string_view wire) {
  std::string out;
  size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    uint8_t l = uint8_t(wire[i]);
    for (size_t k = 1; k <= l && i + k < wire.size(); ++k) {
      unsigned char c = uint8_t(wire[i + k]);
      if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(char(c));
      } else if (c <= ' ' || c >= 0x7F) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        out += buf;
      } else {
        out.push_back(char(c));
      }
    }
    out.push_back('.');
    i += l + 1;
  }
  return out.empty() ? "." : out;
}

void name_lower(std::string& wire) {
  size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    uint8_t l = uint8_t(wire[i]);
    for (size_t k = 1; k <= l && i + k < wire.size(); ++k)
      wire[i + k] = char(ascii_lower(uint8_t(wire[i + k])));
    i += l + 1;
  }
}

bool name_is_subdomain(std::string_view name, std::string_view ancestor) {
  for (std::string_view n = name;; n = name_parent(n)) {
    if (n == ancestor) return true;
    if (n.size() <= 1) return false;
  }
}

std::string_view name_parent(std::string_view wire) {
  if (wire.size() <= 1) return wire;
  return wire.substr(1 + uint8_t(wire[0]));
}

size_t name_label_count(std::string_view wire) {
  size_t n = 0;
  for (std::string_view w = wire; w.size() > 1; w = name_parent(w)) ++n;
  return n;
}

size_t canonical_key(const uint8_t* name, size_t len, uint8_t* out) noexcept {
  uint8_t starts[128];
  size_t count = 0;
  for (size_t at = 0; at < len && name[at] != 0 && count < sizeof starts; at += name[at] + 1u)
    starts[count++] = uint8_t(at);
  size_t n = 0;
  while (count > 0) {
    const size_t at = starts[--count];
    for (size_t i = 1; i <= name[at] && at + i < len; ++i) {
      const uint8_t c = name[at + i];
      if (c <= 1) {
        out[n++] = 1;
        out[n++] = uint8_t(c + 1);
      } else {
        out[n++] = c;
      }
    }
    out[n++] = 0;
  }
  return n;
}

}  // namespace gslb::dns
