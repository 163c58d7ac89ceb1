#include "geo/map.hpp"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cmath>
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

// The open DB, read-only after MMDB_open and safe to look up from every worker at once.
struct Map::Mmdb {
  MMDB_s db{};
  bool open = false;  // a failed MMDB_open cleans up after itself: nothing to close then
  ~Mmdb() {
    if (open) MMDB_close(&db);
  }
};

uint16_t Map::class_for(const Order& o) {
  auto it = std::find(classes_.begin(), classes_.end(), o);
  if (it != classes_.end()) return uint16_t(it - classes_.begin());
  classes_.push_back(o);
  return uint16_t(classes_.size() - 1);
}

Map::Map(MapConfig cfg) : cfg_(std::move(cfg)) {
  classes_.push_back(cfg_.fallback);
  std::vector<Node> v4(1), v6(1);
  for (size_t r = 0; r < cfg_.nets.size(); ++r) {
    const Rule& rule = cfg_.nets[r];
    class_of_.push_back(class_for(rule.order));
    const bool is_v4 = rule.net.address.is_v4();
    insert(is_v4 ? v4 : v6, rule.net.address.bytes.data(), rule.net.length, int32_t(r));
  }
  for (const GeoRule& g : cfg_.geo) class_of_.push_back(class_for(g.order));
  if (cfg_.nearest && !cfg_.places.empty() && cfg_.places.size() <= kMaxPlaces) {
    // Every order the places can come in, prebuilt: a lookup then only sorts a handful of
    // distances and ranks the result.
    std::vector<size_t> perm(cfg_.places.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    do {
      Order o;
      for (size_t i : perm) o.regions.push_back(cfg_.places[i].region);
      nearest_class_.push_back(class_for(o));
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
  pack(v4, 0, v4_);
  pack(v6, 0, v6_);
  v4_.shrink_to_fit();
  v6_.shrink_to_fit();
  counters_ = std::make_unique<std::atomic<uint64_t>[]>(rule_count() + 1);
  if (!cfg_.geoip.empty()) {
    auto m = std::make_unique<Mmdb>();
    const int st = MMDB_open(cfg_.geoip.c_str(), MMDB_MODE_MMAP, &m->db);
    if (st != MMDB_SUCCESS) {
      error_ = MMDB_strerror(st);
    } else {
      m->open = true;
      mmdb_ = std::move(m);
    }
  }
}

Map::~Map() = default;

namespace {

// A string field of a DB record, by a path such as {"country", "iso_code"}; empty if absent.
// MMDB_aget_value takes the path as an array and does not allocate (MMDB_get_value would).
std::string_view field(MMDB_entry_s& entry, const char* const* path) noexcept {
  MMDB_entry_data_s d{};
  if (MMDB_aget_value(&entry, &d, path) != MMDB_SUCCESS || !d.has_data ||
      d.type != MMDB_DATA_TYPE_UTF8_STRING)
    return {};
  return std::string_view(d.utf8_string, d.data_size);
}

}  // namespace

// The client's location by the DB, matched most specific first: subdivision ("CN-31"), country
// ("JP"), continent ("AS"). The scope is the DB network's prefix (every address in it has the
// same record), narrowed to the trie's when a net lies inside that network.
void Map::geo_lookup(const uint8_t* bytes, bool v4, unsigned bits, Match& m) const noexcept {
  // The address as the query gave it: its first `bits` bits, zeros after.
  auto masked = [&](uint8_t* out, unsigned len) {
    for (unsigned i = 0; i < len; ++i)
      out[i] = i < bits / 8 ? bytes[i] : i == bits / 8 ? uint8_t(bytes[i] & (0xFF << (8 - bits % 8))) : 0;
  };
  sockaddr_storage ss{};
  if (v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    masked(reinterpret_cast<uint8_t*>(&sin->sin_addr), 4);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    masked(reinterpret_cast<uint8_t*>(&sin6->sin6_addr), 16);
  }
  int st = 0;
  MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb_->db, reinterpret_cast<sockaddr*>(&ss), &st);
  if (st != MMDB_SUCCESS) return;
  // An IPv4 lookup in an IPv6 DB counts the netmask from ::/96.
  unsigned mask = r.netmask;
  if (v4 && mmdb_->db.metadata.ip_version == 6) mask = mask >= 96 ? mask - 96 : 0;
  m.scope = uint8_t(std::max<unsigned>(m.scope, mask));
  if (!r.found_entry) return;
  static const char* const kSub[] = {"subdivisions", "0", "iso_code", nullptr};
  static const char* const kCountry[] = {"country", "iso_code", nullptr};
  static const char* const kContinent[] = {"continent", "code", nullptr};
  const std::string_view sub = field(r.entry, kSub), country = field(r.entry, kCountry),
                         continent = field(r.entry, kContinent);
  int best = -1, best_rank = 0;
  for (size_t i = 0; i < cfg_.geo.size(); ++i) {
    const std::string_view loc = cfg_.geo[i].location;
    int rank = 0;
    if (!sub.empty() && !country.empty() && loc.size() == country.size() + 1 + sub.size() &&
        loc.substr(0, country.size()) == country && loc[country.size()] == '-' &&
        loc.substr(country.size() + 1) == sub)
      rank = 3;
    else if (!country.empty() && loc == country)
      rank = 2;
    else if (!continent.empty() && loc == continent)
      rank = 1;
    if (rank > best_rank) {
      best_rank = rank;
      best = int(i);
    }
  }
  if (best >= 0) {
    m.rule = uint32_t(cfg_.nets.size() + size_t(best));
    m.cls = class_of_[m.rule];
    return;
  }
  if (nearest_class_.empty()) return;
  static const char* const kLat[] = {"location", "latitude", nullptr};
  static const char* const kLon[] = {"location", "longitude", nullptr};
  double lat_lon[2];
  const char* const* paths[2] = {kLat, kLon};
  for (int i = 0; i < 2; ++i) {
    MMDB_entry_data_s d{};
    if (MMDB_aget_value(&r.entry, &d, paths[i]) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_DOUBLE)
      return;  // no coordinates: the default
    lat_lon[i] = d.double_value;
  }
  m.rule = uint32_t(cfg_.nets.size() + cfg_.geo.size());
  m.cls = nearest_class(lat_lon);
}

uint16_t Map::nearest_class(const double* lat_lon) const noexcept {
  // The central angle to each place (the spherical law of cosines, clamped): ordering needs no
  // more than that, and no allocation.
  constexpr double kRad = 3.14159265358979323846 / 180;
  const size_t n = cfg_.places.size();
  double dist[kMaxPlaces];
  size_t order[kMaxPlaces];
  const double lat = lat_lon[0] * kRad, lon = lat_lon[1] * kRad;
  for (size_t i = 0; i < n; ++i) {
    const double plat = cfg_.places[i].lat * kRad, plon = cfg_.places[i].lon * kRad;
    const double c = std::sin(lat) * std::sin(plat) + std::cos(lat) * std::cos(plat) * std::cos(lon - plon);
    dist[i] = std::acos(std::clamp(c, -1.0, 1.0));
    order[i] = i;
  }
  // Insertion sort, stable: equally distant places keep their config order.
  for (size_t i = 1; i < n; ++i)
    for (size_t j = i; j > 0 && dist[order[j]] < dist[order[j - 1]]; --j) std::swap(order[j], order[j - 1]);
  // The rank of `order` among the permutations in lexicographic order.
  size_t rank = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t smaller = 0;
    for (size_t j = i + 1; j < n; ++j) smaller += order[j] < order[i];
    size_t fact = 1;
    for (size_t k = 2; k < n - i; ++k) fact *= k;
    rank += smaller * fact;
  }
  return nearest_class_[rank];
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
  if (a.is_v4() || v4_mapped(a)) {
    const uint8_t* b = a.is_v4() ? a.bytes.data() : a.bytes.data() + 12;
    const unsigned v4_bits = a.is_v4() ? std::min(bits, 32u) : bits > 96 ? std::min(bits - 96, 32u) : 0;
    Match m = walk(v4_, top_bits(b, 4, v4_bits), 32);
    if (m.rule == Match::kDefault && mmdb_) geo_lookup(b, true, v4_bits, m);
    if (!a.is_v4()) m.scope = uint8_t(m.scope + 96);
    return m;
  }
  const unsigned v6_bits = std::min(bits, 128u);
  Match m = walk(v6_, top_bits(a.bytes.data(), 16, v6_bits), 128);
  if (m.rule == Match::kDefault && mmdb_) geo_lookup(a.bytes.data(), false, v6_bits, m);
  return m;
}

std::string Map::rule_text(uint32_t rule) const {
  if (rule == Match::kDefault || rule >= rule_count()) return "default";
  if (rule >= cfg_.nets.size() + cfg_.geo.size()) return "nearest";
  if (rule >= cfg_.nets.size()) return cfg_.geo[rule - cfg_.nets.size()].location;
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
