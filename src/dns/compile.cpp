// Zone data -> AnswerTable. All DNS lookup semantics (RFC 1034 §4.3.2, RFC 2308, RFC 4592,
// RFC 8482) are decided here, once, so that the query path only finds an entry and copies.
#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "dns/compiler.hpp"
#include "dns/encoder.hpp"
#include "dns/wire.hpp"

namespace gslb::dns {

uint64_t AnswerTable::hash(const uint8_t* p, size_t len) noexcept {
  // FNV-1a, 64-bit: short keys, good spread, a few cycles a byte.
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

const Entry* AnswerTable::find(const uint8_t* name, size_t len) const noexcept {
  if (slots_.empty()) return nullptr;
  const uint64_t h = hash(name, len);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint32_t s = slots_[i];
    if (s == 0) return nullptr;
    const Entry& e = entries_[s - 1];
    if (e.hash == h && e.name.size() == len && std::equal(name, name + len, e.name.data()))
      return &e;
  }
}

uint32_t AnswerTable::pick(const Entry& e, uint16_t qtype, bool tcp, bool dnssec) const noexcept {
  if (qtype == rrtype::ANY) return dnssec ? e.any_do : tcp ? e.any_tcp : e.any_udp;
  const Entry::Slot* s = types_.data() + e.types_at;
  for (const Entry::Slot* end = s + e.types_count; s != end; ++s)
    if (s->qtype == qtype) return dnssec ? s->tmpl_do : s->tmpl;
  return dnssec ? e.other_do : e.other;
}

int32_t AnswerTable::cover(uint16_t zone, std::string_view key) const noexcept {
  if (zone >= denial_.size() || denial_[zone].keys.empty()) return -1;
  const auto& keys = denial_[zone].keys;
  auto it = std::upper_bound(keys.begin(), keys.end(), key,
                             [](std::string_view k, const std::string& e) { return k < std::string_view(e); });
  // Every name of the zone sorts after its apex, the first key; past the last name the chain
  // wraps to the apex's NSEC's predecessor, the last one (RFC 4034 §4.1.1).
  return int32_t(it == keys.begin() ? keys.size() - 1 : size_t(it - keys.begin()) - 1);
}

namespace {

std::string wildcard_of(std::string_view name) {
  std::string w("\x01*", 2);
  w.append(name);
  return w;
}

}  // namespace

Compiler::Compiler(std::vector<std::shared_ptr<const Zone>> zones,
                   const std::vector<std::string>& dynamic)
    : zones_(std::move(zones)), dynamic_(dynamic.begin(), dynamic.end()) {
  // Parents first, so that a child zone's names replace what its parent holds below the cut.
  std::stable_sort(zones_.begin(), zones_.end(), [](const auto& a, const auto& b) {
    return name_label_count(a->apex) < name_label_count(b->apex);
  });
  for (uint16_t zi = 0; zi < zones_.size(); ++zi) {
    const Zone& z = *zones_[zi];
    // A name at or below a child zone's apex belongs to the child: its apex too (the child
    // owns every type there; run() answers DS from the parent side, RFC 4035 §3.1.4.1).
    std::vector<std::string_view> children;
    for (size_t zj = zi + 1; zj < zones_.size(); ++zj)
      if (name_is_subdomain(zones_[zj]->apex, z.apex)) children.push_back(zones_[zj]->apex);
    for (const Node& node : z.nodes) {
      const std::string_view name = node.name;
      if (std::any_of(children.begin(), children.end(),
                      [name](std::string_view apex) { return name_is_subdomain(name, apex); }))
        continue;
      Info info{zi, &node, {}};
      // The highest delegation point between the apex (excluded) and this name (included).
      // A name below a DNAME is occluded (RFC 6672 §2.4): kept in the zone and its transfers,
      // never answered, so that the DNAME is its closest encloser.
      bool occluded = false;
      for (std::string_view s = name; s.size() >= z.apex.size(); s = name_parent(s)) {
        const Node* n = z.find(s);
        if (n && s.size() > z.apex.size() && n->find(rrtype::NS)) info.cut = s;
        if (n && s.size() < name.size() && n->find(rrtype::DNAME)) occluded = true;
        if (s.size() <= 1) break;
      }
      if (!occluded) names_.emplace_back(name, info);
    }
  }
  auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::sort(names_.begin(), names_.end(), by_name);
  // A dynamic name exists even when no zone file mentions it, and so do the names between it
  // and its zone's apex (empty non-terminals, RFC 4592 §2.2.2).
  t_ = std::make_shared<AnswerTable>();
  for (const auto& d : dynamic_) {
    for (std::string_view s = d; s.size() > 1 && !info_of(s); s = name_parent(s)) {
      std::string_view up = s;
      while (up.size() > 1 && !info_of(up)) up = name_parent(up);
      const Info* above = info_of(up);
      if (!above || !above->cut.empty()) break;  // check_dynamic_name refuses
      Node& n = synthetic_.emplace_back();
      n.name = t_->synthetic_names_.emplace_back(s);
      added_.emplace(n.name, Info{above->zone, &n, {}});
    }
  }
  if (!added_.empty()) {
    names_.insert(names_.end(), added_.begin(), added_.end());
    std::sort(names_.begin(), names_.end(), by_name);
    added_.clear();
  }
  t_->zones_ = zones_;
  signed_.assign(zones_.size(), false);
  for (size_t zi = 0; zi < zones_.size(); ++zi) {
    const Zone& z = *zones_[zi];
    const Node* apex = z.find(z.apex);
    if (!apex || !apex->find(rrtype::DNSKEY)) continue;
    signed_[zi] = true;
    for (const Node& n : z.nodes)
      for (const RRset& set : n.rrsets) node_of_.emplace(&set, &n);
  }
}

uint32_t Compiler::dynamic_slot(const std::string& name, uint16_t qtype, const std::string& base,
                                std::vector<Rec> chain, const std::string& owner, uint16_t zone) {
  DynamicSlot d{name, qtype, base, std::move(chain), owner, zone, {}, {}};
  if (signed_[zone]) {
    for (const auto& r : d.chain) push_signed(d.chain_do, r);
    push_signed(d.nodata_do, negative_soa(zone));
    const Info* info = info_of(name);
    const RRset* nsec = info ? info->node->find(rrtype::NSEC) : nullptr;
    if (nsec) push_signed(d.nodata_do, Rec{name, nsec, nsec->ttl});
  }
  t_->slots_dynamic_.push_back(std::move(d));
  return kDynamicBit | uint32_t(t_->slots_dynamic_.size() - 1);
}

Compiler::Info* Compiler::info_of(std::string_view name) {
  auto it = std::lower_bound(names_.begin(), names_.end(), name,
                             [](const auto& e, std::string_view n) { return e.first < n; });
  if (it != names_.end() && it->first == name) return &it->second;
  auto a = added_.find(name);
  return a == added_.end() ? nullptr : &a->second;
}

Compiler::Found Compiler::lookup(std::string_view name) const {
  for (std::string_view s = name;; s = name_parent(s)) {
    if (const Info* info = info_of(s)) {
      if (!info->cut.empty()) return {Found::referral, info};
      if (s.size() == name.size()) return {Found::exact, info};
      const Info* w = info_of(wildcard_of(s));
      if (w && w->cut.empty()) return {Found::wildcard, w};
      return {Found::nxdomain, info};
    }
    if (s.size() <= 1) return {};
  }
}

namespace {

uint64_t template_hash(const Template& t, std::string_view block) {
  uint64_t h = AnswerTable::hash(reinterpret_cast<const uint8_t*>(block.data()), block.size());
  for (uint64_t v : {uint64_t(t.required_len), uint64_t(t.an) << 16 | t.ns, uint64_t(t.ar),
                     uint64_t(t.deny) << 24 | uint64_t(t.base_len) << 16 | uint64_t(t.rcode) << 8 | t.aa,
                     uint64_t(t.size), uint64_t(t.shift_count) << 16 | t.cut_count})
    h = (h ^ v) * 0x100000001b3ULL;
  return h;
}

}  // namespace

uint32_t Compiler::add(const Spec& spec) {
  BuiltTemplate b = build_template(spec);
  auto& all = t_->templates_;
  if (2 * (interned_count_ + 1) > interned_.size()) {
    std::vector<uint32_t> old = std::exchange(interned_, std::vector<uint32_t>(std::max<size_t>(1024, 2 * interned_.size())));
    const size_t mask = interned_.size() - 1;
    for (uint32_t s : old) {
      if (!s) continue;
      size_t i = template_hash(all[s - 1], all.block(s - 1)) & mask;
      while (interned_[i]) i = (i + 1) & mask;
      interned_[i] = s;
    }
  }
  const size_t mask = interned_.size() - 1;
  for (size_t i = template_hash(b.t, b.data) & mask;; i = (i + 1) & mask) {
    const uint32_t s = interned_[i];
    if (s == 0) {
      const uint32_t index = all.add(b);
      interned_[i] = index + 1;
      ++interned_count_;
      return index;
    }
    if (all[s - 1].same_shape(b.t) && all.block(s - 1) == b.data) return s - 1;
  }
}

// Addresses of the targets of NS, MX and SRV records that we hold (RFC 1034 §3.7 additional
// section processing), including glue below our delegations.
void Compiler::add_targets(const RRset& set, std::vector<Rec>& out,
                           std::set<std::string>& seen) const {
  if (set.type != rrtype::NS && set.type != rrtype::MX && set.type != rrtype::SRV) return;
  for (const auto& d : set.rdata) {
    std::string target = d.target();
    if (target.empty() || !seen.insert(target).second) continue;
    const Info* info = info_of(target);
    if (!info) continue;
    for (uint16_t type : {rrtype::A, rrtype::AAAA})
      if (const RRset* a = info->node->find(type)) out.push_back(Rec{target, a, a->ttl});
  }
}

Compiler::Pair Compiler::referral(std::string_view cut) {
  auto [it, fresh] = referral_.try_emplace(std::string(cut), Pair{0, 0});
  if (!fresh) return it->second;
  const Info& info = *info_of(cut);
  const Zone& z = *zones_[info.zone];
  const RRset* ns = z.find(cut)->find(rrtype::NS);
  Spec s;
  s.base = std::string(cut);
  s.aa = false;
  s.authority.push_back(Rec{std::string(cut), ns, ns->ttl});
  std::set<std::string> seen;
  std::vector<Rec> addrs;
  add_targets(*ns, addrs, seen);
  for (auto& r : addrs) (name_is_subdomain(r.owner, cut) ? s.glue : s.optional).push_back(r);
  const uint32_t plain = add(s);
  it->second = Pair{plain, plain};
  if (signed_[info.zone]) {
    // RFC 4035 §3.1.4: the DS RRset and its RRSIGs, or the NSEC at the cut proving there is
    // none (an unsigned child).
    const Node* node = z.find(cut);
    const RRset* ds = node->find(rrtype::DS);
    const RRset* proof = ds ? ds : node->find(rrtype::NSEC);
    if (proof) push_signed(s.authority, Rec{std::string(cut), proof, proof->ttl});
    it->second.dnssec = add(s);
  }
  return it->second;
}

Compiler::Pair Compiler::positive(std::span<const RRset> sets, const std::string& base, uint16_t zone,
                                   uint8_t deny) {
  Spec s;
  s.base = base;
  std::set<std::string> seen;
  for (const RRset& set : sets) {
    s.answer.push_back(Rec{{}, &set, set.ttl});
    add_targets(set, s.optional, seen);
  }
  return both(s, zone, deny);
}

namespace {
// The node's RRsets a type at a time (several only for RRSIG, one per covered type).
template <class F>
void for_each_type(std::span<const RRset> sets, F f) {
  for (size_t i = 0; i < sets.size();) {
    size_t j = i + 1;
    while (j < sets.size() && sets[j].type == sets[i].type) ++j;
    f(sets.subspan(i, j - i));
    i = j;
  }
}
}  // namespace

// A CNAME at the queried name: the CNAME, then the chain followed through our zones
// (RFC 1034 §4.3.2 step 3a, RFC 6604 for the final RCODE), compiled for each type the chain
// ends on, plus one answer for every other type.
void Compiler::fill_cname(Entry& e, const Info& info, const std::string& base) {
  const RRset* cname = info.node->find(rrtype::CNAME);
  Spec chain;
  chain.base = base;
  chain.answer.push_back(Rec{{}, cname, cname->ttl});
  types_.push_back(slot(rrtype::CNAME, both(chain, e.zone, deny_)));
  e.any_udp = e.any_tcp = types_.back().tmpl;
  e.any_do = types_.back().tmpl_do;

  std::set<std::string> visited{std::string(info.node->name)};
  std::string target = cname->rdata.front().target();
  const Node* final_node = nullptr;
  std::string final_owner;
  Spec tail = chain;
  // RFC 4035 §3.1.3: what proves the end of the chain in a signed zone. `found`: for a
  // wildcard target, that the name itself does not exist; `missing`: for NODATA or NXDOMAIN.
  std::vector<Rec> found, missing;
  auto add_proof = [](std::vector<Rec>& out, std::optional<Rec> r) {
    if (r && std::none_of(out.begin(), out.end(), [&](const Rec& o) { return o.set == r->set; }))
      out.push_back(std::move(*r));
  };
  for (int hop = 0; hop < 8 && visited.insert(target).second; ++hop) {
    Found f = lookup(target);
    if (f.kind == Found::exact || f.kind == Found::wildcard) {
      const RRset* next = f.info->node->find(rrtype::CNAME);
      if (next) {
        tail.answer.push_back(Rec{target, next, next->ttl});
        target = next->rdata.front().target();
        continue;
      }
      final_node = f.info->node;
      final_owner = target;
      tail.authority.push_back(negative_soa(f.info->zone));
      const RRset* nsec = final_node->find(rrtype::NSEC);
      if (nsec) missing.push_back(Rec{std::string(final_node->name), nsec, nsec->ttl});
      if (!nsec || f.kind == Found::wildcard) {
        add_proof(found, covering(f.info->zone, target));
        add_proof(missing, covering(f.info->zone, target));
      }
      if (f.kind == Found::exact) found.clear();
    } else if (f.kind == Found::nxdomain) {
      tail.rcode = uint8_t(Rcode::nxdomain);
      tail.authority.push_back(negative_soa(f.info->zone));
      add_proof(missing, covering(f.info->zone, target));
      add_proof(missing, covering(f.info->zone, wildcard_of(f.info->node->name)));
    } else if (f.kind == Found::referral) {
      // The chain leaves our authority at a cut: the tail is a referral, and its glue below
      // the cut is as required as in any other referral (RFC 1034 §4.3.2 step 3b, RFC 9471).
      const std::string_view cut = f.info->cut;
      const RRset* ns = info_of(cut)->node->find(rrtype::NS);
      tail.authority.push_back(Rec{std::string(cut), ns, ns->ttl});
      std::set<std::string> seen;
      std::vector<Rec> addrs;
      add_targets(*ns, addrs, seen);
      for (auto& r : addrs)
        (name_is_subdomain(r.owner, cut) ? tail.glue : tail.optional).push_back(r);
    }
    break;
  }
  if (final_node && dynamic_.count(final_node->name)) {
    for (uint16_t type : {rrtype::A, rrtype::AAAA})
      types_.push_back(slot(type, dynamic(dynamic_slot(std::string(final_node->name), type, base,
                                                         tail.answer, final_owner, e.zone))));
  }
  if (final_node) {
    for_each_type(final_node->rrsets, [&](std::span<const RRset> sets) {
      const uint16_t type = sets[0].type;
      if (dynamic_.count(final_node->name) && (type == rrtype::A || type == rrtype::AAAA)) return;
      Spec s = tail;
      s.authority.clear();
      std::set<std::string> seen;
      for (const RRset& set : sets) {
        s.answer.push_back(Rec{final_owner, &set, set.ttl});
        add_targets(set, s.optional, seen);
      }
      types_.push_back(slot(type, both(s, e.zone, deny_, found)));
    });
  }
  const Pair other = both(tail, e.zone, deny_, missing);
  e.other = other.plain;
  e.other_do = other.dnssec;
}

void Compiler::fill(Entry& e, const Info& info) {
  const Node& node = *info.node;
  // The name a template is built against must be a suffix of every name it answers: the owner
  // itself, or for a wildcard the name it stands below.
  std::string base(node.name);
  if (node.name.size() > 2 && node.name[0] == 1 && node.name[1] == '*') base = node.name.substr(2);

  const bool wild = base.size() != node.name.size();
  deny_ = wild ? 1 : 0;
  if (!info.cut.empty()) {
    const Pair ref = referral(info.cut);
    e.other = e.any_udp = e.any_tcp = e.below = ref.plain;
    e.other_do = e.any_do = e.below_do = ref.dnssec;
    if (info.cut == node.name) {
      // DS belongs to the parent side of the cut (RFC 4035 §2.4, RFC 1034 §4.2.1).
      const RRset* ds = node.find(rrtype::DS);
      types_.push_back(slot(rrtype::DS, ds ? positive(*ds, base, info.zone) : nodata(info.zone, &node)));
    }
    return;
  }
  if (node.find(rrtype::CNAME)) {
    fill_cname(e, info, base);
  } else if (dynamic_.count(node.name)) {
    // Health decides A and AAAA; other types still come from the zone file.
    for (uint16_t type : {rrtype::A, rrtype::AAAA})
      types_.push_back(slot(type, dynamic(dynamic_slot(std::string(node.name), type, base, {}, {}, info.zone))));
    for_each_type(node.rrsets, [&](std::span<const RRset> sets) {
      if (sets[0].type != rrtype::A && sets[0].type != rrtype::AAAA)
        types_.push_back(slot(sets[0].type, positive(sets, base, info.zone)));
    });
    const Pair other = nodata(info.zone, &node);
    e.other = other.plain;
    e.other_do = other.dnssec;
    e.any_udp = e.any_tcp = types_.front().tmpl;
    e.any_do = types_.front().tmpl_do;
  } else {
    Spec all;
    all.base = base;
    std::set<std::string> seen;
    for_each_type(node.rrsets, [&](std::span<const RRset> sets) {
      types_.push_back(slot(sets[0].type, positive(sets, base, info.zone, deny_)));
    });
    for (const auto& set : node.rrsets) all.answer.push_back(Rec{{}, &set, set.ttl});
    const Pair other = nodata(info.zone, &node, wild);
    e.other = other.plain;
    e.other_do = other.dnssec;
    if (node.rrsets.empty()) {
      e.any_udp = e.any_tcp = e.other;
      e.any_do = e.other_do;
    } else {
      // RFC 8482 §4.2: over UDP, one RRset of the node rather than all of them; with DO=1
      // that one signed RRset over TCP as well.
      e.any_udp = types_.front().tmpl;
      e.any_tcp = node.rrsets.size() == 1 ? e.any_udp : add(all);
      e.any_do = types_.front().tmpl_do;
    }
  }
  const Pair below = nxdomain(info.zone);
  e.below = below.plain;
  e.below_do = below.dnssec;
  if (const RRset* dname = node.find(rrtype::DNAME)) {
    // RFC 6672 §2.3: a name below is answered with the DNAME and a CNAME made per query.
    // Its owner is the node's name (a suffix of the query name, compressed against it). With
    // DO=1 the DNAME carries its RRSIGs; the CNAME made from it has none (§5.3.1).
    Spec s;
    s.base = base;
    s.answer.push_back(Rec{std::string(node.name), dname, dname->ttl});
    const Pair p = both(s, info.zone);
    e.below = p.plain;
    e.below_do = p.dnssec;
    e.dname = dname;
  }
}

std::shared_ptr<const AnswerTable> Compiler::run(const std::atomic<bool>* cancel) {
  auto& entries = t_->entries_;
  entries.reserve(names_.size());
  for (auto& [name, info] : names_) {
    info.entry = uint32_t(entries.size());
    Entry e;
    e.name = info.node->name;
    e.hash = AnswerTable::hash(reinterpret_cast<const uint8_t*>(name.data()), name.size());
    e.zone = info.zone;
    entries.push_back(std::move(e));
  }
  for (const auto& [name, info] : names_) {
    if (cancel && info.entry % 4096 == 0 && cancel->load(std::memory_order_relaxed)) return nullptr;
    Entry& e = entries[info.entry];
    types_.clear();
    fill(e, info);
    // A child zone's apex that our parent zone delegates: DS comes from the parent.
    if (info.node->name == zones_[info.zone]->apex) {
      std::string_view up = name_parent(name);
      for (uint16_t zi = 0; zi < zones_.size() && name.size() > 1; ++zi) {
        const Zone& p = *zones_[zi];
        if (zi == info.zone || !name_is_subdomain(up, p.apex)) continue;
        const Node* cut = p.find(name);
        if (!cut || !cut->find(rrtype::NS)) continue;
        const RRset* ds = cut->find(rrtype::DS);
        const Pair tmpl = ds ? positive(*ds, std::string(name), zi) : nodata(zi, cut);
        std::erase_if(types_, [](const Entry::Slot& s) { return s.qtype == rrtype::DS; });
        types_.push_back(slot(rrtype::DS, tmpl));
      }
    }
    if (info.cut.empty()) {
      const Info* w = info_of(wildcard_of(name));
      if (w && w->cut.empty()) e.wildcard = int32_t(w->entry);
    }
    e.types_at = uint32_t(t_->types_.size());
    e.types_count = uint16_t(types_.size());
    t_->types_.insert(t_->types_.end(), types_.begin(), types_.end());
  }
  t_->types_.shrink_to_fit();
  t_->templates_.freeze();
  make_denial();
  size_t cap = 16;
  while (cap < entries.size() * 2) cap <<= 1;
  t_->slots_.assign(cap, 0);
  t_->mask_ = cap - 1;
  for (uint32_t i = 0; i < entries.size(); ++i) {
    uint64_t s = entries[i].hash & t_->mask_;
    while (t_->slots_[s]) s = (s + 1) & t_->mask_;
    t_->slots_[s] = i + 1;
  }
  return t_;
}

std::shared_ptr<const AnswerTable> compile(std::vector<std::shared_ptr<const Zone>> zones,
                                           const std::vector<std::string>& dynamic,
                                           const std::atomic<bool>* cancel) {
  return Compiler(std::move(zones), dynamic).run(cancel);
}

std::string check_dynamic_name(const std::vector<std::shared_ptr<const Zone>>& zones,
                               const std::string& name) {
  const Zone* zone = nullptr;
  for (const auto& z : zones)
    if (name_is_subdomain(name, z->apex) && (!zone || z->apex.size() > zone->apex.size()))
      zone = z.get();
  if (!zone) return "is not inside any served zone";
  for (std::string_view s = name; s.size() > zone->apex.size(); s = name_parent(s)) {
    const Node* n = zone->find(s);
    if (!n) continue;
    if (n->find(rrtype::NS)) return "is at or below a delegation in its zone";
    if (s.size() == name.size() && n->find(rrtype::CNAME)) return "is a CNAME in its zone";
    if (s.size() == name.size() && (n->find(rrtype::A) || n->find(rrtype::AAAA)))
      return "has A/AAAA records in its zone file; a dynamic name takes them from its pools";
  }
  if (name == zone->apex) return "is a zone apex";
  if (name.size() > 2 && name[0] == 1 && name[1] == '*') return "is a wildcard";
  return {};
}

}  // namespace gslb::dns
