#include "pool/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "dns/wire.hpp"

namespace gslb::pool {

std::string Event::text() const {
  std::string out = "event=" + kind;
  for (const auto& f : fields) core::append_logfmt(out, f.key, f.value, f.quote);
  return out;
}

const std::string* Event::field(std::string_view key) const {
  for (const auto& f : fields)
    if (f.key == key) return &f.value;
  return nullptr;
}

Engine::Engine(Config cfg, const std::map<std::string, health::Thresholds>& thresholds,
               bool unknown_is_up)
    : cfg_(std::move(cfg)), unknown_is_up_(unknown_is_up) {
  std::map<TargetKey, size_t> ids;
  for (const Pool& p : cfg_.pools) {
    auto& row = target_of_.emplace_back();
    for (const Address& a : p.addresses) {
      TargetKey key{a.ip, p.probe};
      auto [it, fresh] = ids.try_emplace(key, keys_.size());
      if (fresh) {
        keys_.push_back(key);
        auto t = thresholds.find(p.probe);
        health_.emplace_back(t == thresholds.end() ? health::Thresholds{} : t->second);
      }
      row.push_back(it->second);
    }
  }
  uses_.resize(keys_.size());
  shared_.resize(keys_.size());
  for (size_t p = 0; p < target_of_.size(); ++p)
    for (size_t a = 0; a < target_of_[p].size(); ++a) uses_[target_of_[p][a]].emplace_back(p, a);
  names_of_pool_.resize(cfg_.pools.size());
  for (size_t i = 0; i < cfg_.names.size(); ++i) {
    wire_names_.push_back(dns::name_from_text(cfg_.names[i].fqdn));
    for (const Member& m : cfg_.names[i].pools)
      if (names_of_pool_[m.pool].empty() || names_of_pool_[m.pool].back() != i)
        names_of_pool_[m.pool].push_back(i);
  }
  for (size_t i = 0; i < wire_names_.size(); ++i) name_index_.emplace(wire_names_[i], i);
  is_changed_.assign(cfg_.names.size(), false);
  evaluate_all();
}

void Engine::adopt_health(const Engine& old) {
  // A target keeps its verdict across a reload even when its rise/fall changed: forgetting it
  // would answer a dead address again until it is re-checked. New thresholds count from now.
  for (size_t i = 0; i < keys_.size(); ++i)
    for (size_t j = 0; j < old.keys_.size(); ++j)
      if (keys_[i] == old.keys_[j]) {
        const health::Thresholds t = health_[i].thresholds();
        health_[i] = old.health_[j];
        health_[i].set_thresholds(t);
        shared_[i] = old.shared_[j];
      }
  clustered_ = old.clustered_;
  evaluate_all();
}

std::string Engine::describe(size_t p) const {
  return fmt::format("pool {} has {}/{} healthy (min {})", cfg_.pools[p].name, pools_[p].healthy,
                     cfg_.pools[p].addresses.size(), cfg_.pools[p].min_healthy);
}

void Engine::evaluate_all() {
  auto usable = [this](size_t p, size_t a) { return this->usable(target_of_[p][a]); };
  pools_ = pool_status(cfg_, usable);
  active_.assign(cfg_.names.size(), {});
  answers_.assign(cfg_.names.size(), {});
  for (size_t i = 0; i < cfg_.names.size(); ++i) update_name(i, nullptr);
  all_changed_ = true;
}

// Only what a change of `pools` can reach: their statuses, then every name that uses one of
// them (a name's answer lists the usable addresses, so it changes even when the pool stays up).
void Engine::evaluate(std::vector<size_t> pools, std::vector<Event>& events) {
  auto usable = [this](size_t p, size_t a) { return this->usable(target_of_[p][a]); };
  std::sort(pools.begin(), pools.end());
  pools.erase(std::unique(pools.begin(), pools.end()), pools.end());
  std::vector<size_t> names;
  for (size_t p : pools) {
    const PoolStatus now = pool_status(cfg_, p, usable);
    if (now.usable != pools_[p].usable) {
      const auto& pool = cfg_.pools[p];
      events.emplace_back(now.usable ? core::Level::notice : core::Level::warning,
                          now.usable ? "pool-up" : "pool-down",
                          std::vector<core::Field>{
                              {"pool", pool.name},
                              {"region", pool.region},
                              {"healthy", fmt::format("{}/{}", now.healthy, pool.addresses.size())},
                              {"min", std::to_string(pool.min_healthy)}});
    }
    pools_[p] = now;
    names.insert(names.end(), names_of_pool_[p].begin(), names_of_pool_[p].end());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (size_t i : names) update_name(i, &events);
}

void Engine::update_name(size_t i, std::vector<Event>* events) {
  auto usable = [this](size_t p, size_t a) { return this->usable(target_of_[p][a]); };
  const Name& n = cfg_.names[i];
  auto now = active_pools(n, pools_);
  if (events && now != active_[i]) {
    const auto& before = active_[i];
    if (now.empty()) {
      events->emplace_back(core::Level::warning, "all-down",
                           std::vector<core::Field>{
                               {"name", n.fqdn},
                               {"action", to_string(n.all_down)},
                               {"reason", before.empty() ? "no usable pool" : describe(before.front()), true}},
                           n.fqdn);
    } else if (before.empty()) {
      events->emplace_back(core::Level::notice, "recovered",
                           std::vector<core::Field>{{"name", n.fqdn},
                                                    {"to", cfg_.pools[now.front()].name},
                                                    {"reason", describe(now.front()), true}});
    } else if (n.mode == Mode::failover) {
      // Later in the list is a failover, earlier a failback.
      size_t from_rank = 0, to_rank = 0;
      for (size_t r = 0; r < n.pools.size(); ++r) {
        if (n.pools[r].pool == before.front()) from_rank = r;
        if (n.pools[r].pool == now.front()) to_rank = r;
      }
      const bool back = to_rank < from_rank;
      events->emplace_back(back ? core::Level::notice : core::Level::warning,
                           back ? "failback" : "failover",
                           std::vector<core::Field>{
                               {"name", n.fqdn},
                               {"from", cfg_.pools[before.front()].name},
                               {"to", cfg_.pools[now.front()].name},
                               {"reason", describe(back ? now.front() : before.front()), true}},
                           back ? std::string() : n.fqdn);
    } else {
      std::string list;
      for (size_t p : now) list += (list.empty() ? "" : ",") + cfg_.pools[p].name;
      events->emplace_back(core::Level::notice, "pools-changed",
                           std::vector<core::Field>{{"name", n.fqdn}, {"pools", list}});
    }
  }
  active_[i] = std::move(now);
  answers_[i][0] = pool::answer(cfg_, n, active_[i], usable, dns::rrtype::A);
  answers_[i][1] = pool::answer(cfg_, n, active_[i], usable, dns::rrtype::AAAA);
  if (n.map) {
    // Every class of client order gets its own answer, prebuilt like the name's own: health
    // decides within each client's order. Events follow the name's configured order.
    for (auto& a : answers_[i]) a.map = n.map;
    for (const geo::Order& order : n.map->classes()) {
      const Name seen = ordered_for(cfg_, n, order);
      const auto act = active_pools(seen, pools_);
      answers_[i][0].classes.push_back(pool::answer(cfg_, seen, act, usable, dns::rrtype::A));
      answers_[i][1].classes.push_back(pool::answer(cfg_, seen, act, usable, dns::rrtype::AAAA));
    }
  }
  if (!is_changed_[i]) {
    is_changed_[i] = true;
    changed_.push_back(i);
  }
}

bool Engine::usable(size_t id) const {
  const health::Target& t = health_[id];
  if (!clustered_) return t.usable(unknown_is_up_);
  if (t.drained()) return false;
  return shared_[id] ? !*shared_[id] : unknown_is_up_;
}

void Engine::set_clustered(bool on) {
  if (clustered_ == on) return;
  clustered_ = on;
  evaluate_all();
}

// The address-up/down lines of target `id`, one per pool that holds it, ending in `last`.
void Engine::address_events(size_t id, bool up, const core::Field& last,
                            std::vector<Event>& events) const {
  const TargetKey& key = keys_[id];
  for (const auto& [p, a] : uses_[id])
    events.emplace_back(up ? core::Level::notice : core::Level::warning,
                        up ? "address-up" : "address-down",
                        std::vector<core::Field>{{"pool", cfg_.pools[p].name},
                                                 {"address", key.ip.to_string()},
                                                 {"probe", key.probe},
                                                 {"reason", health_[id].reason(), true},
                                                 last});
}

std::vector<size_t> Engine::pools_of(size_t id) const {
  std::vector<size_t> pools;
  for (const auto& [p, a] : uses_[id]) pools.push_back(p);
  return pools;
}

bool Engine::record(size_t id, bool ok, std::string reason, core::Duration latency,
                    health::MonoTime now, std::vector<Event>& events) {
  health::Target& t = health_[id];
  const bool was = usable(id);
  auto change = t.record(ok, std::move(reason), latency, now);
  if (!change) return false;
  const bool up = change->to == health::State::up;
  // The first result decides at once; later changes needed rise/fall results in a row.
  const core::Field count =
      change->from == health::State::unknown
          ? core::Field{"first-check", "yes"}
          : core::Field{up ? "passes" : "fails",
                        fmt::format("{}/{}", up ? t.passes() : t.fails(),
                                    up ? t.thresholds().rise : t.thresholds().fall)};
  if (clustered_) {
    // Only this node's vote changed; the shared verdict (set_shared) moves the answers.
    events.emplace_back(core::Level::info, "vote",
                        std::vector<core::Field>{{"address", keys_[id].ip.to_string()},
                                                 {"probe", keys_[id].probe},
                                                 {"vote", up ? "up" : "down"},
                                                 {"reason", t.reason(), true},
                                                 count});
    return false;
  }
  address_events(id, up, count, events);
  if (usable(id) == was) return false;
  evaluate(pools_of(id), events);
  return true;
}

bool Engine::set_shared(size_t id, std::optional<bool> down, const std::string& votes,
                        std::vector<Event>& events) {
  const bool was = usable(id);
  const std::optional<bool> before = std::exchange(shared_[id], down);
  if (!clustered_) return false;
  // As without a cluster, the first verdict is an event even when it confirms the guess.
  if (down && down != before) address_events(id, !*down, core::Field{"votes", votes}, events);
  if (usable(id) == was) return false;
  evaluate(pools_of(id), events);
  return true;
}

size_t Engine::set_drained(const core::IpAddress& ip, bool drained, std::vector<Event>& events) {
  size_t n = 0;
  std::vector<size_t> pools;
  for (size_t id = 0; id < keys_.size(); ++id) {
    if (!(keys_[id].ip == ip) || health_[id].drained() == drained) continue;
    health_[id].set_drained(drained);
    events.emplace_back(core::Level::notice, drained ? "drain" : "undrain",
                        std::vector<core::Field>{{"address", ip.to_string()},
                                                 {"probe", keys_[id].probe}});
    for (size_t p : pools_of(id)) pools.push_back(p);
    ++n;
  }
  if (n) evaluate(std::move(pools), events);
  return n;
}

const dns::DynamicAnswer* Engine::answer(std::string_view name_wire, uint16_t qtype) const {
  auto it = name_index_.find(name_wire);
  if (it == name_index_.end() || (qtype != dns::rrtype::A && qtype != dns::rrtype::AAAA))
    return nullptr;
  return &answers_[it->second][qtype == dns::rrtype::A ? 0 : 1];
}

const dns::DynamicAnswer* Engine::answer(size_t name, uint16_t qtype) const {
  if (name >= answers_.size() || (qtype != dns::rrtype::A && qtype != dns::rrtype::AAAA)) return nullptr;
  return &answers_[name][qtype == dns::rrtype::A ? 0 : 1];
}

Engine::Changes Engine::take_changes() {
  Changes c;
  c.all = std::exchange(all_changed_, false);
  std::sort(changed_.begin(), changed_.end());
  if (!c.all)
    for (size_t i : changed_) c.names.push_back(wire_names_[i]);
  for (size_t i : changed_) is_changed_[i] = false;
  changed_.clear();
  return c;
}

std::vector<std::string> Engine::dynamic_names() const { return wire_names_; }

}  // namespace gslb::pool
