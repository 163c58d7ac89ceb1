// DNS wire-format constants and our own small decoder for the query path: header, question and
// the OPT record (RFC 1035 §4, RFC 6891). It never allocates and never throws; ldns is used for
// zone files only, and tests cross-check this decoder against ldns's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace gslb::dns {

namespace rrtype {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15,
                          TXT = 16, AAAA = 28, SRV = 33, DNAME = 39, OPT = 41, DS = 43,
                          RRSIG = 46, NSEC = 47, DNSKEY = 48, CDS = 59, CDNSKEY = 60,
                          TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253, MAILA = 254, ANY = 255;
}
inline constexpr uint16_t kClassIN = 1;

enum class Rcode : uint8_t {
  noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5, notauth = 9,
};
inline constexpr uint16_t kBadVers = 16;  // extended RCODE, RFC 6891 §9
inline constexpr uint16_t kOptionCookie = 10;  // EDNS option code, RFC 7873 §4
inline constexpr uint16_t kOptionEcs = 8;      // EDNS Client Subnet, RFC 7871 §6

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxName = 255;
inline constexpr size_t kMaxLabel = 63;
inline constexpr size_t kMinUdp = 512;

inline uint16_t get16(const uint8_t* p) noexcept { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) noexcept {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) noexcept { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put32(uint8_t* p, uint32_t v) noexcept {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

inline uint8_t ascii_lower(uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// What a query turned out to be, before any lookup.
enum class ParseStatus : uint8_t {
  ok,
  drop,       // too short for a header, or a response (QR=1): send nothing
  formerr,    // the header is there but the rest is malformed
  notimp,     // an opcode other than QUERY
  badvers,    // EDNS version > 0
};

// A decoded query. Views point into the packet and into the caller's scratch.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;           // as received
  size_t qname_len = 0;         // wire length of the question name, root label included
  uint8_t qname_lower[kMaxName];// lower-cased copy
  uint8_t label_offsets[128];   // start of each label in qname (the root label excluded)
  uint8_t label_count = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  size_t question_end = 0;      // offset just past QTYPE/QCLASS
  bool has_question = false;    // the question decoded (it can be echoed)
  bool has_edns = false;
  uint16_t edns_size = 0;       // requester's UDP payload size
  uint8_t edns_version = 0;
  bool edns_do = false;
  // The first COOKIE option (RFC 7873): where its data starts in the packet and its length;
  // 0 when there is none. `cookie_malformed`: its length is not 8 or 16..40; a server that
  // does cookies answers FORMERR (§5.2.2), one that does not ignores the option.
  uint16_t cookie_at = 0;
  uint8_t cookie_len = 0;
  bool cookie_malformed = false;
  // The EDNS Client Subnet option (RFC 7871 §6): where its data starts in the packet (0: none)
  // and its fields; `ecs_address` holds the ADDRESS bytes sent, zero-padded. `ecs_malformed`:
  // a family other than 1 (IPv4) or 2 (IPv6), a SOURCE PREFIX-LENGTH longer than the family's
  // address, an OPTION-LENGTH other than 4 + ceil(SOURCE/8), address bits set beyond SOURCE,
  // or a second ECS option; a server that does ECS answers FORMERR (§7.2.1).
  uint16_t ecs_at = 0;
  uint16_t ecs_len = 0;
  uint16_t ecs_family = 0;
  uint8_t ecs_source = 0;
  uint8_t ecs_address[16] = {};
  bool ecs_malformed = false;
  // IXFR (RFC 1995 §3): the SERIAL of the SOA the client holds, sent in authority.
  bool has_ixfr_serial = false;
  uint32_t ixfr_serial = 0;
  // A TSIG record (RFC 8945) in the additional section; whoever needs it checks it.
  bool has_tsig = false;
};

// Decodes header, question and additional section (for OPT). Every byte of the packet must be
// accounted for by its section counts.
ParseStatus parse_query(std::span<const uint8_t> packet, Query& q) noexcept;

// Name helpers for the control side (allocate freely; not for the query path).
// Text ("www.Example.test." or "www.example.test") to lower-cased wire form; empty on error.
std::string name_from_text(std::string_view text);
// Wire form to text with a trailing dot; "." for the root.
std::string name_to_text(std::string_view wire);
// Lower-cases a wire name in place.
void name_lower(std::string& wire);
// Is `name` equal to or below `ancestor` (both lower-case wire)?
bool name_is_subdomain(std::string_view name, std::string_view ancestor);
// The wire name with its first label removed; the root stays the root.
std::string_view name_parent(std::string_view wire);
size_t name_label_count(std::string_view wire);

// A byte string whose order is DNSSEC's canonical name order (RFC 4034 §6.1) for lower-cased
// wire names: the labels right to left, each ended by 0x00, with 0x00 and 0x01 inside a label
// escaped as 0x01 0x01 and 0x01 0x02. Writes at most 2 * kMaxName bytes to `out`; returns the
// length. For the query path too: no allocation.
size_t canonical_key(const uint8_t* name, size_t len, uint8_t* out) noexcept;
inline constexpr size_t kMaxCanonicalKey = 2 * kMaxName;

}  // namespace gslb::dns
