// Presentation form of record types and RDATA ("MX" <-> 15, "10 mail.example.test."), by ldns:
// declared in zone.hpp for gslbctl's explain and lookup (src/daemon), the logs and the tests.
// Not part of loading: nothing here reads a zone.
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "dns/ldns.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

std::string rdata_to_text(uint16_t type, std::string_view wire) {
  // ldns prints whole records: make one (root owner, class IN, TTL 0) and keep what follows
  // its type, which is the RDATA in presentation form.
  std::string rr(1, '\0');
  const uint8_t head[] = {uint8_t(type >> 8), uint8_t(type), 0, 1, 0, 0, 0, 0,
                          uint8_t(wire.size() >> 8), uint8_t(wire.size())};
  rr.append(reinterpret_cast<const char*>(head), sizeof head);
  rr.append(wire);
  ldns_rr* parsed = nullptr;
  size_t pos = 0;
  if (ldns_wire2rr(&parsed, reinterpret_cast<const uint8_t*>(rr.data()), rr.size(), &pos,
                   LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
    return fmt::format("\\# {}", wire.size());
  std::unique_ptr<ldns_rr, LdnsRrFree> own(parsed);
  std::string out;
  for (size_t i = 0; i < ldns_rr_rd_count(parsed); ++i) {
    char* t = ldns_rdf2str(ldns_rr_rdf(parsed, i));
    if (!t) continue;
    out += (out.empty() ? "" : " ") + std::string(t);
    std::free(t);
  }
  return out;
}

std::string rrtype_to_text(uint16_t type) {
  char* t = ldns_rr_type2str(ldns_rr_type(type));
  std::string out = t ? t : fmt::format("TYPE{}", type);
  std::free(t);
  return out;
}

uint16_t rrtype_from_text(std::string_view text) {
  const std::string s(text);
  return uint16_t(ldns_get_rr_type_by_name(s.c_str()));
}

}  // namespace gslb::dns
