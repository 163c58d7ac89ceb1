#include "dns/overlay.hpp"

#include <algorithm>
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
  Choice& c = b.choice;
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
    b.templates.push_back(build_template(fail));
  } else if (ans && ans->kind == DynamicAnswer::Kind::addresses && !ans->alternatives.empty()) {
    c.pick = ans->pick;
    uint64_t total = 0;
    for (const auto& alt : ans->alternatives) {
      AddressSet addrs = address_set(slot.qtype, ans->ttl, alt.addresses);
      const RRset& set = addrs.set;
      if (set.rdata.empty()) continue;
      TemplateSpec s = spec;
      s.answer.push_back(RecordRef{slot.owner, &set, set.ttl});
      b.templates.push_back(build_template(s));
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
    }
  }
  if (b.templates.empty()) {
    // No address of this family (or nothing usable and all_down = empty): NODATA, with a
    // negative TTL no longer than the name's own, so the name comes back quickly.
    const RRset& soa = zone.soa();
    uint32_t ttl = soa_negative_ttl(zone);
    if (ans) ttl = std::min(ttl, ans->ttl);
    spec.authority.push_back(RecordRef{zone.apex, &soa, ttl});
    b.templates.push_back(build_template(spec));
    c.cumulative.clear();
    if (signer) {
      // The SOA and its RRSIGs at the negative TTL, then the NSEC at the name (RFC 4035 §3.1.3.1).
      signed_forms.clear();
      TemplateSpec sd = signed_spec;
      sd.authority = slot.nodata_do;
      for (auto& r : sd.authority)
        if (r.set->type == rrtype::SOA || (r.set->type == rrtype::RRSIG && r.owner == zone.apex)) r.ttl = ttl;
      signed_forms.push_back(build_template(sd));
    }
  }
  c.count = uint32_t(b.templates.size());
  if (c.cumulative.size() != c.count) c.pick = DynamicAnswer::Pick::cycle;
  if (signer && signed_forms.size() == c.count) {
    c.dnssec = true;
    for (auto& t : signed_forms) b.templates.push_back(std::move(t));
  }
  return b;
}

void Overlay::add(Chunk& chunk, Built b) {
  b.choice.first = uint32_t(chunk.templates.size());
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
      const Choice& was = old.choices[s];
      Built copy{was, {}};
      for (uint32_t t = was.first; t < was.first + was.total(); ++t)
        copy.templates.push_back(BuiltTemplate{std::string(old.templates.block(t)), old.templates[t]});
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

const Template& Overlay::pick(uint32_t slot, PickState& st, bool dnssec) const noexcept {
  const Chunk& chunk = *chunks_[slot / kChunk];
  const Choice& c = chunk.choices[slot % kChunk];
  const uint32_t first = c.first + (dnssec && c.dnssec ? c.count : 0);
  if (c.count == 1) return chunk.templates[first];
  if (c.pick == DynamicAnswer::Pick::cycle) return chunk.templates[first + st.turn++ % c.count];
  // xorshift64*: a few cycles, and good enough to split traffic by weight.
  st.rng ^= st.rng >> 12;
  st.rng ^= st.rng << 25;
  st.rng ^= st.rng >> 27;
  const uint64_t r = (st.rng * 0x2545F4914F6CDD1Dull >> 11) % c.cumulative.back();
  const auto it = std::upper_bound(c.cumulative.begin(), c.cumulative.end(), r);
  return chunk.templates[first + uint32_t(it - c.cumulative.begin())];
}

}  // namespace gslb::dns
