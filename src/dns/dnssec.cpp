// Signing with ldns: the zone's records go into an ldns_dnssec_zone, ldns makes the RRSIGs and
// the NSEC chain (ldns_dnssec_zone_sign), and the result is read back through the zone loader,
// so a signed zone is packed and checked like any other.
#include "dns/dnssec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "core/file.hpp"
#include "dns/ldns.hpp"
#include "dns/wire.hpp"

namespace gslb::dns {

namespace {

struct FileClose {
  void operator()(FILE* f) const noexcept { std::fclose(f); }
};

constexpr uint16_t kFlagSep = 0x0001, kFlagZone = 0x0100;

// A key pair read from its two files: the DNSKEY as published, and the private key.
struct KeyPair {
  LdnsRr dnskey;
  LdnsKey key;
  // From the timing metadata dnssec-keygen and dnssec-settime write into .private (absent
  // means "already"): a key is published from Publish until Delete, and signs from Activate
  // until Inactive. A pre-publish rollover is done with these, as BIND does it.
  bool published = true, active = true;
};

// "Activate: 20261128063000" -> unix time; 0 when absent or unreadable.
uint32_t timing(const std::string& text, std::string_view field) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    at = end + 1;
    if (!line.starts_with(field) || line.size() < field.size() + 1 || line[field.size()] != ':') continue;
    line.remove_prefix(field.size() + 1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.size() < 14) return 0;
    std::tm tm{};
    auto num = [&](size_t from, size_t len) { return std::atoi(std::string(line.substr(from, len)).c_str()); };
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(4, 2) - 1;
    tm.tm_mday = num(6, 2);
    tm.tm_hour = num(8, 2);
    tm.tm_min = num(10, 2);
    tm.tm_sec = num(12, 2);
    const time_t t = timegm(&tm);
    return t > 0 ? uint32_t(t) : 0;
  }
  return 0;
}

std::string rr_text(const ldns_rr* rr) {
  char* s = ldns_rr2str(rr);
  std::string out = s ? s : "";
  free(s);  // NOLINT: ldns allocates with malloc
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The DNSKEY record of base.key: the first record of the file that is not a comment.
std::optional<KeyPair> read_key(const KeyRef& ref, const ldns_rdf* apex, uint32_t now,
                                core::Errors& errors) {
  auto fail = [&](const std::string& why) {
    errors.push_back(core::Error{ref.file, ref.line, ref.col, fmt::format("key {}: {}", ref.base, why)});
    return std::nullopt;
  };
  const std::string pub = ref.base + ".key";
  auto read = core::read_regular_file(pub, 1 << 20);
  if (!read) return fail(fmt::format("{}: {}", pub, read.error().message));
  const std::string text = std::move(*read);
  KeyPair kp;
  size_t at = 0;
  while (at < text.size() && !kp.dnskey) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == ';') continue;
    ldns_rr* rr = nullptr;
    if (ldns_rr_new_frm_str(&rr, line.c_str(), 3600, apex, nullptr) != LDNS_STATUS_OK || !rr)
      return fail(fmt::format("{}: not a DNSKEY record: {}", pub, line));
    kp.dnskey.reset(rr);
  }
  if (!kp.dnskey || ldns_rr_get_type(kp.dnskey.get()) != LDNS_RR_TYPE_DNSKEY)
    return fail(fmt::format("{}: holds no DNSKEY record", pub));
  if (ldns_dname_compare(ldns_rr_owner(kp.dnskey.get()), apex) != 0)
    return fail(fmt::format("{}: the key is for {}, not this zone", pub,
                            rr_text(kp.dnskey.get()).substr(0, rr_text(kp.dnskey.get()).find_first_of(" \t"))));
  const uint16_t flags = ldns_rdf2native_int16(ldns_rr_dnskey_flags(kp.dnskey.get()));
  const auto alg = ldns_rdf2native_int8(ldns_rr_dnskey_algorithm(kp.dnskey.get()));
  if (!(flags & kFlagZone)) return fail(fmt::format("{}: not a zone key (flags {})", pub, flags));
  if (alg != LDNS_ECDSAP256SHA256 && alg != LDNS_ED25519 && alg != LDNS_ECDSAP384SHA384 &&
      alg != LDNS_RSASHA256 && alg != LDNS_ED448)
    return fail(fmt::format("{}: algorithm {} is not supported (13 ECDSA P-256 and 15 Ed25519 are)", pub, alg));

  const std::string priv = ref.base + ".private";
  std::unique_ptr<FILE, FileClose> fp(std::fopen(priv.c_str(), "r"));
  if (!fp) return fail(fmt::format("{}: cannot open", priv));
  ldns_key* key = nullptr;
  int line = 0;
  const ldns_status st = ldns_key_new_frm_fp_l(&key, fp.get(), &line);
  if (st != LDNS_STATUS_OK || !key)
    return fail(fmt::format("{}:{}: cannot read the private key: {}", priv, line, ldns_get_errorstr_by_id(st)));
  kp.key.reset(key);
  ldns_key_set_flags(key, flags);
  if (auto text = core::read_regular_file(priv, 1 << 20)) {
    auto at = [&](std::string_view f) { return timing(*text, f); };
    auto passed = [&](std::string_view f) { return at(f) != 0 && at(f) <= now; };
    kp.published = (at("Publish") == 0 || passed("Publish")) && !passed("Delete");
    kp.active = kp.published && (at("Activate") == 0 || passed("Activate")) && !passed("Inactive");
  }
  ldns_key_set_pubkey_owner(key, ldns_rdf_clone(apex));
  ldns_key_set_keytag(key, ldns_calc_keytag(kp.dnskey.get()));
  // The private key must be the one the DNSKEY publishes, or every signature fails to validate.
  LdnsRr derived(ldns_key2rr(key));
  if (!derived || ldns_rr_rd_count(derived.get()) < 4 ||
      ldns_rdf_compare(ldns_rr_rdf(derived.get(), 3), ldns_rr_rdf(kp.dnskey.get(), 3)) != 0)
    return fail(fmt::format("{} and {} are not the same key pair", pub, priv));
  return kp;
}

