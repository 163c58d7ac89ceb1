// The control loop (main thread): runs the probe scheduler, feeds results to the pool engine,
// logs every event, and on each change compiles a new Overlay and hands it to every worker.
// Also reloads (SIGHUP, gslbctl), keeps drains, and answers gslbctl's commands. Everything here
// runs on one libuv loop.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/client.hpp"
#include "daemon/dns_server.hpp"
#include "daemon/drains.hpp"
#include "daemon/event_log.hpp"
#include "daemon/server.hpp"
#include "probe/scheduler.hpp"

namespace gslb::daemon {

class Control {
 public:
  Control(uv_loop_t* loop, std::string config_path, Loaded loaded,
          std::vector<std::unique_ptr<Worker>>& workers);
  ~Control();

  // Publishes the first snapshot, restores drains, and starts the checks. `ready` runs once
  // when every target has had its first result or the longest probe timeout has passed.
  void start(std::function<void()> ready);
  // Re-reads everything on a loader thread while this loop goes on probing, publishing and
  // answering gslbctl; the new configuration is swapped in here, on the loop, once it is
  // ready. A bad configuration is logged and the old one keeps serving. `done` then runs on
  // the loop with the errors (empty on success; "note: ..." entries are not errors).
  // One load runs at a time. Requests that arrive during it are coalesced into one more load,
  // started when it ends (the files may have changed since it began); each caller hears the
  // outcome of the load that started after its request.
  using Done = std::function<void(const core::Errors&)>;
  void reload(Done done = {});
  // Loads and checks everything the same way, without applying it.
  void check_config(Done done);
  // Stops the checks and timers and abandons a load in progress (it is told to stop, and
  // waited for up to kLoaderGrace); the loop can then run dry.
  void stop();

  const Loaded& loaded() const noexcept { return loaded_; }
  const std::string& config_path() const noexcept { return config_path_; }

  // gslbctl's commands. `args` as typed after `gslbctl`; returns (exit status, text).
  struct Reply {
    int status = 0;
    std::string body;
  };
  // `reply` runs once: at once for most commands, when the load ends for reload/check-config.
  void command(const std::vector<std::string>& args, std::function<void(Reply)> reply);
  Reply command(const std::vector<std::string>& args);  // every command but reload/check-config

  // Recent events (timestamped lines), and a way to follow new ones.
  const std::deque<std::string>& events() const noexcept { return log_.recent(); }
  using Follower = Followers::Follower;
  uint64_t follow(Follower f) { return log_.followers().add(std::move(f)); }
  void unfollow(uint64_t id) { log_.followers().remove(id); }

  // The verdict stream (`gslbctl verdicts`, README "gslbctl"): versioned JSON lines, one per
  // target with its state, reason and time, then {"v":1,"type":"synced"}. A verdict follower
  // then gets a state line for each target whose state changes (up, down, unknown, drained),
  // and after a reload a whole new snapshot ending in "synced" (targets may have come or gone).
  std::string verdict_snapshot() const;
  uint64_t follow_verdicts(Follower f) { return verdict_followers_.add(std::move(f)); }
  void unfollow_verdicts(uint64_t id) { verdict_followers_.remove(id); }

  // Counters for the metrics endpoint.
  uint64_t overlay_builds() const noexcept { return overlay_builds_; }
  const std::map<std::string, uint64_t>& failovers() const noexcept { return failovers_; }

  // Probe latency histograms (seconds), Prometheus-style buckets.
  static constexpr std::array<double, 10> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05, 0.1, 0.25, 0.5, 1.0};
  struct Histogram {
    std::array<uint64_t, kLatencyBounds.size()> buckets{};
    double sum = 0;
    uint64_t count = 0;
  };
  // What the checks of one target (address, probe) have said, kept across reloads by its
  // scheduler id: results by reason ("ok" for passes), and latencies. Found per result without
  // comparing strings or allocating, once a target's reasons have been seen.
  struct TargetStats {
    pool::TargetKey key;
    std::vector<std::pair<std::string, uint64_t>> results;
    Histogram latency;
  };
  const std::map<uint32_t, TargetStats>& target_stats() const noexcept { return target_stats_; }
  // From a verdict that changed the answers to the publish that carried it (seconds).
  const Histogram& publish_lag() const noexcept { return publish_lag_; }
  // Checks that failed on our side (see probe::Result::local), by reason; never fed to health.
  const std::map<std::string, uint64_t>& probe_local_errors() const noexcept { return local_errors_; }
  // The control socket's and the metrics endpoint's connection counters (their servers count).
  ListenerStats control_stats, metrics_stats;

