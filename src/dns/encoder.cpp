#include "dns/encoder.hpp"

#include "dns/wire.hpp"

namespace gslb::dns {

namespace {
// A pointer holds 14 bits, and a template's pointers may later move by up to 255 bytes (the
// longest question name), so names beyond this offset are not offered as targets.
constexpr size_t kMaxTarget = 0x3FFF - kMaxName;
}  // namespace

Encoder::Encoder(std::string_view base, bool exact_case)
    : start_(kHeaderSize + base.size() + 4), exact_case_(exact_case) {
  size_t off = kHeaderSize;
  for (std::string_view s = base; s.size() > 1; s = name_parent(s)) {
    known_.push_back(Known{std::string(s), uint16_t(off)});
    off += 1 + uint8_t(s[0]);
  }
}

void Encoder::put16(uint16_t v) {
  out_.push_back(char(v >> 8));
  out_.push_back(char(v));
}

void Encoder::put32(uint32_t v) {
  put16(uint16_t(v >> 16));
  put16(uint16_t(v));
}

void Encoder::name(std::string_view wire) {
  std::string lower(wire);
  if (!exact_case_) name_lower(lower);
  size_t i = 0;
  for (;;) {
    std::string_view suffix = std::string_view(lower).substr(i);
    if (suffix.size() <= 1) {
      out_.push_back('\0');
      return;
    }
    for (const auto& k : known_) {
      if (k.suffix == suffix) {
        shifts_.push_back(uint16_t(out_.size()));
        put16(uint16_t(0xC000 | k.offset));
        return;
      }
    }
    size_t at = start_ + out_.size();
    if (at <= kMaxTarget) known_.push_back(Known{std::string(suffix), uint16_t(at)});
    uint8_t l = uint8_t(wire[i]);
    out_.append(wire.substr(i, l + 1u));
    i += l + 1u;
  }
}

void Encoder::rr(std::string_view owner, uint16_t type, uint32_t ttl, const Rdata& rdata) {
  if (owner.empty()) {
    put16(0xC000 | kHeaderSize);
  } else {
    name(owner);
  }
  put16(type);
  put16(kClassIN);
  put32(ttl);
  size_t len_at = out_.size();
  put16(0);
  size_t cur = 0;
  for (auto [off, len] : rdata.compressible()) {
    out_.append(rdata.wire, cur, off - cur);
    name(std::string_view(rdata.wire).substr(off, len));
    cur = off + len;
  }
  out_.append(rdata.wire, cur, std::string::npos);
  size_t rdlen = out_.size() - len_at - 2;
  out_[len_at] = char(rdlen >> 8);
  out_[len_at + 1] = char(rdlen);
}

uint16_t Encoder::rrset(std::string_view owner, const RRset& set, uint32_t ttl) {
  for (const auto& d : set.rdata) rr(owner, set.type, ttl, d);
  return uint16_t(set.rdata.size());
}

BuiltTemplate build_template(const TemplateSpec& spec) {
  Encoder enc(spec.base);
  BuiltTemplate built;
  Template& t = built.t;
  std::string& data = built.data;
  for (const auto& r : spec.answer) t.an += enc.rrset(r.owner, *r.set, r.ttl);
  for (const auto& r : spec.authority) t.ns += enc.rrset(r.owner, *r.set, r.ttl);
  for (const auto& r : spec.glue) t.ar += enc.rrset(r.owner, *r.set, r.ttl);
  t.required_len = uint16_t(enc.size());
  uint16_t ar = t.ar;
  std::vector<Template::Cut> cuts;
  for (const auto& r : spec.optional) {
    ar += enc.rrset(r.owner, *r.set, r.ttl);
    if (enc.size() > 0xFFFF) break;
    cuts.push_back(Template::Cut{uint16_t(enc.size()), ar});
  }
  data = std::move(enc.bytes());
  data.resize(cuts.empty() ? t.required_len : cuts.back().end);
  t.size = uint16_t(data.size());
  for (uint16_t s : enc.shifts()) {
    if (s >= t.size) continue;
    data.append(reinterpret_cast<const char*>(&s), sizeof s);
    ++t.shift_count;
  }
  for (const auto& c : cuts) data.append(reinterpret_cast<const char*>(&c), sizeof c);
  t.cut_count = uint16_t(cuts.size());
  data.shrink_to_fit();
  t.base_len = uint8_t(spec.base.size());
  t.rcode = spec.rcode;
  t.aa = spec.aa;
  t.deny = spec.deny;
  return built;
}

}  // namespace gslb::dns
