#include "probe/scheduler.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "probe/http_runner.hpp"
#include "probe/tcp_runner.hpp"

namespace gslb::probe {

namespace {

uint64_t to_ms(core::Duration d) {
  return uint64_t(std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(d).count()));
}

// First checks are spread over min(interval / 10, 100ms): at once for an operator, yet 1000
// targets do not open 1000 connections in the same millisecond.
uint64_t startup_window_ms(const Spec& spec) { return std::min<uint64_t>(to_ms(spec.interval) / 10, 100); }

// Later checks land up to interval / 20 (at most 50ms) after their grid time, so targets that
// share a probe do not stay in lock-step with each other or with periodic work on the servers.
// The jitter is never added to the grid, so it does not accumulate.
uint64_t jitter_ms(uint64_t interval_ms) { return std::min<uint64_t>(interval_ms / 20, 50); }

}  // namespace

struct Scheduler::Entry {
  Scheduler* owner = nullptr;
  Target target;
  uint64_t serial = 0;        // tells a replaced entry from its successor under the same id
  uv_timer_t* timer = nullptr;
  CheckId check = 0;          // the in-flight check, 0 when none
  bool running = false;
  uint64_t due_ms = 0;        // grid time (uv_now) of the next or current check, without jitter
};

Scheduler::Scheduler(uv_loop_t* loop, Callback cb)
    : loop_(loop),
      cb_(std::move(cb)),
      http_(std::make_unique<HttpRunner>(loop)),
      tcp_(std::make_unique<TcpRunner>(loop)),
      rng_(std::minstd_rand::result_type(uv_hrtime())) {}

Scheduler::~Scheduler() { close(); }

void Scheduler::set_targets(std::vector<Target> targets) {
  if (closed_) return;
  std::unordered_map<uint32_t, std::unique_ptr<Entry>> kept;
  std::vector<Target> fresh;
  for (Target& t : targets) {
    if (!t.spec) continue;
    if (auto k = kept.find(t.id); k != kept.end()) {  // repeated id: the later one wins
      stop(*k->second);
      kept.erase(k);
    }
    std::erase_if(fresh, [&](const Target& f) { return f.id == t.id; });
    auto it = entries_.find(t.id);
    if (it != entries_.end() && it->second->target.address == t.address &&
        (it->second->target.spec == t.spec || *it->second->target.spec == *t.spec)) {
      it->second->target.spec = std::move(t.spec);
      kept.emplace(t.id, std::move(it->second));
      entries_.erase(it);
    } else {
      fresh.push_back(std::move(t));
    }
  }
  for (auto& [id, e] : entries_) stop(*e);
  entries_ = std::move(kept);
  for (Target& t : fresh) start_entry(t.id, std::move(t));
}

void Scheduler::start_entry(uint32_t id, Target target) {
  auto e = std::make_unique<Entry>();
  e->owner = this;
  e->serial = next_serial_++;
  e->timer = new uv_timer_t;
  uv_timer_init(loop_, e->timer);
  e->timer->data = e.get();
  e->due_ms = uv_now(loop_) + random_below(startup_window_ms(*target.spec) + 1);
  e->target = std::move(target);
  Entry& ref = *e;
  entries_[id] = std::move(e);
  uv_timer_start(ref.timer, on_timer, ref.due_ms - uv_now(loop_), 0);
}

void Scheduler::stop(Entry& e) {
  if (e.running) {
    if (e.target.spec->type == Type::tcp)
      tcp_->cancel(e.check);
    else
      http_->cancel(e.check);
    e.running = false;
  }
  if (e.timer) {
    e.timer->data = nullptr;
    uv_timer_stop(e.timer);
    uv_close(reinterpret_cast<uv_handle_t*>(e.timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    e.timer = nullptr;
  }
}

void Scheduler::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, e] : entries_) stop(*e);
  entries_.clear();
  http_->close();
  tcp_->close();
}

void Scheduler::on_timer(uv_timer_t* timer) {
  if (auto* e = static_cast<Entry*>(timer->data)) e->owner->run(*e);
}

void Scheduler::run(Entry& e) {
  const uint32_t id = e.target.id;
  const uint64_t serial = e.serial;
  Done done = [this, id, serial](const Result& r) { finished(id, serial, r); };
  const Spec& spec = *e.target.spec;
  auto started = spec.type == Type::tcp ? tcp_->start(e.target.address, spec, std::move(done))
                                        : http_->start(e.target.address, spec, std::move(done));
  if (started) {
    e.running = true;
    e.check = *started;
    return;
  }
  // Could not even start (out of memory or descriptors): gslbd's failure, not the target's.
  finished(id, serial, Result{false, started.error().message, {}, true});
}

void Scheduler::finished(uint32_t id, uint64_t serial, const Result& result) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second->serial != serial) return;
  it->second->running = false;
  it->second->check = 0;
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
  if (it == entries_.end() || it->second->serial != serial) return;
  Entry& e = *it->second;
  const Spec& spec = *e.target.spec;
  const uint64_t interval_ms = to_ms(fast ? effective_fast_interval(spec) : spec.interval);
  e.due_ms += interval_ms;
  // A check that overran its interval (or a loop that stalled) starts the next one now rather
  // than firing a burst to catch up: the grid restarts from here.
  const uint64_t now = uv_now(loop_);
  if (e.due_ms < now) e.due_ms = now;
  arm(e, interval_ms);
}

void Scheduler::arm(Entry& e, uint64_t interval_ms) {
  const uint64_t at = e.due_ms + random_below(jitter_ms(interval_ms) + 1);
  const uint64_t now = uv_now(loop_);
  uv_timer_start(e.timer, on_timer, at > now ? at - now : 0, 0);
}

uint64_t Scheduler::random_below(uint64_t n) {
  return n <= 1 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_);
}

}  // namespace gslb::probe