// One record of the zone as ldns sees it.
LdnsRr to_ldns(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata) {
  std::string wire(owner);
  uint8_t fixed[10];
  put16(fixed, type);
  put16(fixed + 2, kClassIN);
  put32(fixed + 4, ttl);
  put16(fixed + 8, uint16_t(rdata.size()));
  wire.append(reinterpret_cast<const char*>(fixed), sizeof fixed);
  wire.append(rdata);
  ldns_rr* rr = nullptr;
  size_t pos = 0;
  if (ldns_wire2rr(&rr, reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), &pos,
                   LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
    return nullptr;
  return LdnsRr(rr);
}

bool is_dynamic_address(const ldns_rdf* owner, ldns_rr_type type,
                        const std::set<std::string, std::less<>>& dynamic) {
  if (type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA) return false;
  std::string name(reinterpret_cast<const char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner));
  name_lower(name);
  return dynamic.count(name) != 0;
}

// Which keys sign RRsets other than DNSKEY: the active ones without the SEP flag, and an
// active SEP key whose algorithm has no other active key (a CSK). The choice ldns makes when
// it signs the zone with the active keys.
std::vector<bool> zone_signing(const std::vector<KeyPair>& keys) {
  auto sep = [](const KeyPair& k) { return (ldns_key_flags(k.key.get()) & kFlagSep) != 0; };
  std::vector<bool> out;
  for (const auto& k : keys) {
    bool other = false;
    for (const auto& o : keys)
      other = other || (o.active && !sep(o) &&
                        ldns_key_algorithm(o.key.get()) == ldns_key_algorithm(k.key.get()));
    out.push_back(k.active && (!sep(k) || !other));
  }
  return out;
}

}  // namespace

struct Signer::Impl {
  LdnsKeyList keys{ldns_key_list_new()};
  uint32_t validity = 0;
  uint32_t jitter = 0;
  std::mutex mu;  // the keys' inception and expiration are set per signing; the cache
  // Signatures by RRset (owner, type, TTL, sorted RDATA); emptied when it reaches kCacheMax
  // (k-of-n answers can make many distinct sets).
  static constexpr size_t kCacheMax = 1 << 20;
  std::unordered_map<std::string, std::vector<std::string>> cache;
};

namespace {

std::string cache_key(std::string_view owner, const RRset& set) {
  std::vector<std::string_view> rdata;
  for (const Rdata& d : set.rdata) rdata.push_back(d.wire);
  std::sort(rdata.begin(), rdata.end());
  std::string key(owner);
  uint8_t head[6];
  put16(head, set.type);
  put32(head + 2, set.ttl);
  key.append(reinterpret_cast<const char*>(head), sizeof head);
  for (auto r : rdata) {
    uint8_t len[2];
    put16(len, uint16_t(r.size()));
    key.append(reinterpret_cast<const char*>(len), 2);
    key.append(r);
  }
  return key;
}

}  // namespace

