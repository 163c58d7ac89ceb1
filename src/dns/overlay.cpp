#include "dns/overlay.hpp"

#include <algorithm>
#include <cstring>

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

std::shared_ptr<const Overlay> Overlay::build(const AnswerTable& table, const Lookup& lookup) {
  auto o = std::make_shared<Overlay>();
  for (const DynamicSlot& slot : table.dynamic_slots()) {
    const DynamicAnswer* ans = lookup(slot.name, slot.qtype);
    Choice c;
    c.first = uint32_t(o->templates_.size());
    TemplateSpec spec;
    spec.base = slot.base;
    spec.answer = slot.chain;
    const Zone& zone = *table.zones()[slot.zone];
    if (ans && ans->kind == DynamicAnswer::Kind::servfail) {
      TemplateSpec fail;
      fail.base = slot.base;
      fail.rcode = uint8_t(Rcode::servfail);
      fail.aa = false;
      o->templates_.add(build_template(fail));
    } else if (ans && ans->kind == DynamicAnswer::Kind::addresses && !ans->alternatives.empty()) {
      c.pick = ans->pick;
      uint64_t total = 0;
      for (const auto& alt : ans->alternatives) {
        AddressSet addrs = address_set(slot.qtype, ans->ttl, alt.addresses);
        const RRset& set = addrs.set;
        if (set.rdata.empty()) continue;
        TemplateSpec s = spec;
        s.answer.push_back(RecordRef{slot.owner, &set, set.ttl});
        o->templates_.add(build_template(s));
        total += std::max<uint32_t>(alt.weight, 1);
        c.cumulative.push_back(total);
      }
    }
    if (o->templates_.size() == c.first) {
      // No address of this family (or nothing usable and all_down = empty): NODATA, with a
      // negative TTL no longer than the name's own, so the name comes back quickly.
      const RRset& soa = zone.soa();
      uint32_t ttl = soa_negative_ttl(zone);
      if (ans) ttl = std::min(ttl, ans->ttl);
      spec.authority.push_back(RecordRef{zone.apex, &soa, ttl});
      o->templates_.add(build_template(spec));
      c.cumulative.clear();
    }
    c.count = uint32_t(o->templates_.size() - c.first);
    if (c.cumulative.size() != c.count) c.pick = DynamicAnswer::Pick::cycle;
    o->choices_.push_back(std::move(c));
  }
  o->templates_.freeze();
  return o;
}

const Template& Overlay::pick(uint32_t slot, PickState& st) const noexcept {
  const Choice& c = choices_[slot];
  if (c.count == 1) return templates_[c.first];
  if (c.pick == DynamicAnswer::Pick::cycle) return templates_[c.first + st.turn++ % c.count];
  // xorshift64*: a few cycles, and good enough to split traffic by weight.
  st.rng ^= st.rng >> 12;
  st.rng ^= st.rng << 25;
  st.rng ^= st.rng >> 27;
  const uint64_t r = (st.rng * 0x2545F4914F6CDD1Dull >> 11) % c.cumulative.back();
  const auto it = std::upper_bound(c.cumulative.begin(), c.cumulative.end(), r);
  return templates_[c.first + uint32_t(it - c.cumulative.begin())];
}

}  // namespace gslb::dns
