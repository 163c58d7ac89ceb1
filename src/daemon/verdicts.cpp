#include "daemon/verdicts.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/duration.hpp"
#include "core/wall_time.hpp"
#include "daemon/report.hpp"
#include "dns/overlay.hpp"

namespace gslb::daemon {

namespace {

// Verdicts this close together make one publish: long enough to gather the results that one
// loop turn and its neighbours deliver in a burst, short beside any check interval.
constexpr uint64_t kCoalesceMs = 2;

// A target's verdict as the stream names it: a drain hides the probe state.
// In cluster mode the state is the shared verdict (what answers follow), not this node's vote.
std::string verdict_state(const pool::Engine& e, size_t id) {
  const health::Target& t = e.target(id);
  if (t.drained()) return "drained";
  if (e.clustered()) return e.shared(id) ? (*e.shared(id) ? "down" : "up") : "unknown";
  return health::to_string(t.state());
}

}  // namespace

void Verdicts::Histogram::observe(double secs) {
  for (size_t b = 0; b < kLatencyBounds.size(); ++b)
    if (secs <= kLatencyBounds[b]) {
      ++buckets[b];
      break;
    }
  sum += secs;
  ++count;
}

Verdicts::Verdicts(uv_loop_t* loop, const Loaded& loaded,
                   std::vector<std::unique_ptr<Worker>>& workers, EventLog& log)
    : loop_(loop), loaded_(loaded), workers_(workers), log_(log),
      ready_timer_(loop, [this] {
        if (ready_) std::exchange(ready_, nullptr)();
      }),
      publish_timer_(loop, [this] { publish(); }) {}

Verdicts::~Verdicts() { stop(); }

void Verdicts::start(std::function<void()> ready) {
  if (const cluster::Config& cc = loaded_.config.cluster; cc.enabled()) {
    loaded_.engine->set_clustered(true);
    board_ = std::make_unique<cluster::Board>(cc.node, cc.down_when);
    cluster::LinkHooks hooks;
    hooks.changed = [this](const std::vector<std::string>& t) { cluster_changed(t); };
    hooks.event = [this](core::Level level, std::string kind, std::vector<core::Field> fields) {
      emit(pool::Event(level, std::move(kind), std::move(fields)));
    };
    hooks.drains = [this](const std::map<std::string, int64_t>& d) {
      if (on_cluster_drains) on_cluster_drains(d);
    };
    link_ = std::make_unique<cluster::Link>(loop_, cc, *board_, std::move(hooks));
    cluster_reindex();
    link_->start();
  }
  publish();
  scheduler_ = std::make_unique<probe::Scheduler>(
      loop_, [this](uint32_t id, const probe::Result& r) { return on_result(id, r); });
  scheduler_->set_source(loaded_.config.server.probe_source);
  schedule_targets();

  ready_ = std::move(ready);
  first_result_.assign(loaded_.engine->targets().size(), false);
  if (first_result_.empty()) {
    std::exchange(ready_, nullptr)();
    return;
  }
  core::Duration longest{};
  for (const auto& [name, spec] : loaded_.probes) longest = std::max(longest, spec->timeout);
  ready_timer_.start(uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(longest).count() + 200));
}

void Verdicts::stop() {
  if (link_) link_->close();
  if (scheduler_) scheduler_->close();
  ready_timer_.close();
  publish_timer_.close();
  followers_.clear();
}

void Verdicts::reloaded() {
  if (link_) cluster_reindex();
  publish();
  if (scheduler_) scheduler_->set_source(loaded_.config.server.probe_source);
  if (scheduler_) schedule_targets();
  // Targets may have come or gone: verdict followers start over from a fresh snapshot.
  streamed_.clear();
  for (size_t i = 0; i < loaded_.engine->targets().size(); ++i)
    streamed_[loaded_.engine->targets()[i]] = verdict_state(*loaded_.engine, i);
  if (!followers_.empty()) followers_.tell(snapshot());
}

