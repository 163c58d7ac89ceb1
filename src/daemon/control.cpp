#include "daemon/control.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <malloc.h>

#include <chrono>
#include <cstring>

#include "core/file.hpp"
#include "core/log.hpp"
#include "daemon/report.hpp"
#include "daemon/system.hpp"
#include "dns/overlay.hpp"

namespace gslb::daemon {

namespace {

// Verdicts this close together make one publish: long enough to gather the results that one
// loop turn and its neighbours deliver in a burst, short beside any check interval.
constexpr uint64_t kCoalesceMs = 2;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uv_timer_t* new_timer(uv_loop_t* loop, void* data) {
  auto* t = new uv_timer_t;
  uv_timer_init(loop, t);
  t->data = data;
  return t;
}

void observe(Control::Histogram& h, double secs) {
  for (size_t b = 0; b < Control::kLatencyBounds.size(); ++b)
    if (secs <= Control::kLatencyBounds[b]) {
      ++h.buckets[b];
      break;
    }
  h.sum += secs;
  ++h.count;
}

// Gives freed heap back to the kernel. A reload frees a whole configuration (and the loader
// thread's scratch) at once, but glibc keeps freed pages in its arenas: without this the RSS
// after a reload of a 1M-record zone stayed at the reload's peak.
void return_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// New probe targets need descriptors too. The running listeners and connection caps stay until a
// restart, so they are what the new targets must fit beside. Pure: runs on the loader thread.
core::Result<unsigned> fits_descriptors(const Loaded& next, const config::Config& running_limits) {
  config::Config running = next.config;
  running.server = running_limits.server;
  running.control = running_limits.control;
  running.metrics = running_limits.metrics;
  return check_descriptors(running, next.engine->targets().size());
}

void close_timer(uv_timer_t*& t) {
  if (!t) return;
  uv_close(reinterpret_cast<uv_handle_t*>(t),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  t = nullptr;
}

}  // namespace

Control::Control(uv_loop_t* loop, std::string config_path, Loaded loaded,
                 std::vector<std::unique_ptr<Worker>>& workers)
    : loop_(loop), config_path_(std::move(config_path)), loaded_(std::move(loaded)),
      workers_(workers) {}

Control::~Control() { stop(); }

void Control::start(std::function<void()> ready) {
  // Drains survive restarts: read them back before the first answers are published.
  if (const auto& path = loaded_.config.control.state_file; !path.empty()) {
    // The loader's reader: a regular file of bounded size (a missing file means no drains).
    constexpr uint64_t kMaxStateFile = 16 << 20;
    if (auto text = core::read_regular_file(path, kMaxStateFile))
      drains_ = DrainBook::from_text(*text, now_ms());
    else if (::access(path.c_str(), F_OK) == 0)
      core::logf(core::Level::warning, "event=state-not-read file={} reason=\"{}\" (no drains restored)",
                 path, text.error().message);
  }
  apply_drains();
  publish();
  scheduler_ = std::make_unique<probe::Scheduler>(
      loop_, [this](uint32_t id, const probe::Result& r) { return on_result(id, r); });
  schedule_targets();
  arm_drain_timer();

  ready_ = std::move(ready);
  first_result_.assign(loaded_.engine->targets().size(), false);
  core::Duration longest{};
  for (const auto& [name, spec] : loaded_.probes) longest = std::max(longest, spec->timeout);
  if (first_result_.empty()) {
    ready_();
    ready_ = nullptr;
    return;
  }
  ready_timer_ = new_timer(loop_, this);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(longest).count() + 200;
  uv_timer_start(ready_timer_, [](uv_timer_t* t) {
    auto* self = static_cast<Control*>(t->data);
    if (self->ready_) std::exchange(self->ready_, nullptr)();
  }, uint64_t(wait), 0);
}

void Control::stop() {
  abandon_load();
  if (scheduler_) scheduler_->close();
  close_timer(ready_timer_);
  close_timer(drain_timer_);
  close_timer(publish_timer_);
  close_timer(trim_timer_);
  log_.followers().clear();
  verdict_followers_.clear();
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

void Control::emit(core::Level level, const std::string& text) { log_.emit(level, text); }

void Control::emit(const pool::Event& e) {
  emit(e.level, e.text());
  if (!e.failover.empty()) ++failovers_[e.failover];
  // The verdict stream follows the same events, so its lines too come after their publish.
  if (e.kind == "address-up" || e.kind == "address-down" || e.kind == "drain" || e.kind == "undrain")
    if (const std::string* addr = e.field("address"))
      if (auto ip = core::IpAddress::parse(*addr)) stream_verdicts(*ip, e.field("probe"));
}

namespace {

std::string rfc3339(int64_t ms) {
  const std::time_t t = std::time_t(ms / 1000);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return stamp;
}

// A target's verdict as the stream names it: a drain hides the probe state.
std::string verdict_state(const health::Target& t) {
  return t.drained() ? "drained" : health::to_string(t.state());
}

}  // namespace

std::string Control::verdict_line(size_t id, int64_t at_ms) const {
  const pool::TargetKey& key = loaded_.engine->targets()[id];
  const health::Target& t = loaded_.engine->target(id);
  const std::string reason = t.drained() ? std::string("drained by the operator") : t.reason();
  return fmt::format(R"({{"v":1,"type":"state","address":{},"probe":{},"state":"{}","reason":{},"time":"{}"}})",
                     json_string(key.ip.to_string()), json_string(key.probe), verdict_state(t),
                     json_string(reason), rfc3339(at_ms)) + "\n";
}

std::string Control::verdict_snapshot() const {
  // Each line carries when its state began: the steady-clock `since` moved onto the wall clock.
  const auto mono = std::chrono::steady_clock::now();
  const int64_t wall = now_ms();
  std::string out;
  for (size_t i = 0; i < loaded_.engine->targets().size(); ++i) {
    const auto since = loaded_.engine->target(i).since();
    const int64_t ago = since == health::MonoTime{} || since > mono
                            ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(mono - since).count();
    out += verdict_line(i, wall - ago);
  }
  return out + "{\"v\":1,\"type\":\"synced\"}\n";
}

void Control::stream_verdicts(const core::IpAddress& ip, const std::string* probe) {
  if (verdict_followers_.empty()) {
    // Nobody listens: no work per event. What was last streamed is forgotten, so the first
    // change a new follower sees after its snapshot is never taken for a repeat.
    verdict_streamed_.clear();
    return;
  }
  const auto& keys = loaded_.engine->targets();
  std::string text;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!(keys[i].ip == ip) || (probe && keys[i].probe != *probe)) continue;
    std::string state = verdict_state(loaded_.engine->target(i));
    auto [it, fresh] = verdict_streamed_.try_emplace(keys[i], state);
    if (!fresh && it->second == state) continue;
    it->second = std::move(state);
    text += verdict_line(i, now_ms());
  }
  if (!text.empty()) verdict_followers_.tell(text);
}

bool Control::on_result(uint32_t id, const probe::Result& r) {
  auto it = target_index_.find(id);
  if (it == target_index_.end()) return false;
  const size_t target = it->second;
  const pool::TargetKey& key = loaded_.engine->targets()[target];
  if (r.local) {
    // Our own shortage (no descriptor, no memory) says nothing about the gateway: its state
    // stays, and the scheduler tries again at the normal interval. A shortage hits every target
    // at once, so one line per burst, not one per target.
    const uint64_t n = ++local_errors_[r.reason];
    if (uint64_t burst = local_error_log_.hit(uint64_t(now_ms())))
      emit(core::Level::err, fmt::format("event=probe-error kind=local address={} probe={} reason=\"{}\" "
                                         "count={} total={} (not a verdict: health unchanged)",
                                         key.ip.to_string(), key.probe, r.reason, burst, n));
    return false;
  }
  TargetStats& st = target_stats_[id];
  if (st.results.empty()) st.key = key;
  const std::string_view reason = r.ok ? std::string_view("ok") : std::string_view(r.reason);
  auto seen = std::find_if(st.results.begin(), st.results.end(),
                           [&](const auto& e) { return e.first == reason; });
  if (seen == st.results.end()) seen = st.results.insert(st.results.end(), {std::string(reason), 0});
  ++seen->second;
  observe(st.latency, std::chrono::duration<double>(r.latency).count());
  std::vector<pool::Event> events;
  const bool changed = loaded_.engine->record(target, r.ok, r.reason, r.latency,
                                              std::chrono::steady_clock::now(), events);
  if (changed) schedule_publish();
  // Whoever reads an event may query at once: while a publish is pending, its events wait for
  // it, so the answers have changed before the line that says so appears.
  const bool pending = publish_timer_ && uv_is_active(reinterpret_cast<uv_handle_t*>(publish_timer_));
  for (auto& e : events) {
    if (pending) held_events_.push_back(std::move(e));
    else emit(e);
  }
  if (ready_ && target < first_result_.size()) {
    first_result_[target] = true;
    if (std::all_of(first_result_.begin(), first_result_.end(), [](bool b) { return b; }))
      std::exchange(ready_, nullptr)();
  }
  return loaded_.engine->pending(target);
}

void Control::schedule_publish() {
  unpublished_.push_back(std::chrono::steady_clock::now());
  if (!publish_timer_) publish_timer_ = new_timer(loop_, this);
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(publish_timer_))) return;
  uv_timer_start(publish_timer_, [](uv_timer_t* t) { static_cast<Control*>(t->data)->publish(); },
                 kCoalesceMs, 0);
}

