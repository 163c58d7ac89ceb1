// Pools and dynamic names as configured: plain structs, filled by src/config and read by the
// policy functions of pool.hpp. Nothing here knows how answers are built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "geo/map.hpp"

namespace gslb::pool {

struct Address {
  core::IpAddress ip;
  uint32_t weight = 1;
};

// One region's gateways, checked by one probe.
struct Pool {
  std::string name;
  std::string region;  // free text ("cn-hangzhou"), for people and logs
  std::string probe;   // name of a probes/*.toml definition
  std::vector<Address> addresses;
  unsigned min_healthy = 1;  // below it the whole pool counts as down
  // Where the pool's region is (`location = { lat = .., lon = .. }`), for maps with `nearest`.
  std::optional<std::pair<double, double>> location;
};

enum class Mode { failover, weighted };
enum class Return { all, one, some };
enum class AllDown { fail_open, empty, servfail };
const char* to_string(AllDown a) noexcept;

struct Member {
  size_t pool;          // index into Config::pools
  uint32_t weight = 1;  // weighted mode only
};

struct Name {
  std::string fqdn;  // "www.example.test." as written
  uint32_t ttl = 10;
  Mode mode = Mode::failover;
  std::vector<Member> pools;  // failover: in order of preference
  Return ret = Return::all;
  unsigned count = 1;         // Return::some: how many addresses
  AllDown all_down = AllDown::fail_open;
  bool sticky = false;        // Return::one: by the client's network, not at random
  // `map = "..."`: each client gets the pools in the order (or with the weights) its map rule
  // gives; null for a name that answers every client alike.
  geo::MapPtr map;
};

struct Config {
  std::vector<Pool> pools;
  std::vector<Name> names;
};

}  // namespace gslb::pool
