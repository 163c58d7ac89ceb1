#include "dns/overlay.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dns/dnssec.hpp"
#include "dns/encoder.hpp"

namespace gslb::dns {

namespace {

uint32_t soa_negative_ttl(const Zone& z) {
  const RRset& soa = z.soa();
  const std::string_view w = soa.rdata.front().wire;
  return std::min(soa.ttl, get32(reinterpret_cast<const uint8_t*>(w.data()) + w.size() - 4));
}

// The A or AAAA records of `ips`; the RDATA views the addresses' bytes, so `ips` must outlive it.
struct AddressSet {
  std::vector<Rdata> rdata;
  RRset set;
};

AddressSet address_set(uint16_t qtype, uint32_t ttl, const std::vector<core::IpAddress>& ips) {
  AddressSet a;
  for (const auto& ip : ips) {
    if (ip.is_v4() != (qtype == rrtype::A)) continue;
    Rdata d;
    d.wire = std::string_view(reinterpret_cast<const char*>(ip.bytes.data()), ip.size());
    a.rdata.push_back(d);
  }
  a.set = RRset{qtype, ttl, a.rdata};
  return a;
}

}  // namespace

Overlay::Built Overlay::make_choice(const AnswerTable& table, const DynamicSlot& slot,
                                    const DynamicAnswer* ans) {
  Built b;
  if (ans && ans->map) {
    b.choice.map = ans->map;
    for (const DynamicAnswer& cls : ans->classes)
      b.choice.classes.push_back(make_variant(table, slot, &cls, b.templates));
    return b;
  }
  b.choice.all = make_variant(table, slot, ans, b.templates);
  return b;
}

Overlay::Variant Overlay::make_variant(const AnswerTable& table, const DynamicSlot& slot,
                                       const DynamicAnswer* ans,
                                       std::vector<BuiltTemplate>& templates) {
  Variant c;
  c.first = uint32_t(templates.size());
  const size_t before = templates.size();
  TemplateSpec spec;
  spec.base = slot.base;
  spec.answer = slot.chain;
  const Zone& zone = *table.zones()[slot.zone];
  // A signed zone: each answer also in its DO=1 form, signed now (RFC 4035 §3.1.1).
  const Signer* signer = zone.signer.get();
  std::vector<BuiltTemplate> signed_forms;
  TemplateSpec signed_spec = spec;
  signed_spec.answer = slot.chain_do;
  if (ans && ans->kind == DynamicAnswer::Kind::servfail) {
    TemplateSpec fail;
    fail.base = slot.base;
    fail.rcode = uint8_t(Rcode::servfail);
    fail.aa = false;
    templates.push_back(build_template(fail));
  } else if (ans && ans->kind == DynamicAnswer::Kind::addresses && !ans->alternatives.empty()) {
    c.pick = ans->pick;
    uint64_t total = 0;
    for (const auto& alt : ans->alternatives) {
      AddressSet addrs = address_set(slot.qtype, ans->ttl, alt.addresses);
      const RRset& set = addrs.set;
      if (set.rdata.empty()) continue;
      TemplateSpec s = spec;
      s.answer.push_back(RecordRef{slot.owner, &set, set.ttl});
      templates.push_back(build_template(s));
      if (signer) {
        // The RRSIG covers the RRset whatever its order, so a rotation needs no more of them.
        const std::vector<std::string> sigs = signer->sign(slot.owner.empty() ? slot.name : slot.owner, set);
        std::vector<Rdata> sig_rdata(sigs.size());
        for (size_t i = 0; i < sigs.size(); ++i) sig_rdata[i].wire = sigs[i];
        const RRset sig_set{rrtype::RRSIG, set.ttl, sig_rdata};
        TemplateSpec sd = signed_spec;
        sd.answer.push_back(RecordRef{slot.owner, &set, set.ttl});
        sd.answer.push_back(RecordRef{slot.owner, &sig_set, set.ttl});
        signed_forms.push_back(build_template(sd));
      }
      total += std::max<uint32_t>(alt.weight, 1);
      c.cumulative.push_back(total);
      uint64_t id = 0xcbf29ce484222325ull;  // FNV-1a over the addresses: stable across rebuilds
      for (const auto& ip : alt.addresses)
        for (size_t i = 0; i < ip.size(); ++i) id = (id ^ ip.bytes[i]) * 0x100000001b3ull;
      c.ids.push_back(id);
    }
  }
  if (templates.size() == before) {
    // No address of this family (or nothing usable and all_down = empty): NODATA, with a
    // negative TTL no longer than the name's own, so the name comes back quickly.
    const RRset& soa = zone.soa();
    uint32_t ttl = soa_negative_ttl(zone);
    if (ans) ttl = std::min(ttl, ans->ttl);
    spec.authority.push_back(RecordRef{zone.apex, &soa, ttl});
    templates.push_back(build_template(spec));
    c.cumulative.clear();
    c.ids.clear();
    if (signer) {
      // The SOA, then the NSEC at the name (RFC 4035 §3.1.3.1), each with its RRSIGs, all at
      // the negative TTL: the NSEC's TTL is the lesser of the SOA's TTL and MINIMUM (RFC 9077
      // §3), and the SOA here has the name's shorter one. (Each RRSIG's Original TTL is the
      // zone's, no shorter, so the signatures stand, RFC 4035 §5.3.3.)
      signed_forms.clear();
      TemplateSpec sd = signed_spec;
      sd.authority = slot.nodata_do;
      for (auto& r : sd.authority) r.ttl = ttl;
      // The NSEC at the name lists the types its pools can answer. When this one has nothing
      // to answer now (all_down = "empty", or every address of the family down) that NSEC
      // would deny the NODATA (validators: bogus; DNSViz: STYPE_IN_BITMAP): an NSEC without
      // the type instead, signed now, at the negative TTL like the SOA, so that a resolver
      // that keeps it (RFC 8198) lets go of it as soon as of the NODATA.
      std::string nsec_wire;
      std::vector<Rdata> nsec_rdata(1), sig_rdata;
      RRset nsec_now, sig_now;
      std::vector<std::string> sigs;
      for (size_t i = 0; i < sd.authority.size(); ++i) {
        RecordRef& r = sd.authority[i];
        if (r.set->type != rrtype::NSEC || r.set->rdata.size() != 1 ||
            !nsec_has_type(r.set->rdata[0].wire, slot.qtype))
          continue;
        nsec_wire = nsec_without_type(r.set->rdata[0].wire, slot.qtype);
        nsec_rdata[0].wire = nsec_wire;
        nsec_now = RRset{rrtype::NSEC, ttl, nsec_rdata};
        sigs = signer->sign(slot.name, nsec_now);
        sig_rdata.resize(sigs.size());
        for (size_t k = 0; k < sigs.size(); ++k) sig_rdata[k].wire = sigs[k];
        sig_now = RRset{rrtype::RRSIG, ttl, sig_rdata};
        r = RecordRef{r.owner, &nsec_now, ttl};
        // Its RRSIGs follow it (compile's push_signed).
        if (i + 1 < sd.authority.size() && sd.authority[i + 1].set->type == rrtype::RRSIG)
          sd.authority[i + 1] = RecordRef{sd.authority[i + 1].owner, &sig_now, ttl};
        break;
      }
      signed_forms.push_back(build_template(sd));
    }
  }
  c.count = uint32_t(templates.size() - before);
  if (c.cumulative.size() != c.count) c.pick = DynamicAnswer::Pick::cycle;
  // The signed forms follow the variant's own templates.
  if (signer && signed_forms.size() == c.count) {
    c.dnssec = true;
    for (auto& t : signed_forms) templates.push_back(std::move(t));
  }
  return c;
}

// Template indexes in a Built are relative to its own list; in the chunk they follow what the
// chunk already holds.
void Overlay::add(Chunk& chunk, Built b) {
  const uint32_t base = uint32_t(chunk.templates.size());
  b.choice.all.first += base;
  for (Variant& v : b.choice.classes) v.first += base;
  for (const auto& t : b.templates) chunk.templates.add(t);
  chunk.choices.push_back(std::move(b.choice));
}

std::shared_ptr<const Overlay> Overlay::build(const AnswerTable& table, const Lookup& lookup) {
  auto o = std::make_shared<Overlay>();
  o->table_ = &table;
  auto index = std::make_shared<SlotIndex>();
  const auto& slots = table.dynamic_slots();
  std::shared_ptr<Chunk> chunk;
  for (uint32_t i = 0; i < slots.size(); ++i) {
    if (i % kChunk == 0) {
      if (chunk) chunk->templates.freeze();
      chunk = std::make_shared<Chunk>();
      chunk->choices.reserve(std::min<size_t>(kChunk, slots.size() - i));
      o->chunks_.push_back(chunk);
    }
    const DynamicSlot& slot = slots[i];
    (*index)[slot.name].push_back(i);
    add(*chunk, make_choice(table, slot, lookup(slot.name, slot.qtype)));
  }
  if (chunk) chunk->templates.freeze();
  o->index_ = std::move(index);
  return o;
}

std::shared_ptr<const Overlay> Overlay::update(const Overlay& prev, const AnswerTable& table,
                                               const Lookup& lookup,
                                               const std::vector<std::string_view>& names) {
  auto o = std::make_shared<Overlay>();
  o->table_ = &table;
  o->index_ = prev.index_;
  o->chunks_ = prev.chunks_;
  // The rebuilt slots, by chunk; every other slot of those chunks is copied as it was.
  std::unordered_map<uint32_t, std::vector<std::pair<uint32_t, Built>>> rebuilt;
  const auto& slots = table.dynamic_slots();
  for (std::string_view name : names) {
    auto it = o->index_->find(name);
    if (it == o->index_->end()) continue;
    for (uint32_t i : it->second)
      rebuilt[i / kChunk].emplace_back(i % kChunk,
                                       make_choice(table, slots[i], lookup(slots[i].name, slots[i].qtype)));
  }
  for (auto& [c, fresh] : rebuilt) {
    const Chunk& old = *o->chunks_[c];
    auto chunk = std::make_shared<Chunk>();
    chunk->choices.reserve(old.choices.size());
    std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t next = 0;
    for (uint32_t s = 0; s < old.choices.size(); ++s) {
      if (next < fresh.size() && fresh[next].first == s) {
        add(*chunk, std::move(fresh[next].second));
        while (next < fresh.size() && fresh[next].first == s) ++next;  // a slot named twice
        continue;
      }
      Built copy{old.choices[s], {}};
      auto take = [&](Variant& v) {
        const uint32_t from = v.first;
        v.first = uint32_t(copy.templates.size());
        for (uint32_t t = from; t < from + v.total(); ++t)
          copy.templates.push_back(BuiltTemplate{std::string(old.templates.block(t)), old.templates[t]});
      };
      if (copy.choice.map) {
        for (Variant& v : copy.choice.classes) take(v);
      } else {
        take(copy.choice.all);
      }
      add(*chunk, std::move(copy));
    }
    chunk->templates.freeze();
    o->chunks_[c] = std::move(chunk);
  }
  return o;
}

size_t Overlay::template_count() const noexcept {
  size_t n = 0;
  for (const auto& chunk : chunks_) n += chunk->templates.size();
  return n;
}

const geo::Map* Overlay::map(uint32_t slot) const noexcept {
  return chunks_[slot / kChunk]->choices[slot % kChunk].map.get();
}

uint64_t client_network_key(const core::IpAddress& a, unsigned prefix) noexcept {
  const unsigned bits = std::min<unsigned>(prefix, unsigned(a.size()) * 8);
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t(bits) << 56) ^ (a.is_v4() ? 4 : 6);
  for (unsigned i = 0; i < (bits + 7) / 8; ++i) {
    const uint8_t mask = i < bits / 8 ? 0xFF : uint8_t(0xFF << (8 - bits % 8));
    h = (h ^ (a.bytes[i] & mask)) * 0x100000001b3ull;
  }
  return h | 1;  // never 0, which means "no client"
}