Signer::Signer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Signer::~Signer() = default;

std::vector<std::string> Signer::sign(std::string_view owner, const RRset& set) const {
  LdnsRrList list(ldns_rr_list_new());
  std::vector<LdnsRr> rrs;
  for (const Rdata& d : set.rdata) {
    rrs.push_back(to_ldns(owner, set.type, set.ttl, d.wire));
    if (rrs.back()) ldns_rr_list_push_rr(list.get(), rrs.back().get());
  }
  std::vector<std::string> out;
  std::string key = cache_key(owner, set);
  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->cache.find(key); it != impl_->cache.end()) return it->second;
  const auto now = uint32_t(std::time(nullptr));
  for (size_t i = 0; i < ldns_key_list_key_count(impl_->keys.get()); ++i) {
    ldns_key* k = ldns_key_list_key(impl_->keys.get(), i);
    ldns_key_set_inception(k, now - 3600);
    ldns_key_set_expiration(k, now + impl_->validity - impl_->jitter);
  }
  LdnsRrList sigs(ldns_sign_public(list.get(), impl_->keys.get()));
  for (size_t i = 0; sigs && i < ldns_rr_list_rr_count(sigs.get()); ++i) {
    LdnsRr sig(ldns_rr_list_rr(sigs.get(), i));
    ldns_buffer* buf = ldns_buffer_new(256);
    if (ldns_rr_rdata2buffer_wire(buf, sig.get()) == LDNS_STATUS_OK)
      out.emplace_back(reinterpret_cast<const char*>(ldns_buffer_begin(buf)), ldns_buffer_position(buf));
    ldns_buffer_free(buf);
  }
  if (impl_->cache.size() >= Impl::kCacheMax) impl_->cache.clear();
  impl_->cache.emplace(std::move(key), out);
  return out;
}

