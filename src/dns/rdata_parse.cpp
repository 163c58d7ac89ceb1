// Record data: ldns's parsed record to our Rdata, and the checks of record data ldns leaves
// out (see rdata_parse.hpp). The zone loader (zone_loader.cpp) calls these for each record.
#include "dns/rdata_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "dns/wire.hpp"

namespace gslb::dns {

namespace {

// Types whose embedded names may be compressed (RFC 3597 §4: the RFC 1035 types only).
bool compressible_type(uint16_t t) {
  switch (t) {
    case rrtype::NS: case 3: case 4: case rrtype::CNAME: case rrtype::SOA: case 7: case 8:
    case 9: case rrtype::PTR: case 14: case rrtype::MX:
      return true;
    default:
      return false;
  }
}

// Which RDATA field holds the name that additional-section processing follows.
int target_field(uint16_t t) {
  switch (t) {
    case rrtype::NS: case rrtype::CNAME: return 0;
    case rrtype::MX: return 1;
    case rrtype::SRV: return 3;
    default: return -1;
  }
}

}  // namespace

std::string int_field_error(uint16_t type, const std::vector<std::string>& t, size_t k) {
  const ldns_rr_descriptor* d = ldns_rr_descript(type);
  if (!d || d->_type != type) return {};
  for (size_t f = 0; f < ldns_rr_descriptor_maximum(d) && k + f < t.size(); ++f) {
    const ldns_rdf_type ft = ldns_rr_descriptor_field_type(d, f);
    int bits = 0;
    switch (ft) {
      case LDNS_RDF_TYPE_INT8: case LDNS_RDF_TYPE_CERTIFICATE_USAGE: case LDNS_RDF_TYPE_SELECTOR:
      case LDNS_RDF_TYPE_MATCHING_TYPE:
        bits = 8;
        break;
      case LDNS_RDF_TYPE_INT16: bits = 16; break;
      case LDNS_RDF_TYPE_INT32: case LDNS_RDF_TYPE_PERIOD: bits = 32; break;
      case LDNS_RDF_TYPE_HEX: {
        // Hex to the end of the record: whole bytes (ldns took an odd digit count).
        if (f + 1 != ldns_rr_descriptor_maximum(d)) return {};
        std::string hex;
        for (size_t i = k + f; i < t.size(); ++i) hex += t[i];
        if (hex.size() % 2 != 0 || !std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
          return fmt::format("{} is not hex of whole bytes", hex);
        return {};
      }
      case LDNS_RDF_TYPE_NSEC3_SALT: {
        const std::string& salt = t[k + f];
        if (salt != "-" && (salt.size() % 2 != 0 || !std::all_of(salt.begin(), salt.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })))
          return fmt::format("salt {} is not \"-\" or hex of whole bytes", salt);
        continue;
      }
      // Fields that are one token: the next token is the next field.
      case LDNS_RDF_TYPE_DNAME: case LDNS_RDF_TYPE_A: case LDNS_RDF_TYPE_AAAA:
      case LDNS_RDF_TYPE_ALG: case LDNS_RDF_TYPE_TYPE: case LDNS_RDF_TYPE_TIME:
      case LDNS_RDF_TYPE_CERT_ALG: case LDNS_RDF_TYPE_STR:
        continue;
      default:
        return {};
    }
    const std::string& tok = t[k + f];
    if (tok.empty() || !std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const uint64_t max = bits == 32 ? 0xffffffffull : (1ull << bits) - 1;
    uint64_t v = 0;
    const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (r.ec != std::errc() || v > max)
      return fmt::format("{} is out of range for a {}-bit field (0-{})", tok, bits, max);
  }
  return {};
}

std::optional<unsigned> small_number(std::string_view t, unsigned max) {
  unsigned v = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || v > max) return std::nullopt;
  return v;
}

std::string folded_names(const ParsedRdata& r) {
  std::string out;
  for (const auto& [at, len] : r.names)
    for (size_t i = at; i < size_t(at) + len && i < r.wire.size(); ++i) {
      const auto c = uint8_t(r.wire[i]);
      if (c < 'A' || c > 'Z') continue;
      if (out.empty()) out = r.wire;
      out[i] = char(ascii_lower(c));
    }
  return out;
}

ParsedRdata make_rdata(const ldns_rr* rr) {
  ParsedRdata b;
  std::string& wire = b.wire;
  Rdata& d = b.meta;
  const uint16_t type = ldns_rr_get_type(rr);
  const int tf = target_field(type);
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* f = ldns_rr_rdf(rr, i);
    const auto* bytes = reinterpret_cast<const char*>(ldns_rdf_data(f));
    std::string_view field(bytes, ldns_rdf_size(f));
    if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME) {
      b.names.emplace_back(uint16_t(wire.size()), uint16_t(field.size()));
      // Offsets past 65535 only occur in RDATA that is refused as too long anyway.
      if (compressible_type(type) && d.compress_count < d.compress.size())
        d.compress[d.compress_count++] = {uint16_t(wire.size()), uint16_t(field.size())};
      if (int(i) == tf) {
        d.target_at = uint16_t(wire.size());
        d.target_len = uint16_t(field.size());
      }
    }
    wire.append(field);
  }
  return b;
}

std::string Rdata::target() const {
  std::string t(wire.substr(target_at, target_len));
  name_lower(t);
  return t;
}

}  // namespace gslb::dns
