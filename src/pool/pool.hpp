// Pools of gateway addresses and the dynamic names answered from them: the policy layer. Plain
// structs (parsed by src/config) and pure functions of health; no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "dns/overlay.hpp"

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
};

struct Config {
  std::vector<Pool> pools;
  std::vector<Name> names;
};

// Is address `address` of pool `pool` usable now (healthy and not drained)?
using Usable = std::function<bool(size_t pool, size_t address)>;

struct PoolStatus {
  unsigned healthy = 0;
  bool usable = false;  // healthy >= min_healthy
};
PoolStatus pool_status(const Config& cfg, size_t pool, const Usable& usable);
std::vector<PoolStatus> pool_status(const Config& cfg, const Usable& usable);

// Which pools a name answers from now. Empty when every pool is down.
std::vector<size_t> active_pools(const Name& name, const std::vector<PoolStatus>& pools);

// The answer for one name and family (qtype A or AAAA) given the active pools.
dns::DynamicAnswer answer(const Config& cfg, const Name& name, const std::vector<size_t>& active,
                          const Usable& usable, uint16_t qtype);

}  // namespace gslb::pool