namespace {

// splitmix64's finaliser: a well-mixed 64-bit value from a client key and a template id.
uint64_t mix(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

const Overlay::Variant& Overlay::variant(uint32_t slot, uint16_t cls) const noexcept {
  const Choice& choice = chunks_[slot / kChunk]->choices[slot % kChunk];
  return choice.map && cls < choice.classes.size() ? choice.classes[cls]
         : choice.map && !choice.classes.empty()   ? choice.classes.front()
                                                   : choice.all;
}

bool Overlay::sticky(uint32_t slot, uint16_t cls) const noexcept {
  const Variant& c = variant(slot, cls);
  return c.pick == DynamicAnswer::Pick::sticky && c.count > 1;
}

const Template& Overlay::pick(uint32_t slot, PickState& st, uint16_t cls, uint64_t client_key,
                              bool dnssec) const noexcept {
  const Chunk& chunk = *chunks_[slot / kChunk];
  const Variant& c = variant(slot, cls);
  const uint32_t first = c.first + (dnssec && c.dnssec ? c.count : 0);
  if (c.count == 1) return chunk.templates[first];
  if (c.pick == DynamicAnswer::Pick::cycle) return chunk.templates[first + st.turn++ % c.count];
  if (c.pick == DynamicAnswer::Pick::sticky && client_key != 0 && c.ids.size() == c.count) {
    // Weighted rendezvous: each alternative scores weight / -ln(u), u uniform in (0, 1) from
    // hash(client, alternative); the highest wins. A removed alternative only moves the
    // clients it had; weights 90 and 10 keep 90% and 10% of the clients.
    double best = -1;
    uint32_t pick = 0;
    for (uint32_t i = 0; i < c.count; ++i) {
      const double u = (double(mix(client_key ^ c.ids[i]) >> 11) + 0.5) * 0x1.0p-53;
      const uint64_t w = c.cumulative[i] - (i ? c.cumulative[i - 1] : 0);
      const double score = double(w) / -std::log(u);
      if (score > best) {
        best = score;
        pick = i;
      }
    }
    return chunk.templates[first + pick];
  }
  // xorshift64*: a few cycles, and good enough to split traffic by weight.
  st.rng ^= st.rng >> 12;
  st.rng ^= st.rng << 25;
  st.rng ^= st.rng >> 27;
  const uint64_t r = (st.rng * 0x2545F4914F6CDD1Dull >> 11) % c.cumulative.back();
  const auto it = std::upper_bound(c.cumulative.begin(), c.cumulative.end(), r);
  return chunk.templates[first + uint32_t(it - c.cumulative.begin())];
}

}  // namespace gslb::dns