void Verdicts::schedule_targets() {
  std::vector<probe::Target> targets;
  target_index_.assign(next_id_, kNoTarget);
  const auto& keys = loaded_.engine->targets();
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [it, fresh] = ids_.try_emplace(keys[i], next_id_);
    if (fresh) ++next_id_;
    if (it->second >= target_index_.size()) target_index_.resize(it->second + 1, kNoTarget);
    target_index_[it->second] = i;
    targets.push_back(probe::Target{it->second, keys[i].ip, loaded_.probes.at(keys[i].probe)});
  }
  scheduler_->set_max_in_flight(loaded_.config.server.max_checks_in_flight);
  scheduler_->set_targets(std::move(targets));
}

bool Verdicts::on_result(uint32_t id, const probe::Result& r) {
  if (id >= target_index_.size() || target_index_[id] == kNoTarget) return false;
  const size_t target = target_index_[id];
  const pool::TargetKey& key = loaded_.engine->targets()[target];
  if (r.local) {
    // Our own shortage (no descriptor, no memory) says nothing about the gateway: its state
    // stays, and the scheduler tries again at the normal interval. A shortage hits every target
    // at once, so one line per burst, not one per target.
    const uint64_t n = ++local_errors_[r.reason];
    if (uint64_t burst = local_error_log_.hit(uint64_t(core::wall_ms())))
      emit(core::Level::err, fmt::format("event=probe-error kind=local address={} probe={} reason=\"{}\" "
                                         "count={} total={} (not a verdict: health unchanged)",
                                         key.ip.to_string(), key.probe, r.reason, burst, n));
    return false;
  }
  if (id >= stats_by_id_.size()) stats_by_id_.resize(id + 1, nullptr);
  if (!stats_by_id_[id]) stats_by_id_[id] = &target_stats_[id];
  TargetStats& st = *stats_by_id_[id];
  if (st.results.empty()) st.key = key;
  const std::string_view reason = r.ok ? std::string_view("ok") : std::string_view(r.reason);
  auto seen = std::find_if(st.results.begin(), st.results.end(),
                           [&](const auto& e) { return e.first == reason; });
  if (seen == st.results.end()) seen = st.results.insert(st.results.end(), {std::string(reason), 0});
  ++seen->second;
  st.latency.observe(std::chrono::duration<double>(r.latency).count());
  st.last_check = core::unix_now();
  std::vector<pool::Event> events;
  const health::State before = loaded_.engine->target(target).state();
  const bool changed = loaded_.engine->record(target, r.ok, r.reason, r.latency,
                                              std::chrono::steady_clock::now(), events);
  if (changed) schedule_publish();
  for (auto& e : events) emit(e);
  if (link_ && loaded_.engine->target(target).state() != before) cluster_vote(target);
  if (ready_ && target < first_result_.size()) {
    first_result_[target] = true;
    if (std::all_of(first_result_.begin(), first_result_.end(), [](bool b) { return b; }))
      std::exchange(ready_, nullptr)();
  }
  return loaded_.engine->pending(target);
}

void Verdicts::schedule_publish() {
  unpublished_.push_back(std::chrono::steady_clock::now());
  if (!publish_timer_.active()) publish_timer_.start(kCoalesceMs);
}

void Verdicts::publish() {
  publish_timer_.stop();
  const pool::Engine& engine = *loaded_.engine;
  auto lookup = [&engine](std::string_view name, uint16_t qtype) { return engine.answer(name, qtype); };
  const auto changes = loaded_.engine->take_changes();
  bool send = true;
  if (changes.all || !overlay_ || overlay_->table() != loaded_.table.get()) {
    overlay_ = dns::Overlay::build(*loaded_.table, lookup);
  } else if (!changes.names.empty()) {
    overlay_ = dns::Overlay::update(*overlay_, *loaded_.table, lookup, changes.names);
  } else {
    send = !unpublished_.empty();  // nothing changed since the last publish: nothing to send
  }
  if (send) {
    ++overlay_builds_;
    for (auto& w : workers_) w->publish(Snapshot{loaded_.table, overlay_});
  }
  const auto now = std::chrono::steady_clock::now();
  for (const auto& at : unpublished_) publish_lag_.observe(std::chrono::duration<double>(now - at).count());
  unpublished_.clear();
  for (const auto& e : std::exchange(held_events_, {})) emit(e);
}