void Control::publish() {
  if (publish_timer_) uv_timer_stop(publish_timer_);
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
  for (const auto& at : unpublished_)
    observe(publish_lag_, std::chrono::duration<double>(now - at).count());
  unpublished_.clear();
  for (const auto& e : std::exchange(held_events_, {})) emit(e);
}


void Control::reload(Done done) { request(true, std::move(done)); }

void Control::check_config(Done done) { request(false, std::move(done)); }

void Control::request(bool apply, Done done) {
  if (!running_) {
    running_ = std::make_unique<Job>();
    running_->apply = apply;
    running_->waiters.push_back({apply, std::move(done)});
    start_load();
    return;
  }
  if (!queued_) {
    queued_ = std::make_unique<Job>();
    emit(core::Level::notice, fmt::format("event=reload-queued (a load is in progress; one more "
                                          "starts when it ends)"));
  }
  queued_->apply = queued_->apply || apply;
  queued_->waiters.push_back({apply, std::move(done)});
}

void Control::start_load() {
  if (!loaded_async_) {
    loaded_async_ = new uv_async_t;
    uv_async_init(loop_, loaded_async_, [](uv_async_t* a) { static_cast<Control*>(a->data)->on_loaded(); });
    loaded_async_->data = this;
  }
  auto state = std::make_shared<LoadState>();
  state->async = loaded_async_;
  load_state_ = state;
  const bool apply = running_->apply;
  if (apply) emit(core::Level::info, "event=reload-started");
  // The thread gets copies: the path, and shared pointers to the zones and table serving now
  // (immutable), which it may take over when their files did not change.
  config::Config limits;  // what fits_descriptors needs of the running configuration
  limits.server = loaded_.config.server;
  limits.control = loaded_.config.control;
  limits.metrics = loaded_.config.metrics;
  std::thread t([state, apply, path = config_path_, reuse = Reuse::of(loaded_),
                 limits = std::move(limits)]() mutable {
    core::Errors errors;
    auto next = load(path, errors, LoadOptions{&state->cancel, &reuse});
    if (next) {
      if (auto fits = fits_descriptors(*next, limits); !fits) {
        errors.push_back(fits.error());
        next.reset();
      }
    }
    // A check frees what it built here rather than on the loop: a large zone takes a while.
    if (!apply) next.reset();
    reuse = Reuse{};
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

void Control::on_loaded() {
  if (!load_state_ || !running_) return;
  {
    std::lock_guard lock(load_state_->mu);
    if (!load_state_->finished) return;
  }
  loader_.join();
  auto state = std::move(load_state_);
  auto job = std::move(running_);
  core::Errors errors = std::move(state->errors);
  const bool ok = std::none_of(errors.begin(), errors.end(),
                               [](const core::Error& e) { return !e.message.starts_with("note: "); });
  if (job->apply) {
    if (!ok || !state->result) {
      for (const auto& e : errors) core::log(core::Level::err, e.to_string());
      emit(core::Level::err, fmt::format("event=reload-failed errors={} (the previous "
                                         "configuration keeps serving)", errors.size()));
    } else {
      auto notes = apply(std::move(*state->result));
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

void Control::abandon_load() {
  queued_.reset();
  if (load_state_) {
    std::unique_lock lock(load_state_->mu);
    load_state_->cancel = true;
    const bool done = load_state_->cv.wait_for(lock, kLoaderGrace, [&] { return load_state_->finished; });
    load_state_->abandoned = true;
    lock.unlock();
    if (done) {
      loader_.join();
    } else {
      // Still compiling: the process is about to exit, and the thread touches only its state.
      core::log(core::Level::warning, "event=reload-abandoned (the loader did not stop in time)");
      loader_.detach();
    }
    load_state_.reset();
  }
  running_.reset();
  if (loaded_async_) {
    uv_close(reinterpret_cast<uv_handle_t*>(loaded_async_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    loaded_async_ = nullptr;
  }
}

core::Errors Control::apply(Loaded next) {
  core::Errors errors;
  // Sockets, workers and log targets are set up once at start: say so rather than ignore it.
  const auto& was = loaded_.config;
  const auto& now = next.config;
  std::string restart;
  auto differs = [&restart](bool d, const char* key) {
    if (d) restart += (restart.empty() ? "" : ",") + std::string(key);
  };
  differs(was.server.listen != now.server.listen, "server.listen");
  differs(was.server.workers != now.server.workers, "server.workers");
  differs(was.server.user != now.server.user || was.server.group != now.server.group, "server.user/group");
  differs(was.server.edns_size != now.server.edns_size || was.server.ecs != now.server.ecs ||
              was.server.tcp_idle_timeout != now.server.tcp_idle_timeout ||
              was.server.tcp_max_connections != now.server.tcp_max_connections ||
              was.server.tcp_frame_timeout != now.server.tcp_frame_timeout ||
              was.server.tcp_max_connections_per_source != now.server.tcp_max_connections_per_source ||
              was.server.tcp_max_output != now.server.tcp_max_output, "server (edns/tcp)");
  differs(was.control.socket != now.control.socket, "control.socket");
  differs(was.control.max_connections != now.control.max_connections ||
              was.control.idle_timeout != now.control.idle_timeout, "control (limits)");
  differs(was.metrics.listen != now.metrics.listen, "metrics.listen");
  differs(was.metrics.max_connections != now.metrics.max_connections ||
              was.metrics.max_connections_per_source != now.metrics.max_connections_per_source ||
              was.metrics.idle_timeout != now.metrics.idle_timeout, "metrics (limits)");
  differs(was.log.syslog != now.log.syslog || was.log.stderr_ != now.log.stderr_, "log.targets");
  differs(!(was.rrl == now.rrl), "rrl");
  differs(!(was.cookies == now.cookies), "cookies");
  if (!restart.empty()) {
    emit(core::Level::warning, fmt::format("event=restart-needed keys={} (changed in the file; the "
                                           "running values stay until gslbd restarts)", restart));
    errors.push_back(core::Error{{}, 0, 0, fmt::format("note: {} changed; these take effect on restart", restart)});
  }
  next.engine->adopt_health(*loaded_.engine);
  const bool same_table = next.table == loaded_.table;
  loaded_ = std::move(next);
  apply_drains();
  publish();
  if (scheduler_) schedule_targets();
  // The old snapshot goes when every worker has taken the new one: the TCP loops at once, a
  // UDP thread with its next query. Trim once the first have let go.
  if (!trim_timer_) trim_timer_ = new_timer(loop_, this);
  uv_timer_start(trim_timer_, [](uv_timer_t*) { return_free_memory(); }, 1000, 0);
  emit(core::Level::notice, fmt::format("event=reloaded zones={} names={} targets={}{}",
                                        loaded_.zones.size(), loaded_.config.gtm.names.size(),
                                        loaded_.engine->targets().size(),
                                        same_table ? " zones-unchanged=yes" : ""));
  // Targets may have come or gone: verdict followers start over from a fresh snapshot.
  verdict_streamed_.clear();
  for (size_t i = 0; i < loaded_.engine->targets().size(); ++i)
    verdict_streamed_[loaded_.engine->targets()[i]] = verdict_state(loaded_.engine->target(i));
  if (!verdict_followers_.empty()) verdict_followers_.tell(verdict_snapshot());
  return errors;
}

void Control::apply_drains() {
  std::vector<pool::Event> events;
  for (const auto& [ip, until] : drains_.all())
    if (auto a = core::IpAddress::parse(ip)) loaded_.engine->set_drained(*a, true, events);
}

std::optional<std::string> Control::save_drains() {
  const auto& path = loaded_.config.control.state_file;
  if (path.empty()) return std::nullopt;
  const std::string text = drains_.to_text();
  // A temporary file renamed over the old one: a crash or a full disk leaves the previous
  // drains whole, never half a file. Every step is checked, close() and fsync() included (a
  // full disk or NFS can report only there).
  const std::string tmp = path + ".tmp";
  auto failed = [&](const char* step) {
    std::string why = fmt::format("cannot write {}: {} ({} {})", path, std::strerror(errno), step, tmp);
    ::unlink(tmp.c_str());
    core::logf(core::Level::warning, "event=state-not-saved file={} reason=\"{}\" (drains will not survive a restart)",
               path, std::strerror(errno));
    return why;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return failed("creating");
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      errno = err;
      return failed("writing");
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return failed("syncing");
  }
  if (::close(fd) != 0) return failed("closing");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("renaming");
  return std::nullopt;
}

void Control::arm_drain_timer() {
  const auto next = drains_.next_expiry();
  if (!next) {
    if (drain_timer_) uv_timer_stop(drain_timer_);
    return;
  }
  if (!drain_timer_) drain_timer_ = new_timer(loop_, this);
  uv_timer_start(drain_timer_, [](uv_timer_t* t) {
    auto* self = static_cast<Control*>(t->data);
    std::vector<pool::Event> events;
    for (const auto& ip : self->drains_.take_expired(now_ms()))
      if (auto a = core::IpAddress::parse(ip)) self->loaded_.engine->set_drained(*a, false, events);
    for (auto e : events) {
      if (e.kind == "undrain") e.fields.push_back({"reason", "drain expired", true});
      self->emit(e);
    }
    self->save_drains();
    self->publish();
    self->arm_drain_timer();
  }, uint64_t(std::max<int64_t>(0, *next - now_ms())), 0);
}

Control::Reply Control::drain(const std::vector<std::string>& args, bool on) {
  if (args.size() < 2) return {1, fmt::format("usage: gslbctl {} ADDRESS|POOL{}\n", args[0], on ? " [--for DURATION]" : "")};
  int64_t until = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (on && args[i] == "--for" && i + 1 < args.size()) {
      auto d = core::parse_duration(args[++i]);
      if (!d) return {1, fmt::format("bad duration {}: write it like 30s, 10m or 2h\n", args[i])};
      until = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
    } else {
      return {1, fmt::format("unexpected argument {}\n", args[i])};
    }
  }
  std::vector<core::IpAddress> ips;
  if (auto ip = core::IpAddress::parse(args[1])) {
    bool known = false;
    for (const auto& k : loaded_.engine->targets()) known = known || k.ip == *ip;
    if (!known && on) return {1, fmt::format("{} is in no pool\n", args[1])};
    ips.push_back(*ip);
  } else {
    for (const auto& p : loaded_.engine->config().pools)
      if (p.name == args[1])
        for (const auto& a : p.addresses) ips.push_back(a.ip);
    if (ips.empty()) return {1, fmt::format("{} is neither an address nor a pool\n", args[1])};
  }
  std::vector<pool::Event> events;
  size_t touched = 0;
  for (const auto& ip : ips) {
    touched += loaded_.engine->set_drained(ip, on, events) > 0;
    if (on) drains_.set(ip.to_string(), until);
    else drains_.remove(ip.to_string());
  }
  for (auto e : events) {
    if (until && e.kind == "drain") e.fields.push_back({"for", args[3]});
    emit(e);
  }
  const auto unsaved = save_drains();
  arm_drain_timer();
  publish();
  const std::string done = fmt::format("{} {} address{}", on ? "drained" : "undrained", ips.size(),
                                       ips.size() == 1 ? "" : "es");
  if (!unsaved) return {0, done + "\n"};
  // The change stays in effect: taking it back would fight the operator (a drain is usually
  // urgent), while telling them lets them fix the file or accept that a restart forgets it.
  return {1, fmt::format("{} in memory, but {}\nthe change is in effect now and is lost when gslbd restarts{}\n",
                         done, *unsaved, on ? "" : " (the old file would drain it again)")};
}

void Control::command(const std::vector<std::string>& args, std::function<void(Reply)> reply) {
  std::string cmd;
  for (const auto& s : args)
    if (s != "--json" && cmd.empty()) cmd = s;
  if (cmd != "reload" && cmd != "check-config") {
    reply(command(args));
    return;
  }
  request(cmd == "reload", [cmd, reply = std::move(reply)](const core::Errors& errors) {
    std::string body;
    bool failed = false;
    for (const auto& e : errors) {
      body += e.to_string() + "\n";
      failed = failed || !e.message.starts_with("note: ");
    }
    if (!failed) return reply({0, body + (cmd == "reload" ? "reloaded\n" : "configuration ok\n")});
    reply({1, body + fmt::format("{} error{}; the running configuration is unchanged\n",
                                 errors.size(), errors.size() == 1 ? "" : "s")});
  });
}



Control::Reply Control::command(const std::vector<std::string>& args) {
  if (args.empty()) return {1, "no command\n"};
  bool json = false;
  std::vector<std::string> a;
  for (const auto& s : args) {
    if (s == "--json") json = true;
    else a.push_back(s);
  }
  const std::string& cmd = a.empty() ? args[0] : a[0];
  const auto now = std::chrono::steady_clock::now();
  if (cmd == "status")
    return {0, json ? status_json(*loaded_.engine, now) : status_text(*loaded_.engine, now)};
  if (cmd == "explain") {
    if (a.size() < 2) return {1, "usage: gslbctl explain NAME [--type A|AAAA] [--client IP]\n"};
    uint16_t qtype = dns::rrtype::A;
    std::optional<core::IpAddress> client;
    if (a.size() % 2 != 0) return {1, fmt::format("{} needs a value\n", a.back())};
    for (size_t i = 2; i + 1 < a.size(); i += 2) {
      if (a[i] == "--type" && (a[i + 1] == "A" || a[i + 1] == "AAAA")) {
        qtype = a[i + 1] == "A" ? dns::rrtype::A : dns::rrtype::AAAA;
      } else if (a[i] == "--client" && core::IpAddress::parse(a[i + 1])) {
        client = core::IpAddress::parse(a[i + 1]);
      } else {
        return {1, fmt::format("bad option {} {}\n", a[i], a[i + 1])};
      }
    }
    auto text = explain(*loaded_.engine, a[1], qtype, client, json);
    if (!text) return {1, fmt::format("{} is not a dynamic name (gslbd.toml has no [[name]] for it)\n", a[1])};
    return {0, *text};
  }
  if (cmd == "drain" || cmd == "undrain") return drain(a, cmd == "drain");
  if (cmd == "verdicts") return {0, verdict_snapshot()};
  if (cmd == "events") {
    std::string body;
    for (const auto& e : log_.recent()) body += e + "\n";
    return {0, body};
  }
  return {1, fmt::format("unknown command {}\n", cmd)};
}

}  // namespace gslb::daemon
