// Negative answers (RFC 2308) and, in signed zones, what proves them (RFC 4035 §3.1.3): the
// NSEC records that match or cover a name, with their RRSIGs, decided at compile time like
// every other answer. Part of the Compiler (compiler.hpp).
#include <algorithm>
#include <tuple>

#include "dns/compiler.hpp"
#include "dns/wire.hpp"

namespace gslb::dns {

namespace {

uint32_t soa_minimum(const RRset& soa) {
  const std::string_view w = soa.rdata.front().wire;
  return get32(reinterpret_cast<const uint8_t*>(w.data()) + w.size() - 4);
}

}  // namespace

Compiler::Rec Compiler::negative_soa(uint16_t zone) const {
  // RFC 2308 §3: the SOA's TTL in a negative answer is min(SOA TTL, SOA MINIMUM).
  const Zone& z = *zones_[zone];
  const RRset& soa = z.soa();
  return Rec{z.apex, &soa, std::min(soa.ttl, soa_minimum(soa))};
}

Compiler::Pair Compiler::nodata(uint16_t zone, const Node* node, bool wildcard) {
  auto [it, fresh] = nodata_.try_emplace(zone, 0);
  if (fresh) {
    Spec s;
    s.base = zones_[zone]->apex;
    s.authority.push_back(negative_soa(zone));
    it->second = add(s);
  }
  if (!signed_[zone] || !node) return Pair{it->second, it->second};
  // RFC 4035 §3.1.3.1: the SOA and the NSEC at the name, each with its RRSIGs.
  Spec s;
  s.base = zones_[zone]->apex;
  push_signed(s.authority, negative_soa(zone));
  const RRset* nsec = node->find(rrtype::NSEC);
  if (nsec) push_signed(s.authority, Rec{std::string(node->name), nsec, nsec->ttl});
  s.deny = (!nsec || wildcard) ? 1 : 0;
  return Pair{it->second, add(s)};
}

Compiler::Pair Compiler::nxdomain(uint16_t zone) {
  auto [it, fresh] = nxdomain_.try_emplace(zone, Pair{0, 0});
  if (fresh) {
    Spec s;
    s.base = zones_[zone]->apex;
    s.authority.push_back(negative_soa(zone));
    s.rcode = uint8_t(Rcode::nxdomain);
    // RFC 4035 §3.1.3.2: the NSECs that cover the name and its closest encloser's wildcard
    // depend on the name; the query path adds them.
    it->second = both(s, zone, 2);
  }
  return it->second;
}

std::optional<Compiler::Rec> Compiler::covering(uint16_t zone, std::string_view name) {
  if (!signed_[zone]) return std::nullopt;
  auto [it, fresh] = chain_.try_emplace(zone);
  uint8_t key[kMaxCanonicalKey];
  if (fresh) {
    for (const Node& n : zones_[zone]->nodes)
      if (n.find(rrtype::NSEC))
        it->second.emplace_back(
            std::string(reinterpret_cast<const char*>(key),
                        canonical_key(reinterpret_cast<const uint8_t*>(n.name.data()), n.name.size(), key)),
            &n);
    std::sort(it->second.begin(), it->second.end());
  }
  const auto& chain = it->second;
  if (chain.empty()) return std::nullopt;
  const std::string k(reinterpret_cast<const char*>(key),
                      canonical_key(reinterpret_cast<const uint8_t*>(name.data()), name.size(), key));
  auto at = std::upper_bound(chain.begin(), chain.end(), k,
                             [](const std::string& v, const auto& e) { return v < e.first; });
  const Node* n = (at == chain.begin() ? chain.back() : *(at - 1)).second;
  const RRset* nsec = n->find(rrtype::NSEC);
  return Rec{std::string(n->name), nsec, nsec->ttl};
}

Compiler::Pair Compiler::both(const Spec& spec, uint16_t zone, uint8_t deny, const std::vector<Rec>& proof) {
  const uint32_t plain = add(spec);
  if (!signed_[zone]) return Pair{plain, plain};
  Spec s;
  s.base = spec.base;
  s.rcode = spec.rcode;
  s.aa = spec.aa;
  s.deny = deny;
  for (const auto& r : spec.answer) push_signed(s.answer, r);
  for (const auto& r : spec.authority) push_signed(s.authority, r);
  for (const auto& r : proof) push_signed(s.authority, r);
  if (!deny) {
    s.glue = spec.glue;
    s.optional = spec.optional;
  }
  return Pair{plain, add(s)};
}

const RRset* Compiler::sigs(const RRset* set) {
  auto it = node_of_.find(set);
  if (it == node_of_.end()) return nullptr;
  // An owner's RRSIGs are kept one RRset per covered type (each with its own TTL), or, as
  // signed here, in one RRset in signing order; either way those covering one type are
  // contiguous.
  auto covers = [set](const Rdata& d) {
    return d.wire.size() >= 2 && get16(reinterpret_cast<const uint8_t*>(d.wire.data())) == set->type;
  };
  for (const RRset& all : it->second->rrsets) {
    if (all.type != rrtype::RRSIG) continue;
    auto first = std::find_if(all.rdata.begin(), all.rdata.end(), covers);
    if (first == all.rdata.end()) continue;
    auto last = std::find_if_not(first, all.rdata.end(), covers);
    return &t_->sig_sets_.emplace_back(RRset{rrtype::RRSIG, set->ttl,
                                         all.rdata.subspan(size_t(first - all.rdata.begin()),
                                                           size_t(last - first))});
  }
  return nullptr;
}

void Compiler::push_signed(std::vector<Rec>& out, const Rec& r) {
  out.push_back(r);
  if (const RRset* s = sigs(r.set)) out.push_back(Rec{r.owner, s, r.ttl});
}

// RFC 1034 §4.3.2 step 3b: the child's NS set in authority, AA clear, addresses of the name
// servers in additional. Glue below the cut is required (RFC 9471): without it the child cannot
// be reached, so a response that cannot hold it is truncated instead.
void Compiler::make_denial() {
  t_->denial_.resize(zones_.size());
  uint8_t key[kMaxCanonicalKey];
  for (size_t zi = 0; zi < zones_.size(); ++zi) {
    if (!signed_[zi]) continue;
    AnswerTable::Denial& d = t_->denial_[zi];
    std::vector<std::tuple<std::string, std::string, uint16_t>> chain;
    for (const Node& node : zones_[zi]->nodes) {
      const RRset* nsec = node.find(rrtype::NSEC);
      if (!nsec) continue;
      std::string blob;
      uint16_t count = 0;
      auto put_rr = [&](const RRset& set, uint32_t ttl) {
        for (const Rdata& r : set.rdata) {
          uint8_t fixed[10];
          put16(fixed, set.type);
          put16(fixed + 2, kClassIN);
          put32(fixed + 4, ttl);
          put16(fixed + 8, uint16_t(r.wire.size()));
          blob += node.name;
          blob.append(reinterpret_cast<const char*>(fixed), sizeof fixed);
          blob += r.wire;
          ++count;
        }
      };
      put_rr(*nsec, nsec->ttl);
      if (const RRset* s = sigs(nsec)) put_rr(*s, nsec->ttl);
      const size_t n = canonical_key(reinterpret_cast<const uint8_t*>(node.name.data()), node.name.size(), key);
      chain.emplace_back(std::string(reinterpret_cast<const char*>(key), n), std::move(blob), count);
    }
    std::sort(chain.begin(), chain.end());
    for (auto& [k, b, c] : chain) {
      d.keys.push_back(std::move(k));
      d.blobs.push_back(std::move(b));
      d.counts.push_back(c);
    }
  }
}

}  // namespace gslb::dns
