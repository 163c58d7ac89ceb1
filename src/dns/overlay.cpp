#include "dns/overlay.hpp"

#include <algorithm>
#include <cstring>

#include "dns/encoder.hpp"

namespace gslb::dns {

namespace {

uint32_t soa_negative_ttl(const Zone& z) {
  const RRset& soa = z.soa();
  const std::string& w = soa.rdata.front().wire;
  return std::min(soa.ttl, get32(reinterpret_cast<const uint8_t*>(w.data()) + w.size() - 4));
}

RRset address_set(uint16_t qtype, uint32_t ttl, const std::vector<core::IpAddress>& ips) {
  RRset set{qtype, ttl, {}};
  for (const auto& ip : ips) {
    if (ip.is_v4() != (qtype == rrtype::A)) continue;
    Rdata d;
    d.wire.assign(reinterpret_cast<const char*>(ip.bytes.data()), ip.size());
    set.rdata.push_back(std::move(d));
  }
  return set;
}

}  // namespace

Overlay::Choice Overlay::make_choice(const AnswerTable& table, const DynamicSlot& slot,
                                     const DynamicAnswer* ans) {
  Choice c;
  TemplateSpec spec;
  spec.base = slot.base;
  spec.answer = slot.chain;
  const Zone& zone = *table.zones()[slot.zone];
  if (ans && ans->kind == DynamicAnswer::Kind::servfail) {
    TemplateSpec fail;
    fail.base = slot.base;
    fail.rcode = uint8_t(Rcode::servfail);
    fail.aa = false;
    c.templates.push_back(build_template(fail));
  } else if (ans && ans->kind == DynamicAnswer::Kind::addresses && !ans->alternatives.empty()) {
    c.pick = ans->pick;
    uint64_t total = 0;
    for (const auto& alt : ans->alternatives) {
      RRset set = address_set(slot.qtype, ans->ttl, alt.addresses);
      if (set.rdata.empty()) continue;
      TemplateSpec s = spec;
      s.answer.push_back(RecordRef{slot.owner, &set, set.ttl});
      c.templates.push_back(build_template(s));
      total += std::max<uint32_t>(alt.weight, 1);
      c.cumulative.push_back(total);
    }
  }
  if (c.templates.empty()) {
    // No address of this family (or nothing usable and all_down = empty): NODATA, with a
    // negative TTL no longer than the name's own, so the name comes back quickly.
    const RRset& soa = zone.soa();
    uint32_t ttl = soa_negative_ttl(zone);
    if (ans) ttl = std::min(ttl, ans->ttl);
    spec.authority.push_back(RecordRef{zone.apex, &soa, ttl});
    c.templates.push_back(build_template(spec));
    c.cumulative.clear();
  }
  if (c.cumulative.size() != c.templates.size()) c.pick = DynamicAnswer::Pick::cycle;
  return c;
}

std::shared_ptr<const Overlay> Overlay::build(const AnswerTable& table, const Lookup& lookup) {
  auto o = std::make_shared<Overlay>();
  o->table_ = &table;
  auto index = std::make_shared<SlotIndex>();
  const auto& slots = table.dynamic_slots();
  std::shared_ptr<Chunk> chunk;
  for (uint32_t i = 0; i < slots.size(); ++i) {
    if (i % kChunk == 0) {
      chunk = std::make_shared<Chunk>();
      chunk->reserve(std::min<size_t>(kChunk, slots.size() - i));
      o->chunks_.push_back(chunk);
    }
    const DynamicSlot& slot = slots[i];
    (*index)[slot.name].push_back(i);
    chunk->push_back(make_choice(table, slot, lookup(slot.name, slot.qtype)));
  }
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
  std::vector<std::shared_ptr<Chunk>> copied(o->chunks_.size());  // this update's own copies
  const auto& slots = table.dynamic_slots();
  for (std::string_view name : names) {
    auto it = o->index_->find(name);
    if (it == o->index_->end()) continue;
    for (uint32_t i : it->second) {
      auto& mine = copied[i / kChunk];
      if (!mine) {
        mine = std::make_shared<Chunk>(*o->chunks_[i / kChunk]);
        o->chunks_[i / kChunk] = mine;
      }
      (*mine)[i % kChunk] = make_choice(table, slots[i], lookup(slots[i].name, slots[i].qtype));
    }
  }
  return o;
}

size_t Overlay::template_count() const noexcept {
  size_t n = 0;
  for (const auto& chunk : chunks_)
    for (const Choice& c : *chunk) n += c.templates.size();
  return n;
}

const Template& Overlay::pick(uint32_t slot, PickState& st) const noexcept {
  const Choice& c = (*chunks_[slot / kChunk])[slot % kChunk];
  const uint32_t count = uint32_t(c.templates.size());
  if (count == 1) return c.templates[0];
  if (c.pick == DynamicAnswer::Pick::cycle) return c.templates[st.turn++ % count];
  // xorshift64*: a few cycles, and good enough to split traffic by weight.
  st.rng ^= st.rng >> 12;
  st.rng ^= st.rng << 25;
  st.rng ^= st.rng >> 27;
  const uint64_t r = (st.rng * 0x2545F4914F6CDD1Dull >> 11) % c.cumulative.back();
  const auto it = std::upper_bound(c.cumulative.begin(), c.cumulative.end(), r);
  return c.templates[uint32_t(it - c.cumulative.begin())];
}

}  // namespace gslb::dns
