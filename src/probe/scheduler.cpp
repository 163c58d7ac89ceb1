#include "probe/scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/log.hpp"
#include "probe/http_runner.hpp"
#include "probe/tcp_runner.hpp"

namespace gslb::probe {

namespace {

uint64_t to_ms(core::Duration d) {
  return uint64_t(std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(d).count()));
}

}  // namespace

Scheduler::Scheduler(uv_loop_t* loop, Callback cb)
    : loop_(loop),
      cb_(std::move(cb)),
      http_(std::make_unique<HttpRunner>(loop)),
      tcp_(std::make_unique<TcpRunner>(loop)),
      rng_(std::minstd_rand::result_type(uv_hrtime())),
      plan_([this](uint64_t n) {
        return n <= 1 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_);
      }),
      timer_(loop, [this] { on_timer(); }) {
}

Scheduler::~Scheduler() { close(); }

void Scheduler::set_source(std::optional<core::IpAddress> source) {
  http_->set_source(source);
  tcp_->set_source(source);
}

void Scheduler::set_targets(std::vector<Target> targets) {
  if (closed_) return;
  std::unordered_map<uint32_t, Entry> kept;
  std::vector<Target> fresh;
  std::unordered_map<uint32_t, size_t> fresh_at;  // id -> its place in `fresh`
  for (Target& t : targets) {
    if (!t.spec) continue;
    if (auto k = kept.find(t.id); k != kept.end()) {  // repeated id: the later one wins
      stop(k->second);
      kept.erase(k);
    }
    if (auto f = fresh_at.find(t.id); f != fresh_at.end()) {
      fresh[f->second].spec = nullptr;  // dropped below
      fresh_at.erase(f);
    }
    auto it = entries_.find(t.id);
    if (it != entries_.end() && it->second.target.address == t.address &&
        (it->second.target.spec == t.spec || *it->second.target.spec == *t.spec)) {
      it->second.target.spec = std::move(t.spec);
      kept.emplace(t.id, std::move(it->second));
      entries_.erase(it);
    } else {
      fresh_at[t.id] = fresh.size();
      fresh.push_back(std::move(t));
    }
  }
  std::erase_if(fresh, [](const Target& f) { return !f.spec; });
  for (auto& [id, e] : entries_) stop(e);
  entries_ = std::move(kept);
  for (Target& t : fresh) start_entry(std::move(t), fresh.size());
  arm();
}

void Scheduler::start_entry(Target target, size_t batch) {
  const uint32_t id = target.id;
  plan_.add(id, to_ms(target.spec->interval), uv_now(loop_), batch);
  entries_[id] = Entry{std::move(target), next_serial_++, 0};
}

void Scheduler::stop(Entry& e) {
  if (e.check) {
    if (e.target.spec->type != Type::https)
      tcp_->cancel(e.check);
    else
      http_->cancel(e.check);
    e.check = 0;
  }
  plan_.remove(e.target.id);
}

void Scheduler::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, e] : entries_) stop(e);
  entries_.clear();
  timer_.close();
  http_->close();
  tcp_->close();
}

void Scheduler::arm() {
  if (closed_) return;
  const auto due = plan_.next_due();
  if (!due) {
    timer_.stop();
    return;
  }
  const uint64_t now = uv_now(loop_);
  timer_.start(*due > now ? *due - now : 0);
}

void Scheduler::on_timer() {
  for (uint32_t id : plan_.take_due(uv_now(loop_))) {
    auto it = entries_.find(id);
    if (it != entries_.end()) run(it->second);
    if (closed_) return;  // a check that could not start reported, and the callback closed us
  }
  arm();
}

void Scheduler::run(Entry& e) {
  const uint32_t id = e.target.id;
  const uint64_t serial = e.serial;
  Done done = [this, id, serial](const Result& r) { finished(id, serial, r); };
  const Spec& spec = *e.target.spec;
  if (max_in_flight_ && tcp_->in_flight() + http_->in_flight() >= max_in_flight_) {
    finished(id, serial, Result{false, fmt::format("{} checks in flight (server.max_checks_in_flight)", max_in_flight_), {}, true});
    return;
  }
  auto started = spec.type != Type::https ? tcp_->start(e.target.address, spec, std::move(done))
                                        : http_->start(e.target.address, spec, std::move(done));
  if (started) {
    e.check = *started;
    return;
  }
  // Could not even start (out of memory or descriptors): gslbd's failure, not the target's.
  finished(id, serial, Result{false, started.error().message, {}, true});
}

void Scheduler::finished(uint32_t id, uint64_t serial, const Result& result) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.serial != serial) return;
  it->second.check = 0;
  bool fast = false;
  try {
    fast = cb_(id, result);
  } catch (const std::exception& ex) {
    core::logf(core::Level::err, "probe callback for target {} threw: {}", id, ex.what());
  } catch (...) {
    core::logf(core::Level::err, "probe callback for target {} threw", id);
  }
  // The callback may have replaced or removed this target, or closed us.
  if (closed_) return;
  it = entries_.find(id);
  if (it == entries_.end() || it->second.serial != serial) return;
  const Spec& spec = *it->second.target.spec;
  plan_.finished(id, to_ms(fast ? effective_fast_interval(spec) : spec.interval), uv_now(loop_));
  arm();
}

}  // namespace gslb::probe