void Verdicts::emit(const pool::Event& e) {
  // Whoever reads an event may query at once: while a publish is pending, its events wait for
  // it, so the answers have changed before the line that says so appears.
  if (publish_timer_.active()) {
    held_events_.push_back(e);
    return;
  }
  log_.emit(e.level, e.text());
  if (!e.failover.empty()) ++failovers_[e.failover];
  // The verdict stream follows the same events, so its lines too come after their publish.
  if (e.kind == "address-up" || e.kind == "address-down" || e.kind == "drain" || e.kind == "undrain")
    if (const std::string* addr = e.field("address"))
      if (auto ip = core::IpAddress::parse(*addr)) stream(*ip, e.field("probe"));
}

void Verdicts::cluster_vote(size_t id) {
  const pool::TargetKey& key = loaded_.engine->targets()[id];
  const health::State st = loaded_.engine->target(id).state();
  if (st != health::State::unknown)
    link_->vote(cluster::target_name(key.ip.to_string(), key.probe), st == health::State::down);
}

void Verdicts::cluster_reindex() {
  std::map<std::string, size_t> next;
  const auto& keys = loaded_.engine->targets();
  for (size_t i = 0; i < keys.size(); ++i)
    next.emplace(cluster::target_name(keys[i].ip.to_string(), keys[i].probe), i);
  for (const auto& [name, id] : cluster_targets_)
    if (!next.count(name)) link_->unvote(name);
  cluster_targets_ = std::move(next);
  std::vector<std::string> all;
  for (const auto& [name, id] : cluster_targets_) {
    cluster_vote(id);
    all.push_back(name);
  }
  cluster_changed(all);
}

void Verdicts::cluster_changed(const std::vector<std::string>& targets) {
  std::vector<pool::Event> events;
  bool changed = false;
  for (const std::string& name : targets) {
    auto it = cluster_targets_.find(name);
    if (it == cluster_targets_.end()) continue;  // another node's target, not in our config
    const cluster::Tally t = board_->tally(name);
    changed |= loaded_.engine->set_shared(
        it->second, t.voted ? std::optional<bool>(t.is_down) : std::nullopt, t.text(), events);
  }
  if (changed) schedule_publish();
  for (auto& e : events) emit(e);
}

std::string Verdicts::line(size_t id, int64_t at_ms) const {
  const pool::TargetKey& key = loaded_.engine->targets()[id];
  const health::Target& t = loaded_.engine->target(id);
  const std::string reason = t.drained() ? std::string("drained by the operator") : t.reason();
  return fmt::format(R"({{"v":1,"type":"state","address":{},"probe":{},"state":"{}","reason":{},"time":"{}"}})",
                     json_string(key.ip.to_string()), json_string(key.probe), verdict_state(*loaded_.engine, id),
                     json_string(reason), core::rfc3339(at_ms)) + "\n";
}

std::string Verdicts::snapshot() const {
  // Each line carries when its state began: the steady-clock `since` moved onto the wall clock.
  const auto mono = std::chrono::steady_clock::now();
  const int64_t wall = core::wall_ms();
  std::string out;
  for (size_t i = 0; i < loaded_.engine->targets().size(); ++i) {
    const auto since = loaded_.engine->target(i).since();
    const int64_t ago = since == health::MonoTime{} || since > mono
                            ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(mono - since).count();
    out += line(i, wall - ago);
  }
  return out + "{\"v\":1,\"type\":\"synced\"}\n";
}

void Verdicts::stream(const core::IpAddress& ip, const std::string* probe) {
  if (followers_.empty()) {
    // Nobody listens: no work per event. What was last streamed is forgotten, so the first
    // change a new follower sees after its snapshot is never taken for a repeat.
    streamed_.clear();
    return;
  }
  const auto& keys = loaded_.engine->targets();
  std::string text;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!(keys[i].ip == ip) || (probe && keys[i].probe != *probe)) continue;
    std::string state = verdict_state(*loaded_.engine, i);
    auto [it, fresh] = streamed_.try_emplace(keys[i], state);
    if (!fresh && it->second == state) continue;
    it->second = std::move(state);
    text += line(i, core::wall_ms());
  }
  if (!text.empty()) followers_.tell(text);
}

}  // namespace gslb::daemon
