#include "daemon/explain.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/logfmt.hpp"
#include "daemon/report.hpp"
#include "dns/wire.hpp"

namespace gslb::daemon {

namespace {

// CNAME hops followed before calling it a loop (resolvers give up around 8 to 16).
constexpr int kMaxChain = 16;

struct Step {
  std::string owner;                 // presentation form
  std::string kind;                  // zone, answer, cname, delegation, wildcard, nodata, ...
  std::string rule;                  // what happened, with the RFC rule
  std::vector<std::string> records;  // "TYPE RDATA" or the dynamic name's explanation
};

const dns::Zone* enclosing(const std::vector<std::shared_ptr<const dns::Zone>>& zones, const std::string& wire) {
  const dns::Zone* best = nullptr;
  for (const auto& z : zones)
    if (dns::name_is_subdomain(wire, z->apex) && (!best || z->apex.size() > best->apex.size())) best = z.get();
  return best;
}

std::vector<std::string> records_of(const dns::RRset& set) {
  std::vector<std::string> out;
  for (const auto& r : set.rdata)
    out.push_back(fmt::format("{} {}", dns::rrtype_to_text(set.type), dns::rdata_to_text(set.type, r.wire)));
  return out;
}

bool is_dynamic(const pool::Engine& e, const std::string& wire) {
  for (const auto& w : e.dynamic_names())
    if (w == wire) return true;
  return false;
}

}  // namespace

std::string explain_any(const std::vector<std::shared_ptr<const dns::Zone>>& zones,
                        const pool::Engine& engine, const std::string& fqdn_in, uint16_t qtype,
                        const std::optional<core::IpAddress>& client, bool json) {
  const std::string fqdn = fqdn_in.empty() || fqdn_in.back() == '.' ? fqdn_in : fqdn_in + ".";
  std::string wire = dns::name_from_text(fqdn);
  dns::name_lower(wire);
  const std::string type = dns::rrtype_to_text(qtype);
  std::vector<Step> steps;
  std::string rcode = "NOERROR", dynamic_json;
  const dns::Zone* zone = nullptr;
  std::vector<std::string> visited;  // the chain so far, to tell a loop
  for (int hop = 0;; ++hop) {
    const std::string owner = dns::name_to_text(wire);
    if (std::find(visited.begin(), visited.end(), wire) != visited.end() || hop > kMaxChain) {
      rcode = "SERVFAIL";
      steps.push_back({owner, "loop", fmt::format("the CNAME chain comes back to {} (or passes {} links): a loop "
                                                  "(RFC 1034 §3.6.2), which resolvers give up on", owner, kMaxChain), {}});
      break;
    }
    visited.push_back(wire);
    const dns::Zone* z = enclosing(zones, wire);
    if (!z) {
      if (hop == 0) {
        rcode = "REFUSED";
        steps.push_back({owner, "refused", "in no zone gslbd serves: not authoritative, refused (RFC 1034 §4.3.2 step 2)", {}});
      } else {
        steps.push_back({owner, "out-of-zone", "outside gslbd's zones: the resolver follows the chain from here (RFC 1034 §4.3.2 step 3a)", {}});
      }
      break;
    }
    if (z != zone) {
      zone = z;
      steps.push_back({dns::name_to_text(z->apex), "zone",
                       fmt::format("the closest enclosing zone, serial {}: gslbd answers with authority (RFC 1034 §4.3.2 step 2)", z->serial()),
                       {}});
    }
    // A dynamic name: its pools decide (only A and AAAA; other types come from the zone).
    if (is_dynamic(engine, wire) && (qtype == dns::rrtype::A || qtype == dns::rrtype::AAAA)) {
      auto text = explain(engine, owner, qtype, client, false);
      std::vector<std::string> lines;
      for (size_t at = 0; text && at < text->size();) {
        const size_t nl = text->find('\n', at);
        lines.push_back(text->substr(at, nl - at));
        at = nl == std::string::npos ? text->size() : nl + 1;
      }
      steps.push_back({owner, "dynamic", "a dynamic name: health-checked pools choose the addresses ([[name]] in gslbd.toml)", lines});
      if (json) {
        dynamic_json = explain(engine, owner, qtype, client, true).value_or("null");
        while (!dynamic_json.empty() && dynamic_json.back() == '\n') dynamic_json.pop_back();
      }
      break;
    }
    // A zone cut between the apex and the name: a referral (DS is the parent's, RFC 4035 §3.1.4.1).
    const dns::Node* cut = nullptr;
    for (std::string_view n = wire; n.size() > z->apex.size(); n = dns::name_parent(n)) {
      const dns::Node* node = z->find(n);
      if (node && node->find(dns::rrtype::NS) && !(n == wire && qtype == dns::rrtype::DS)) cut = node;
    }
    if (cut) {
      std::vector<std::string> ns = records_of(*cut->find(dns::rrtype::NS));
      steps.push_back({dns::name_to_text(cut->name), "delegation",
                       "a zone cut above or at the name: a referral to the child's name servers, not authoritative "
                       "(RFC 1034 §4.3.2 step 3b)", ns});
      break;
    }
    const dns::Node* node = z->find(wire);
    std::string synthesized_from;
    if (!node) {
      // The closest encloser and its wildcard, the source of synthesis (RFC 4592 §3.3.1).
      std::string_view encloser = dns::name_parent(wire);
      while (encloser.size() > z->apex.size() && !z->find(encloser)) encloser = dns::name_parent(encloser);
      const std::string star = std::string("\1*", 2) + std::string(encloser);
      node = z->find(star);
      if (!node) {
        rcode = "NXDOMAIN";
        steps.push_back({owner, "nxdomain",
                         fmt::format("no such name, and no wildcard at its closest encloser {} (RFC 1034 §4.3.2 step 3c, "
                                     "RFC 4592 §3.3.1): NXDOMAIN with the SOA (RFC 2308 §2.1)",
                                     dns::name_to_text(encloser)),
                         records_of(z->soa())});
        break;
      }
      synthesized_from = dns::name_to_text(star);
      steps.push_back({owner, "wildcard",
                       fmt::format("no such name: synthesized from {}, the wildcard at the closest encloser {} "
                                   "(RFC 4592 §3.3.1, RFC 1034 §4.3.3)", synthesized_from, dns::name_to_text(encloser)),
                       {}});
    }
    const dns::RRset* cname = node->find(dns::rrtype::CNAME);
    if (cname && qtype != dns::rrtype::CNAME) {
      steps.push_back({owner, "cname", fmt::format("a CNAME (ttl {}): the answer restarts at its target (RFC 1034 §4.3.2 step 3a, §3.6.2)", cname->ttl),
                       records_of(*cname)});
      std::string target = cname->rdata[0].target();
      if (target.empty()) target = std::string(cname->rdata[0].wire);
      wire = target;
      dns::name_lower(wire);
      continue;
    }
    if (const dns::RRset* set = node->find(qtype)) {
      steps.push_back({owner, "answer",
                       fmt::format("{} records (ttl {}){}", type, set->ttl,
                                   synthesized_from.empty() ? ": an exact match (RFC 1034 §4.3.2 step 3a)"
                                                            : ", with the owner changed to the query name (RFC 4592 §3.3.1)"),
                       records_of(*set)});
    } else {
      rcode = "NODATA";
      steps.push_back({owner, "nodata",
                       fmt::format("the name exists{} but has no {} records: NOERROR with no answer and the SOA "
                                   "(RFC 2308 §2.2)", node->rrsets.empty() ? " (an empty non-terminal, RFC 8020 §2)" : "", type),
                       records_of(z->soa())});
    }
    break;
  }
  if (!json) {
    std::string out = fmt::format("{} {}\n", fqdn, type);
    for (const auto& s : steps) {
      out += fmt::format("  {}: {}\n", s.owner, s.rule);
      for (const auto& r : s.records) out += fmt::format("    {}\n", r);
    }
    return out + fmt::format("answer now: {}\n", rcode);
  }
  std::string js;
  for (const auto& s : steps) {
    std::string recs;
    for (const auto& r : s.records) recs += (recs.empty() ? "" : ",") + json_string(r);
    js += fmt::format("{}{{\"owner\":{},\"kind\":{},\"rule\":{},\"records\":[{}]{}}}", js.empty() ? "" : ",",
                      json_string(s.owner), json_string(s.kind), json_string(s.rule),
                      s.kind == "dynamic" ? "" : recs,
                      s.kind == "dynamic" ? fmt::format(",\"dynamic\":{}", dynamic_json) : "");
  }
  return fmt::format("{{\"name\":{},\"type\":{},\"rcode\":{},\"steps\":[{}]}}\n", json_string(fqdn),
                     json_string(type), json_string(rcode), js);
}

}  // namespace gslb::daemon
