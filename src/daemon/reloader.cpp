#include "daemon/reloader.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/log.hpp"
#include "daemon/system.hpp"

namespace gslb::daemon {

namespace {

// New probe targets need descriptors too. The running listeners and connection caps stay until a
// restart, so they are what the new targets must fit beside. Pure: runs on the loader thread.
core::Result<unsigned> fits_descriptors(const Loaded& next, const config::Config& running_limits) {
  config::Config running = next.config;
  running.server = running_limits.server;
  running.server.max_checks_in_flight = next.config.server.max_checks_in_flight;  // applies on reload
  running.control = running_limits.control;
  running.metrics = running_limits.metrics;
  return check_descriptors(running, next.engine->targets().size());
}

bool has_errors(const core::Errors& errors) {
  return std::any_of(errors.begin(), errors.end(),
                     [](const core::Error& e) { return !e.message.starts_with("note: "); });
}

}  // namespace

Reloader::Reloader(uv_loop_t* loop, std::string config_path, EventLog& log,
                   std::function<Running()> running, Apply apply)
    : loop_(loop), config_path_(std::move(config_path)), log_(log),
      running_config_(std::move(running)), apply_(std::move(apply)) {}

void Reloader::request(bool apply, Done done) {
  if (!running_) {
    running_ = std::make_unique<Job>();
    running_->apply = apply;
    running_->waiters.push_back({apply, std::move(done)});
    start_load();
    return;
  }
  if (!queued_) {
    queued_ = std::make_unique<Job>();
    log_.emit(core::Level::notice, "event=reload-queued (a load is in progress; one more starts when it ends)");
  }
  queued_->apply = queued_->apply || apply;
  queued_->waiters.push_back({apply, std::move(done)});
}

void Reloader::start_load() {
  if (!loaded_async_) loaded_async_ = io::Async(loop_, [this] { on_loaded(); });
  auto state = std::make_shared<LoadState>();
  state->async = loaded_async_.raw();
  state_ = state;
  const bool apply = running_->apply;
  if (apply) log_.emit(core::Level::info, "event=reload-started");
  // The thread gets copies: the path, and shared pointers to the zones and table serving now
  // (immutable), which it may take over when their files did not change.
  std::thread t([state, apply, path = config_path_, running = running_config_()]() mutable {
    core::Errors errors;
    auto next = load(path, errors, LoadOptions{&state->cancel, &running.reuse});
    if (next) {
      if (auto fits = fits_descriptors(*next, running.limits); !fits) {
        errors.push_back(fits.error());
        next.reset();
      }
    }
    // A check frees what it built here rather than on the loop: a large zone takes a while.
    if (!apply) next.reset();
    running = Running{};
    return_free_memory();  // the parser's scratch
    std::lock_guard lock(state->mu);
    state->result = std::move(next);
    state->errors = std::move(errors);
    state->finished = true;
    state->cv.notify_all();
    if (!state->abandoned) uv_async_send(state->async);
  });
  loader_ = std::move(t);
}

void Reloader::on_loaded() {
  if (!state_ || !running_) return;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->finished) return;
  }
  loader_.join();
  auto state = std::move(state_);
  auto job = std::move(running_);
  core::Errors errors = std::move(state->errors);
  if (job->apply) {
    if (has_errors(errors) || !state->result) {
      for (const auto& e : errors) core::log(core::Level::err, e.to_string());
      log_.emit(core::Level::err, fmt::format("event=reload-failed errors={} (the previous "
                                              "configuration keeps serving)", errors.size()));
    } else {
      auto notes = apply_(std::move(*state->result));
      errors.insert(errors.end(), notes.begin(), notes.end());
    }
  }
  state.reset();
  for (auto& w : job->waiters)
    if (w.done) w.done(errors);
  if (queued_) {
    running_ = std::move(queued_);
    start_load();
  }
}

void Reloader::stop() {
  queued_.reset();
  if (state_) {
    std::unique_lock lock(state_->mu);
    state_->cancel = true;
    const bool done = state_->cv.wait_for(lock, kLoaderGrace, [&] { return state_->finished; });
    state_->abandoned = true;
    lock.unlock();
    if (done) {
      loader_.join();
    } else {
      // Still compiling: the process is about to exit, and the thread touches only its state.
      core::log(core::Level::warning, "event=reload-abandoned (the loader did not stop in time)");
      loader_.detach();
    }
    state_.reset();
  }
  running_.reset();
  loaded_async_.close();
}

}  // namespace gslb::daemon
