// Source maps: who a client is, by its address, as a class of region order. A map is compiled
// once at load into two binary tries (IPv4, IPv6) over its `nets`; a lookup walks one trie, no
// allocation, and also says how wide the set of addresses is that get the same rule (the ECS
// SCOPE PREFIX-LENGTH, RFC 7871 §7.2.1). Immutable once compiled except for its per-rule
// counters (relaxed atomics, read by metrics); shared by the engine's config and every overlay
// built from it, read by every DNS worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/address.hpp"

namespace gslb::geo {

// What a rule (or the default) gives a client: regions in order of preference (failover), or
// per-region weights (weighted mode; empty when the rule gives an order).
struct Order {
  std::vector<std::string> regions;
  std::vector<std::pair<std::string, uint32_t>> weights;
  bool operator==(const Order&) const = default;
};

struct Rule {
  core::Prefix net;  // host bits zero (the loader checks)
  Order order;
};

// A GeoIP2 rule: "AS" (continent), "JP" (ISO 3166-1 country) or "CN-31" (ISO 3166-2
// subdivision); the most specific that names the client's location wins.
struct GeoRule {
  std::string location;
  Order order;
};

// `[[map]]` as configured.
struct MapConfig {
  std::string name;
  Order fallback;  // `default`
  std::vector<Rule> nets;
  std::string geoip;            // a MaxMind DB (GeoIP2/GeoLite2 City or Country); "" = none
  std::vector<GeoRule> geo;     // used when no net matches
  // `nearest`: a client no rule matches gets the regions by distance from its coordinates (the
  // DB's location) to each region's (from its pools' `location`), nearest first.
  struct Place {
    std::string region;
    double lat = 0, lon = 0;
  };
  bool nearest = false;
  std::vector<Place> places;
};

// The result of one lookup. `rule` indexes MapConfig::nets, then MapConfig::geo (rule
// nets.size() + i is geo[i]), or is kDefault; `cls` indexes
// Map::classes(); `scope` is the prefix length around the client inside which every address
// gets this same rule.
struct Match {
  static constexpr uint32_t kDefault = UINT32_MAX;
  uint32_t rule = kDefault;
  uint16_t cls = 0;
  uint8_t scope = 0;
};

class Map {
 public:
  // Opens `cfg.geoip` when set; error() then says why it could not be read.
  explicit Map(MapConfig cfg);
  ~Map();
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;
  const std::string& error() const noexcept { return error_; }

  const MapConfig& config() const noexcept { return cfg_; }
  // The distinct orders of the map; class 0 is the default's.
  const std::vector<Order>& classes() const noexcept { return classes_; }

  // The rule for `a` when only its first `bits` bits are known (an ECS SOURCE PREFIX-LENGTH;
  // the family's full length for a packet's source). IPv4-mapped IPv6 addresses are IPv4.
  Match lookup(const core::IpAddress& a, unsigned bits) const noexcept;
  Match lookup(const core::IpAddress& a) const noexcept { return lookup(a, 128); }

  // Per-rule answer counters (the default is the last), for metrics.
  void count(const Match& m) const noexcept {
    counters_[m.rule == Match::kDefault ? rule_count() : m.rule].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t counted(uint32_t rule) const noexcept {
    return counters_[rule == Match::kDefault ? rule_count() : rule].load(std::memory_order_relaxed);
  }
  // Every rule: nets, then geo, then "nearest" (when on).
  size_t rule_count() const noexcept { return cfg_.nets.size() + cfg_.geo.size() + (cfg_.nearest ? 1 : 0); }
  // At most this many located regions (their orders are prebuilt: 720 at 6).
  static constexpr size_t kMaxPlaces = 6;
  // "198.51.100.0/24", "JP", "nearest" or "default".
  std::string rule_text(uint32_t rule) const;
  // Bytes held by the tries and the rules, for the README's memory figure.
  size_t memory_bytes() const noexcept;

 private:
  // A binary trie node as built: children by the next bit (0 = none: the root is never a
  // child) and the rule that ends here (-1 for none).
  struct Node {
    uint32_t child[2] = {0, 0};
    int32_t rule = -1;
  };
  // The same trie path-compressed (a Patricia trie), which lookups walk: a chain of nodes with
  // no rule and one child becomes `skip` bits of `label` (right-aligned) checked at once, so a
  // /24 among 7,500 random ones is about 14 steps instead of 24, and a /48 about 14, not 48.
  struct Packed {
    uint32_t child[2] = {0, 0};
    int32_t rule = -1;
    uint8_t skip = 0;
    uint64_t label = 0;
  };
  static void insert(std::vector<Node>& trie, const uint8_t* bytes, unsigned len, int32_t rule);
  static uint32_t pack(const std::vector<Node>& trie, uint32_t n, std::vector<Packed>& out);
  Match walk(const std::vector<Packed>& trie, unsigned __int128 addr, unsigned max_bits) const noexcept;

  // The GeoIP2 part of a lookup for a client no net matched; `m` holds the trie's scope.
  void geo_lookup(const uint8_t* bytes, bool v4, unsigned bits, Match& m) const noexcept;
  uint16_t class_for(const Order& o);

  MapConfig cfg_;
  std::string error_;
  struct Mmdb;
  std::unique_ptr<Mmdb> mmdb_;
  std::vector<Order> classes_;
  std::vector<uint16_t> class_of_;  // per rule
  // `nearest`: the class of each order of cfg_.places, by the order's rank among the
  // permutations in lexicographic order (its Lehmer code).
  std::vector<uint16_t> nearest_class_;
  uint16_t nearest_class(const double* lat_lon) const noexcept;
  std::vector<Packed> v4_, v6_;
  std::unique_ptr<std::atomic<uint64_t>[]> counters_;
};

using MapPtr = std::shared_ptr<const Map>;

}  // namespace gslb::geo