std::shared_ptr<Zone> sign_zone(const Zone& zone, const SignSpec& spec,
                                const std::vector<DynamicName>& dynamic, core::Errors& errors) {
  LdnsRdf apex(ldns_dname_new_frm_data(uint16_t(zone.apex.size()), zone.apex.data()));
  std::vector<KeyPair> keys;
  const size_t before = errors.size();
  for (const auto& ref : spec.keys)
    if (auto kp = read_key(ref, apex.get(), spec.now, errors)) keys.push_back(std::move(*kp));
  if (errors.size() != before) return nullptr;
  if (keys.empty()) {
    errors.push_back(core::Error{zone.file, 0, 0, "dnssec: no keys"});
    return nullptr;
  }

  LdnsDnssecZone dz(ldns_dnssec_zone_new());
  auto add = [&](LdnsRr rr) {
    if (rr && ldns_dnssec_zone_add_rr(dz.get(), rr.get()) == LDNS_STATUS_OK) rr.release();
  };
  uint32_t dnskey_ttl = 3600;
  for (const Node& node : zone.nodes)
    for (const RRset& set : node.rrsets) {
      // Signatures and denial records of an earlier signing are made anew.
      if (set.type == rrtype::RRSIG || set.type == rrtype::NSEC || set.type == rrtype::DNSKEY ||
          set.type == rrtype::CDS || set.type == rrtype::CDNSKEY)
        continue;
      if (set.type == rrtype::SOA) dnskey_ttl = set.ttl;
      for (const Rdata& d : set.rdata) add(to_ldns(node.name, set.type, set.ttl, d.wire));
    }
  std::set<std::string, std::less<>> dynamic_names;
  for (const auto& d : dynamic) {
    // Stand-ins, so that the NSEC at a dynamic name lists what its pools answer (RFC 4035
    // §2.3); they are dropped again below.
    dynamic_names.insert(d.name);
    if (d.a) add(to_ldns(d.name, rrtype::A, 0, std::string_view("\xc0\x00\x02\x01", 4)));
    if (d.aaaa)
      add(to_ldns(d.name, rrtype::AAAA, 0,
                  std::string_view("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16)));
  }
  LdnsKeyList list(ldns_key_list_new());
  size_t active = 0;
  for (auto& kp : keys) {
    if (!kp.published) continue;
    ldns_rr_set_ttl(kp.dnskey.get(), dnskey_ttl);
    const bool sep = ldns_rdf2native_int16(ldns_rr_dnskey_flags(kp.dnskey.get())) & kFlagSep;
    if (sep && kp.active) {
      // RFC 7344 §3: CDS and CDNSKEY publish what the parent's DS should be.
      LdnsRr cdnskey(ldns_rr_clone(kp.dnskey.get()));
      ldns_rr_set_type(cdnskey.get(), LDNS_RR_TYPE_CDNSKEY);
      LdnsRr cds(ldns_key_rr2ds(kp.dnskey.get(), LDNS_SHA256));
      if (cds) ldns_rr_set_type(cds.get(), LDNS_RR_TYPE_CDS);
      add(std::move(cdnskey));
      add(std::move(cds));
    }
    add(LdnsRr(ldns_rr_clone(kp.dnskey.get())));
    if (!kp.active) continue;  // published only: in the DNSKEY RRset, signing nothing
    ++active;
    ldns_key_set_inception(kp.key.get(), spec.now - 3600);
    ldns_key_set_expiration(kp.key.get(), spec.now + spec.validity - spec.jitter);
    ldns_key_list_push_key(list.get(), kp.key.release());  // the list owns it now
  }
  if (active == 0) {
    errors.push_back(core::Error{spec.keys.front().file, spec.keys.front().line, spec.keys.front().col,
                                 "dnssec: no key is active now (see the keys' Activate and Inactive times)"});
    return nullptr;
  }
  if (!dz->soa) {
    ldns_rbnode_t* n = ldns_rbtree_search(dz->names, apex.get());
    if (n && n != LDNS_RBTREE_NULL) dz->soa = static_cast<ldns_dnssec_name*>(const_cast<void*>(n->data));
  }
  ldns_dnssec_zone_mark_glue(dz.get());
  LdnsRrList made(ldns_rr_list_new());
  const ldns_status st = ldns_dnssec_zone_sign(dz.get(), made.get(), list.get(),
                                               ldns_dnssec_default_replace_signatures, nullptr);
  if (st != LDNS_STATUS_OK) {
    errors.push_back(core::Error{zone.file, 0, 0, fmt::format("dnssec: signing failed: {}",
                                                              ldns_get_errorstr_by_id(st))});
    return nullptr;
  }

  // Back to master-file text for the loader, without the dynamic names' stand-ins.
  std::string text;
  auto put = [&text](const ldns_rr* rr) {
    text += rr_text(rr);
    text += '\n';
  };
  for (ldns_rbnode_t* n = ldns_rbtree_first(dz->names); n != LDNS_RBTREE_NULL; n = ldns_rbtree_next(n)) {
    const auto* name = static_cast<const ldns_dnssec_name*>(n->data);
    for (const ldns_dnssec_rrsets* s = name->rrsets; s; s = s->next) {
      if (is_dynamic_address(name->name, s->type, dynamic_names)) continue;
      for (const ldns_dnssec_rrs* r = s->rrs; r; r = r->next) put(r->rr);
      for (const ldns_dnssec_rrs* r = s->signatures; r; r = r->next) put(r->rr);
    }
    if (name->nsec) put(name->nsec);
    for (const ldns_dnssec_rrs* r = name->nsec_signatures; r; r = r->next) put(r->rr);
  }
  core::Errors load_errors;
  LoadOptions options;
  options.limits.records = ~uint64_t(0);
  options.limits.bytes = ~uint64_t(0);
  std::string apex_text = name_to_text(zone.apex);
  auto out = load_zone(apex_text, zone.file, load_errors, &text, options);
  if (!out) {
    for (auto& e : load_errors) errors.push_back(std::move(e));
    return nullptr;
  }
  out->sources = zone.sources;
  out->loaded_at = zone.loaded_at;
  out->allow_transfer = zone.allow_transfer;
  out->transfer_keys = zone.transfer_keys;  // a signed zone is transferred with the same keys
  out->file_serial = zone.file_serial;
  // The dynamic answers are signed later, with keys of their own (ldns_dnssec_zone_sign took
  // ownership of these): read again.
  auto impl = std::make_unique<Signer::Impl>();
  impl->validity = spec.validity;
  impl->jitter = spec.jitter;
  std::vector<KeyPair> again;
  for (const auto& ref : spec.keys)
    if (auto kp = read_key(ref, apex.get(), spec.now, errors)) again.push_back(std::move(*kp));
  if (again.size() != spec.keys.size()) return nullptr;
  const std::vector<bool> zsk = zone_signing(again);
  for (size_t i = 0; i < again.size(); ++i)
    if (zsk[i]) ldns_key_list_push_key(impl->keys.get(), again[i].key.release());
  out->signer = std::make_shared<const Signer>(std::move(impl));
  return out;
}

std::vector<std::string> ds_records(const Zone& zone) {
  std::vector<std::string> out;
  const Node& apex = zone.apex_node();
  const RRset* keys = apex.find(rrtype::DNSKEY);
  if (!keys) return out;
  for (const Rdata& d : keys->rdata) {
    if (d.wire.size() < 4 || !(uint8_t(d.wire[1]) & kFlagSep)) continue;
    LdnsRr rr = to_ldns(zone.apex, rrtype::DNSKEY, keys->ttl, d.wire);
    if (!rr) continue;
    LdnsRr ds(ldns_key_rr2ds(rr.get(), LDNS_SHA256));
    if (ds) out.push_back(rr_text(ds.get()));
  }
  return out;
}

uint32_t earliest_expiration(const Zone& zone) {
  uint32_t first = 0;
  for (const RRset& set : zone.rrset_store) {
    if (set.type != rrtype::RRSIG) continue;
    for (const Rdata& d : set.rdata) {
      if (d.wire.size() < 12) continue;
      const uint32_t exp = get32(reinterpret_cast<const uint8_t*>(d.wire.data()) + 8);
      if (first == 0 || exp < first) first = exp;
    }
  }
  return first;
}

namespace {

// Where the bitmap of NSEC RDATA starts (after the next owner name); npos if malformed.
size_t nsec_bitmap_at(std::string_view rdata) {
  size_t at = 0;
  while (at < rdata.size()) {
    const size_t len = uint8_t(rdata[at]);
    if (len == 0) return at + 1;
    if (len > 63) return std::string_view::npos;  // a compression pointer has no place here
    at += len + 1;
  }
  return std::string_view::npos;
}

// Calls f(window start, window number, bitmap length) for each window; false if malformed.
template <typename F>
bool nsec_windows(std::string_view rdata, F&& f) {
  size_t at = nsec_bitmap_at(rdata);
  if (at == std::string_view::npos) return false;
  while (at < rdata.size()) {
    if (at + 2 > rdata.size()) return false;
    const size_t len = uint8_t(rdata[at + 1]);
    if (len == 0 || len > 32 || at + 2 + len > rdata.size()) return false;
    f(at, uint8_t(rdata[at]), len);
    at += 2 + len;
  }
  return true;
}

}  // namespace

bool nsec_has_type(std::string_view rdata, uint16_t type) {
  const uint8_t window = uint8_t(type >> 8), bit = uint8_t(type & 0xff);
  bool found = false;
  nsec_windows(rdata, [&](size_t at, uint8_t w, size_t len) {
    if (w == window && size_t(bit / 8) < len)
      found = found || (uint8_t(rdata[at + 2 + bit / 8]) & (0x80 >> (bit % 8)));
  });
  return found;
}

std::string nsec_without_type(std::string_view rdata, uint16_t type) {
  if (!nsec_has_type(rdata, type)) return std::string(rdata);
  const uint8_t window = uint8_t(type >> 8), bit = uint8_t(type & 0xff);
  std::string out(rdata.substr(0, nsec_bitmap_at(rdata)));
  nsec_windows(rdata, [&](size_t at, uint8_t w, size_t len) {
    std::string bits(rdata.substr(at + 2, len));
    if (w == window) bits[bit / 8] = char(uint8_t(bits[bit / 8]) & ~(0x80 >> (bit % 8)));
    while (!bits.empty() && bits.back() == 0) bits.pop_back();
    if (bits.empty()) return;
    out += char(w);
    out += char(bits.size());
    out += bits;
  });
  return out;
}

LongestTtl longest_signed_ttl(const Zone& zone) {
  LongestTtl out;
  auto is_cut = [&zone](std::string_view name) {
    const Node* n = zone.find(name);
    return n && name != zone.apex && n->find(rrtype::NS);
  };
  for (const Node& node : zone.nodes) {
    // Glue and names a delegation hides are not signed: skip a node below a cut. The names
    // between it and the apex are its ancestors, a label shorter each (each a binary search).
    bool below = false;
    for (std::string_view up = node.name; !below && up.size() > zone.apex.size();) {
      up.remove_prefix(size_t(uint8_t(up[0])) + 1);
      below = up.size() > zone.apex.size() && is_cut(up);
    }
    if (below) continue;
    const bool cut = is_cut(node.name);
    for (const RRset& set : node.rrsets) {
      if (set.type == rrtype::RRSIG || (cut && set.type != rrtype::DS)) continue;
      if (set.ttl > out.ttl) out = LongestTtl{set.ttl, std::string(node.name), set.type};
    }
  }
  return out;
}

}  // namespace gslb::dns
