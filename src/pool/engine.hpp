// The health-driven state of every dynamic name: health of each (address, probe) target, pool
// status, which pools each name answers from, and the answers themselves. Pure (no I/O, time
// passed in); lives on the control loop. Every change comes out as a key=value event line.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "core/logfmt.hpp"
#include "health/health.hpp"
#include "pool/pool.hpp"

namespace gslb::pool {

// One thing to check: an address with a probe. An address in two pools with the same probe is
// one target.
struct TargetKey {
  core::IpAddress ip;
  std::string probe;
  bool operator<(const TargetKey& o) const {
    return std::tie(ip.family, ip.bytes, probe) < std::tie(o.ip.family, o.ip.bytes, o.probe);
  }
  bool operator==(const TargetKey& o) const = default;
};

// One change, typed: a kind and its fields in order. Text is made at each sink (text()).
struct Event {
  core::Level level;
  std::string kind;                  // "address-down", "failover", ...
  std::vector<core::Field> fields;   // what follows event=kind
  std::string failover = {};  // the name that moved away from its pool (failover, all-down)

  Event(core::Level l, std::string k, std::vector<core::Field> f = {}, std::string name = {})
      : level(l), kind(std::move(k)), fields(std::move(f)), failover(std::move(name)) {}
  // "event=address-down pool=hangzhou address=127.0.0.2 ... reason=\"connect refused\" ..."
  std::string text() const;
  const std::string* field(std::string_view key) const;
};

class Engine {
 public:
  // `thresholds`: rise/fall of each probe by name (every pool's probe must be there).
  Engine(Config cfg, const std::map<std::string, health::Thresholds>& thresholds,
         bool unknown_is_up);

  // Takes over the health of targets that `old` also had, with the same thresholds (reload).
  // Takes over the shared verdicts and cluster mode too.
  void adopt_health(const Engine& old);

  const Config& config() const noexcept { return cfg_; }
  const std::vector<TargetKey>& targets() const noexcept { return keys_; }
  const health::Target& target(size_t id) const { return health_[id]; }
  // The target that checks address `address` of pool `pool`.
  size_t target_of(size_t pool, size_t address) const { return target_of_[pool][address]; }
  // Where target `id` is used: (pool, address) pairs, in pool order.
  const std::vector<std::pair<size_t, size_t>>& uses(size_t id) const { return uses_[id]; }
  bool pending(size_t id) const { return health_[id].pending(); }

  // A probe result for target `id`. Appends events; returns true when the answers changed.
  bool record(size_t id, bool ok, std::string reason, core::Duration latency,
              health::MonoTime now, std::vector<Event>& events);

  // Cluster mode (several gslbd, one verdict; src/cluster): a target's own health (target(id),
  // fed by record()) is only this node's vote, and answers follow the shared verdict given by
  // set_shared(). record() then logs `event=vote` instead of address-up/down and never changes
  // the answers; the caller compares target(id).state() before and after to publish the vote.
  void set_clustered(bool on);
  bool clustered() const noexcept { return clustered_; }
  // The shared verdict on target `id` (down or not, with the votes as "2/3"), or none when
  // nobody has voted yet (then `[health] unknown` decides). Appends address-up/down events with
  // `votes=` when what answers may use changes; returns true when the answers changed.
  bool set_shared(size_t id, std::optional<bool> down, const std::string& votes,
                  std::vector<Event>& events);
  const std::optional<bool>& shared(size_t id) const { return shared_[id]; }
  // May answers use target `id` now: not drained, and up by its own health or, clustered, by
  // the shared verdict.
  bool usable(size_t id) const;

  // Drain (maintenance) or undrain every target with this address; returns how many.
  size_t set_drained(const core::IpAddress& ip, bool drained, std::vector<Event>& events);

  // What a dynamic name answers now; null for names that are not dynamic.
  const dns::DynamicAnswer* answer(std::string_view name_wire, uint16_t qtype) const;
  // The same for the name at `name` in config order (no lookup; reports walk every name).
  const dns::DynamicAnswer* answer(size_t name, uint16_t qtype) const;
  // The names (lower-cased wire) whose answers changed since the last call, in config order;
  // `all` is set instead when every name must be rebuilt (construction, adopt_health).
  struct Changes {
    bool all = false;
    std::vector<std::string_view> names;
  };
  Changes take_changes();
  // The dynamic names, lower-cased wire form, in config order.
  std::vector<std::string> dynamic_names() const;
  // Current pool statuses and each name's active pools (indexes into config().pools).
  const std::vector<PoolStatus>& pool_statuses() const noexcept { return pools_; }
  const std::vector<size_t>& active(size_t name) const { return active_[name]; }

 private:
  // Recomputes everything (no events), or only `pools` and the names that use them.
  void evaluate_all();
  void evaluate(std::vector<size_t> pools, std::vector<Event>& events);
  void update_name(size_t name, std::vector<Event>* events);
  std::string describe(size_t pool) const;
  void address_events(size_t id, bool up, const core::Field& last, std::vector<Event>& events) const;
  std::vector<size_t> pools_of(size_t id) const;

  Config cfg_;
  bool unknown_is_up_;
  bool clustered_ = false;
  std::vector<std::optional<bool>> shared_;  // [target] -> shared "down", clustered only
  std::vector<TargetKey> keys_;
  std::vector<health::Target> health_;
  std::vector<std::vector<size_t>> target_of_;  // [pool][address] -> target id
  std::vector<std::vector<std::pair<size_t, size_t>>> uses_;  // [target] -> (pool, address)
  std::vector<std::vector<size_t>> names_of_pool_;            // [pool] -> names, ascending
  std::vector<std::string> wire_names_;
  std::unordered_map<std::string_view, size_t> name_index_;  // keys view wire_names_
  std::vector<PoolStatus> pools_;
  std::vector<std::vector<size_t>> active_;  // per name
  std::vector<std::array<dns::DynamicAnswer, 2>> answers_;  // per name: A, AAAA
  std::vector<size_t> changed_;  // names changed since take_changes(), each once
  std::vector<bool> is_changed_;
  bool all_changed_ = true;
};

}  // namespace gslb::pool