 private:
  // One load on the loader thread. Shared with that thread, which touches nothing else (it
  // works on copies), so a thread abandoned at stop cannot reach a destroyed Control.
  struct LoadState {
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    bool abandoned = false;  // set at stop: the thread must not signal the (closed) async
    std::optional<Loaded> result;
    core::Errors errors;
    std::atomic<bool> cancel{false};
    uv_async_t* async = nullptr;
  };
  struct Waiter {
    bool apply;  // reload (else check-config)
    Done done;
  };
  struct Job {
    bool apply = false;
    std::vector<Waiter> waiters;
  };
  static constexpr auto kLoaderGrace = std::chrono::seconds(2);
  void request(bool apply, Done done);
  void start_load();
  void on_loaded();
  core::Errors apply(Loaded next);
  void abandon_load();

  bool on_result(uint32_t id, const probe::Result& r);
  void emit(core::Level level, const std::string& text);
  void emit(const pool::Event& e);
  // One verdict line for target `id`; `at_ms` is the wall-clock time (ms) it reports.
  std::string verdict_line(size_t id, int64_t at_ms) const;
  // Streams the targets of `ip` (only `probe`'s when given) whose state differs from the last
  // one streamed.
  void stream_verdicts(const core::IpAddress& ip, const std::string* probe);
  // Publishes what changed now; schedule_publish() does it after a short window, so the
  // verdicts of a burst (a region dying) make one publish.
  void publish();
  void schedule_publish();
  void schedule_targets();
  Reply drain(const std::vector<std::string>& args, bool on);
  void apply_drains();
  // Writes the drains to control.state_file; returns why it could not (nothing on success).
  std::optional<std::string> save_drains();
  void arm_drain_timer();
  // Signed zones are signed again (by a reload) `refresh` before their first RRSIG expires;
  // a re-signing that fails is tried again a minute later.
  void arm_resign_timer();

  uv_loop_t* loop_;
  std::string config_path_;
  Loaded loaded_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  std::unique_ptr<probe::Scheduler> scheduler_;
  // Scheduler ids stay with a target across reloads, so its schedule and health carry over.
  std::map<pool::TargetKey, uint32_t> ids_;
  std::map<uint32_t, size_t> target_index_;  // scheduler id -> engine target
  uint32_t next_id_ = 1;

  std::function<void()> ready_;
  std::vector<bool> first_result_;
  uv_timer_t* ready_timer_ = nullptr;

  DrainBook drains_;
  uv_timer_t* drain_timer_ = nullptr;
  uv_timer_t* resign_timer_ = nullptr;
  std::string resign_zone_;  // the zone the resign timer is armed for, for its event
  uv_timer_t* trim_timer_ = nullptr;  // returns freed memory after a reload

  EventLog log_{1000};  // the last 1000 event lines, and `gslbctl events --follow`
  Followers verdict_followers_;
  // The state last streamed per target, so a verdict that several pools report (one event each)
  // is one line, and a snapshot taken meanwhile does not hide a change from older followers.
  std::map<pool::TargetKey, std::string> verdict_streamed_;

  uint64_t overlay_builds_ = 0;
  std::map<std::string, uint64_t> failovers_;                    // by name
  std::map<uint32_t, TargetStats> target_stats_;  // by scheduler id

  std::shared_ptr<const dns::Overlay> overlay_;  // the last one published
  uv_timer_t* publish_timer_ = nullptr;
  std::vector<std::chrono::steady_clock::time_point> unpublished_;  // verdicts waiting
  std::vector<pool::Event> held_events_;  // emitted once their publish is out
  Histogram publish_lag_;
  std::map<std::string, uint64_t> local_errors_;
  Burst local_error_log_;
  std::unique_ptr<Job> running_, queued_;
  std::shared_ptr<LoadState> load_state_;
  std::thread loader_;
  uv_async_t* loaded_async_ = nullptr;
};

}  // namespace gslb::daemon
