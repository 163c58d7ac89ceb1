// Helpers for the dns unit tests: build queries with ldns, answer them with our handler, parse
// the response back with ldns. ldns is the independent reference for the wire format.
#pragma once

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "dns/handler.hpp"
#include "dns/ldns.hpp"
#include "dns/table.hpp"
#include "dns/zone.hpp"

namespace gslb::test {

inline std::shared_ptr<const dns::Zone> zone_from_text(const std::string& apex,
                                                       const std::string& text,
                                                       core::Errors* errors_out = nullptr) {
  core::Errors errors;
  auto z = dns::load_zone(apex, "test.zone", errors, &text);
  if (errors_out) *errors_out = errors;
  return z;
}

struct QueryOpts {
  bool edns = false;
  uint16_t edns_size = 1232;
  bool rd = true;
  bool tcp = false;
  bool dnssec_ok = false;  // the DO bit (needs edns)
};

inline std::vector<uint8_t> make_query(const std::string& name, ldns_rr_type type,
                                       const QueryOpts& o = {}) {
  ldns_pkt* pkt = nullptr;
  ldns_pkt_query_new_frm_str(&pkt, name.c_str(), type, LDNS_RR_CLASS_IN, o.rd ? LDNS_RD : 0);
  ldns_pkt_set_id(pkt, 0x1234);
  if (o.edns) ldns_pkt_set_edns_udp_size(pkt, o.edns_size);
  if (o.edns && o.dnssec_ok) ldns_pkt_set_edns_do(pkt, true);
  uint8_t* wire = nullptr;
  size_t len = 0;
  ldns_pkt2wire(&wire, pkt, &len);
  std::vector<uint8_t> out(wire, wire + len);
  free(wire);
  ldns_pkt_free(pkt);
  return out;
}

struct Answered {
  std::vector<uint8_t> wire;
  dns::Outcome outcome;
  dns::LdnsPkt pkt;  // null when nothing was sent or ldns could not parse it
};

inline Answered ask(const dns::AnswerTable& t, const std::vector<uint8_t>& query, bool tcp = false,
                    const dns::Overlay* overlay = nullptr, dns::PickState* pick = nullptr) {
  Answered a;
  std::vector<uint8_t> out(65535);
  dns::Scratch scratch;
  if (pick) scratch.pick = *pick;
  size_t n = dns::answer({&t, overlay}, dns::HandlerOptions{}, query, out, tcp, scratch, a.outcome);
  if (pick) *pick = scratch.pick;
  out.resize(n);
  a.wire = out;
  if (n) {
    ldns_pkt* p = nullptr;
    if (ldns_wire2pkt(&p, out.data(), n) == LDNS_STATUS_OK) a.pkt.reset(p);
  }
  return a;
}

inline Answered ask(const dns::AnswerTable& t, const std::string& name, ldns_rr_type type,
                    const QueryOpts& o = {}) {
  return ask(t, make_query(name, type, o), o.tcp);
}

// A CSK (ECDSA P-256, flags 257) for `apex` made with ldns and written as the two files gslbd
// reads, `dir`/K<apex>+013+00001.key and .private; returns that base name.
inline std::string write_test_key(const std::string& dir, const char* apex = "example.test.") {
  ldns_key* key = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
  if (!key) return {};
  ldns_key_set_flags(key, 257);
  ldns_key_set_pubkey_owner(key, ldns_dname_new_frm_str(apex));
  const std::string base = dir + "/K" + apex + "+013+00001";
  dns::LdnsRr rr(ldns_key2rr(key));
  char* pub = ldns_rr2str(rr.get());
  char* priv = ldns_key2str(key);
  std::ofstream(base + ".key") << pub;
  std::ofstream(base + ".private") << priv;
  free(pub);   // NOLINT: ldns allocates with malloc
  free(priv);  // NOLINT
  ldns_key_deep_free(key);
  return base;
}

// A record as one line of text, "www.example.test. 60 IN A 192.0.2.10" (spaces, no tabs).
inline std::string rr_line(const ldns_rr* rr) {
  char* str = ldns_rr2str(rr);
  std::string line(str);
  free(str);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  for (auto& c : line)
    if (c == '\t') c = ' ';
  return line;
}

// "www.example.test. 60 IN A 192.0.2.10" lines of one section, sorted, owner lower-cased.
inline std::vector<std::string> section(const Answered& a, ldns_pkt_section s) {
  std::vector<std::string> lines;
  ldns_rr_list* list = ldns_pkt_get_section_clone(a.pkt.get(), s);
  for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(list, i);
    ldns_dname2canonical(ldns_rr_owner(rr));
    lines.push_back(rr_line(rr));
  }
  ldns_rr_list_deep_free(list);
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace gslb::test
