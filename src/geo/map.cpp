#include "geo/map.hpp"

#include <algorithm>
#include <cstring>

namespace gslb::geo {

namespace {

bool bit(const uint8_t* bytes, unsigned i) noexcept { return (bytes[i / 8] >> (7 - i % 8)) & 1; }

// ::ffff:a.b.c.d is the IPv4 client a.b.c.d seen on a dual-stack socket.
bool v4_mapped(const core::IpAddress& a) noexcept {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return !a.is_v4() && std::memcmp(a.bytes.data(), kPrefix, 12) == 0;
}

}  // namespace

Map::Map(MapConfig cfg) : cfg_(std::move(cfg)) {
  classes_.push_back(cfg_.fallback);
  std::vector<Node> v4(1), v6(1);
  for (size_t r = 0; r < cfg_.nets.size(); ++r) {
    const Rule& rule = cfg_.nets[r];
    auto it = std::find(classes_.begin(), classes_.end(), rule.order);
    class_of_.push_back(uint16_t(it - classes_.begin()));
    if (it == classes_.end()) classes_.push_back(rule.order);
    const bool is_v4 = rule.net.address.is_v4();
    insert(is_v4 ? v4 : v6, rule.net.address.bytes.data(), rule.net.length, int32_t(r));
  }
  pack(v4, 0, v4_);
  pack(v6, 0, v6_);
  v4_.shrink_to_fit();
  v6_.shrink_to_fit();
  counters_ = std::make_unique<std::atomic<uint64_t>[]>(cfg_.nets.size() + 1);
}

void Map::insert(std::vector<Node>& trie, const uint8_t* bytes, unsigned len, int32_t rule) {
  uint32_t n = 0;
  for (unsigned i = 0; i < len; ++i) {
    const bool b = bit(bytes, i);
    if (trie[n].child[b] == 0) {
      trie[n].child[b] = uint32_t(trie.size());
      trie.emplace_back();
    }
    n = trie[n].child[b];
  }
  // A net listed twice is refused by the loader; the first would win here anyway.
  if (trie[n].rule < 0) trie[n].rule = rule;
}

uint32_t Map::pack(const std::vector<Node>& trie, uint32_t n, std::vector<Packed>& out) {
  Packed p;
  while (trie[n].rule < 0 && (trie[n].child[0] == 0) != (trie[n].child[1] == 0) && p.skip < 64) {
    const bool b = trie[n].child[1] != 0;
    p.label = p.label << 1 | b;
    ++p.skip;
    n = trie[n].child[b];
  }
  p.rule = trie[n].rule;
  const uint32_t at = uint32_t(out.size());
  out.push_back(p);
  for (unsigned b = 0; b < 2; ++b)
    if (trie[n].child[b]) {
      const uint32_t c = pack(trie, trie[n].child[b], out);
      out[at].child[b] = c;
    }
  return at;
}

// The deepest rule on the client's path decides. The scope is where the path leaves the trie:
// at a leaf of depth d every address below it gets the same rule (scope d); where the client's
// next bit has no child (or disagrees with a packed label at bit d), the other side holds a
// more specific rule, so the client's half (scope d + 1) is the widest prefix with one rule.
// Worked example: 10/8 and 10.1/16, client 10.2.3.4: the paths agree down to depth 14
// (10.0/14 holds both), then bit 14 is 1 for the client and 0 for 10.1: scope 15, rule 10/8.
// `addr` holds the address from its top bit, zero past the known bits (RFC 7871 §6: ADDRESS is
// padded with zeros); the scope may then exceed the source prefix, which tells the resolver
// its prefix was too short.
Match Map::walk(const std::vector<Packed>& trie, unsigned __int128 addr,
                unsigned max_bits) const noexcept {
  Match m;
  int32_t rule = -1;
  uint32_t n = 0;
  unsigned depth = 0;
  for (;;) {
    const Packed& node = trie[n];
    if (node.skip) {
      const uint64_t got = uint64_t((addr << depth) >> (128 - node.skip));
      if (const uint64_t diff = got ^ node.label) {
        depth += unsigned(__builtin_clzll(diff)) - (64 - node.skip) + 1;
        break;
      }
      depth += node.skip;
    }
    if (node.rule >= 0) rule = node.rule;
    if ((node.child[0] == 0 && node.child[1] == 0) || depth >= max_bits) break;
    const unsigned b = unsigned(addr >> (127 - depth)) & 1;
    ++depth;
    if (node.child[b] == 0) break;
    n = node.child[b];
  }
  m.scope = uint8_t(depth);
  if (rule >= 0) {
    m.rule = uint32_t(rule);
    m.cls = class_of_[size_t(rule)];
  }
  return m;
}

namespace {

// The first `bits` bits of `bytes` (of `len` bytes) from the top of a 128-bit value.
unsigned __int128 top_bits(const uint8_t* bytes, unsigned len, unsigned bits) noexcept {
  unsigned __int128 v = 0;
  for (unsigned i = 0; i < len; ++i) v = v << 8 | bytes[i];
  v <<= 128 - 8 * len;
  if (bits < 128) v &= ~(~(unsigned __int128)0 >> bits);
  return v;
}

}  // namespace

Match Map::lookup(const core::IpAddress& a, unsigned bits) const noexcept {
  if (a.is_v4()) return walk(v4_, top_bits(a.bytes.data(), 4, std::min(bits, 32u)), 32);
  if (v4_mapped(a)) {
    Match m = walk(v4_, top_bits(a.bytes.data() + 12, 4, bits > 96 ? std::min(bits - 96, 32u) : 0), 32);
    m.scope = uint8_t(m.scope + 96);
    return m;
  }
  return walk(v6_, top_bits(a.bytes.data(), 16, std::min(bits, 128u)), 128);
}

std::string Map::rule_text(uint32_t rule) const {
  if (rule == Match::kDefault || rule >= cfg_.nets.size()) return "default";
  const core::Prefix& p = cfg_.nets[rule].net;
  return p.address.to_string() + "/" + std::to_string(p.length);
}

size_t Map::memory_bytes() const noexcept {
  size_t n = (v4_.capacity() + v6_.capacity()) * sizeof(Packed) +
             class_of_.capacity() * sizeof(uint16_t) + (cfg_.nets.size() + 1) * sizeof(uint64_t);
  n += cfg_.nets.capacity() * sizeof(Rule);
  return n;
}

}  // namespace gslb::geo
