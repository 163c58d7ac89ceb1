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
  v4_.emplace_back();
  v6_.emplace_back();
  for (size_t r = 0; r < cfg_.nets.size(); ++r) {
    const Rule& rule = cfg_.nets[r];
    auto it = std::find(classes_.begin(), classes_.end(), rule.order);
    class_of_.push_back(uint16_t(it - classes_.begin()));
    if (it == classes_.end()) classes_.push_back(rule.order);
    const bool v4 = rule.net.address.is_v4();
    insert(v4 ? v4_ : v6_, rule.net.address.bytes.data(), rule.net.length, int32_t(r));
  }
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

// The deepest rule on the client's path decides. The scope is where the path leaves the trie:
// at a leaf of depth d every address below it gets the same rule (scope d); at a node of depth
// d whose child on the client's side is missing, the other side holds a more specific rule, so
// the client's half (scope d + 1) is the widest prefix with one rule. Worked example: 10/8 and
// 10.1/16, client 10.2.3.4: the paths agree down to depth 14 (10.0/14 holds both), then bit 14
// is 1 for the client and 0 for 10.1: scope 15, rule 10/8.
Match Map::walk(const std::vector<Node>& trie, const uint8_t* bytes, unsigned bits,
                unsigned max_bits) const noexcept {
  Match m;
  int32_t rule = trie[0].rule;
  uint32_t n = 0;
  unsigned depth = 0;
  bits = std::min(bits, max_bits);
  for (;;) {
    const Node& node = trie[n];
    if (node.rule >= 0) rule = node.rule;
    if (node.child[0] == 0 && node.child[1] == 0) break;
    if (depth >= max_bits) break;
    // Past the known bits the address is zero (RFC 7871 §6: ADDRESS is padded with zeros);
    // the scope then exceeds the source prefix, which tells the resolver it was too short.
    const bool b = depth < bits && bit(bytes, depth);
    if (node.child[b] == 0) {
      ++depth;
      break;
    }
    n = node.child[b];
    ++depth;
  }
  m.scope = uint8_t(depth);
  if (rule >= 0) {
    m.rule = uint32_t(rule);
    m.cls = class_of_[size_t(rule)];
  }
  return m;
}

Match Map::lookup(const core::IpAddress& a, unsigned bits) const noexcept {
  if (a.is_v4()) return walk(v4_, a.bytes.data(), bits, 32);
  if (v4_mapped(a)) {
    Match m = walk(v4_, a.bytes.data() + 12, bits > 96 ? bits - 96 : 0, 32);
    m.scope = uint8_t(m.scope + 96);
    return m;
  }
  return walk(v6_, a.bytes.data(), bits, 128);
}

std::string Map::rule_text(uint32_t rule) const {
  if (rule == Match::kDefault || rule >= cfg_.nets.size()) return "default";
  const core::Prefix& p = cfg_.nets[rule].net;
  return p.address.to_string() + "/" + std::to_string(p.length);
}

size_t Map::memory_bytes() const noexcept {
  size_t n = (v4_.capacity() + v6_.capacity()) * sizeof(Node) +
             class_of_.capacity() * sizeof(uint16_t) + (cfg_.nets.size() + 1) * sizeof(uint64_t);
  n += cfg_.nets.capacity() * sizeof(Rule);
  return n;
}

}  // namespace gslb::geo
