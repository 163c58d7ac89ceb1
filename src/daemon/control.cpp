#include "daemon/control.hpp"

#include <chrono>

#include "core/log.hpp"
#include "dns/overlay.hpp"

namespace gslb::daemon {

Control::Control(uv_loop_t* loop, std::string config_path, Loaded loaded,
                 std::vector<std::unique_ptr<Worker>>& workers)
    : loop_(loop), config_path_(std::move(config_path)), loaded_(std::move(loaded)),
      workers_(workers) {}

Control::~Control() { stop(); }

void Control::start() {
  publish();
  scheduler_ = std::make_unique<probe::Scheduler>(
      loop_, [this](uint32_t id, const probe::Result& r) { return on_result(id, r); });
  schedule_targets();
}

void Control::stop() {
  if (scheduler_) scheduler_->close();
}

void Control::schedule_targets() {
  std::vector<probe::Target> targets;
  target_index_.clear();
  const auto& keys = loaded_.engine->targets();
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [it, fresh] = ids_.try_emplace(keys[i], next_id_);
    if (fresh) ++next_id_;
    target_index_[it->second] = i;
    targets.push_back(probe::Target{it->second, keys[i].ip, loaded_.probes.at(keys[i].probe)});
  }
  scheduler_->set_targets(std::move(targets));
}

bool Control::on_result(uint32_t id, const probe::Result& r) {
  auto it = target_index_.find(id);
  if (it == target_index_.end()) return false;
  std::vector<pool::Event> events;
  const bool changed = loaded_.engine->record(it->second, r.ok, r.reason, r.latency,
                                              std::chrono::steady_clock::now(), events);
  for (const auto& e : events) core::log(e.level, e.text);
  if (changed) publish();
  return loaded_.engine->pending(it->second);
}

void Control::publish() {
  const pool::Engine& engine = *loaded_.engine;
  auto overlay = dns::Overlay::build(*loaded_.table, [&engine](std::string_view name, uint16_t qtype) {
    return engine.answer(name, qtype);
  });
  for (auto& w : workers_) w->publish(Snapshot{loaded_.table, overlay});
}

core::Errors Control::reload() {
  core::Errors errors;
  auto next = load(config_path_, errors);
  if (!next) {
    for (const auto& e : errors) core::log(core::Level::err, e.to_string());
    core::logf(core::Level::err,
               "event=reload-failed errors={} (the previous configuration keeps serving)",
               errors.size());
    return errors;
  }
  next->engine->adopt_health(*loaded_.engine);
  loaded_ = std::move(*next);
  publish();
  if (scheduler_) schedule_targets();
  core::logf(core::Level::notice, "event=reloaded zones={} names={} targets={}",
             loaded_.zones.size(), loaded_.config.gtm.names.size(),
             loaded_.engine->targets().size());
  return errors;
}

}  // namespace gslb::daemon
