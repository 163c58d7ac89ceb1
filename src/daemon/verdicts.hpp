// The verdict-to-answer path, in one place: a probe result reaches the engine (rise/fall, then
// the pools and names of its target), verdicts that arrive within 2 ms make one publish of a new
// Overlay to every worker, and then the event lines go out: to the event log, the failover
// counters and the verdict stream. Runs on the control loop.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/board.hpp"
#include "cluster/etcd.hpp"
#include "daemon/client.hpp"
#include "daemon/dns_server.hpp"
#include "daemon/event_log.hpp"
#include "daemon/server.hpp"
#include "io/handle.hpp"
#include "probe/scheduler.hpp"

namespace gslb::daemon {

class Verdicts {
 public:
  // `loaded` is the configuration serving now; it stays owned by the caller, who calls
  // reloaded() after replacing it.
  Verdicts(uv_loop_t* loop, const Loaded& loaded, std::vector<std::unique_ptr<Worker>>& workers,
           EventLog& log);
  ~Verdicts();

  // Publishes the first snapshot and starts the checks. `ready` runs once when every target
  // has had its first result or the longest probe timeout has passed.
  void start(std::function<void()> ready);
  void stop();
  // After the caller swapped in a new configuration (health already adopted): publish it,
  // reschedule the targets (ids carry over) and restart the verdict stream from a snapshot.
  void reloaded();

  // Publishes what changed now. schedule_publish() does it after a short window, so the
  // verdicts of a burst (a region dying) make one publish.
  void publish();
  void schedule_publish();
  // An event line: logged, counted, streamed. Events of a verdict wait for their publish.
  void emit(const pool::Event& e);
  void emit(core::Level level, const std::string& text) { log_.emit(level, text); }

  // The verdict stream (`gslbctl verdicts`, README "gslbctl"): versioned JSON lines, one per
  // target with its state, reason and time, then {"v":1,"type":"synced"}. A verdict follower
  // then gets a state line for each target whose state changes (up, down, unknown, drained),
  // and after a reload a whole new snapshot ending in "synced" (targets may have come or gone).
  std::string snapshot() const;
  uint64_t follow(Followers::Follower f) { return followers_.add(std::move(f)); }
  void unfollow(uint64_t id) { followers_.remove(id); }

  // Probe latency histograms (seconds), Prometheus-style buckets.
  static constexpr std::array<double, 10> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05, 0.1, 0.25, 0.5, 1.0};
  struct Histogram {
    std::array<uint64_t, kLatencyBounds.size()> buckets{};
    double sum = 0;
    uint64_t count = 0;
    void observe(double secs);
  };
  // What the checks of one target (address, probe) have said, kept across reloads by its
  // scheduler id: results by reason ("ok" for passes), and latencies. Found per result without
  // comparing strings or allocating, once a target's reasons have been seen.
  struct TargetStats {
    pool::TargetKey key;
    std::vector<std::pair<std::string, uint64_t>> results;
    Histogram latency;
    double last_check = 0;  // when the last result came in, Unix seconds
  };
  const std::map<uint32_t, TargetStats>& target_stats() const noexcept { return target_stats_; }
  // From a verdict that changed the answers to the publish that carried it (seconds).
  const Histogram& publish_lag() const noexcept { return publish_lag_; }
  // Checks that failed on our side (see probe::Result::local), by reason; never fed to health.
  const std::map<std::string, uint64_t>& probe_local_errors() const noexcept { return local_errors_; }
  uint64_t overlay_builds() const noexcept { return overlay_builds_; }
  const std::map<std::string, uint64_t>& failovers() const noexcept { return failovers_; }

  // Cluster mode ([cluster] etcd set, read at start): this node's link and the votes it sees;
  // null otherwise.
  const cluster::Link* cluster() const noexcept { return link_.get(); }
  cluster::Link* cluster() noexcept { return link_.get(); }
  // Where the deployment's drains go when they change (set before start()).
  std::function<void(const std::map<std::string, int64_t>&)> on_cluster_drains;

 private:
  // The tallies of these targets ("ADDRESS/PROBE") may have changed: give the engine their
  // shared verdicts, publish and log what that changes.
  void cluster_changed(const std::vector<std::string>& targets);
  // This node's vote on engine target `id`, from its own health (none while unknown).
  void cluster_vote(size_t id);
  // Maps names to engine targets again after a load; withdraws votes on targets that went.
  void cluster_reindex();

  bool on_result(uint32_t id, const probe::Result& r);
  void schedule_targets();
  // One verdict line for target `id`; `at_ms` is the wall-clock time (ms) it reports.
  std::string line(size_t id, int64_t at_ms) const;
  // Streams the targets of `ip` (only `probe`'s when given) whose state differs from the last
  // one streamed.
  void stream(const core::IpAddress& ip, const std::string* probe);

  uv_loop_t* loop_;
  const Loaded& loaded_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  EventLog& log_;

  std::unique_ptr<probe::Scheduler> scheduler_;
  // Scheduler ids stay with a target across reloads, so its schedule and health carry over.
  std::map<pool::TargetKey, uint32_t> ids_;
  // Scheduler id -> engine target (kNoTarget: gone). Ids are dense: a vector, not a tree, on
  // the path of every result.
  static constexpr size_t kNoTarget = ~size_t{0};
  std::vector<size_t> target_index_;
  uint32_t next_id_ = 1;

  std::function<void()> ready_;
  std::vector<bool> first_result_;
  io::Timer ready_timer_;

  std::shared_ptr<const dns::Overlay> overlay_;  // the last one published
  io::Timer publish_timer_;
  std::vector<std::chrono::steady_clock::time_point> unpublished_;  // verdicts waiting
  std::vector<pool::Event> held_events_;  // emitted once their publish is out

  Followers followers_;
  // The state last streamed per target, so a verdict that several pools report (one event each)
  // is one line, and a snapshot taken meanwhile does not hide a change from older followers.
  std::map<pool::TargetKey, std::string> streamed_;

  uint64_t overlay_builds_ = 0;
  std::map<std::string, uint64_t> failovers_;     // by name
  std::map<uint32_t, TargetStats> target_stats_;  // by scheduler id
  std::vector<TargetStats*> stats_by_id_;         // the same entries (map nodes stay put)
  Histogram publish_lag_;
  std::map<std::string, uint64_t> local_errors_;
  Burst local_error_log_;

  std::unique_ptr<cluster::Board> board_;
  std::unique_ptr<cluster::Link> link_;
  std::map<std::string, size_t> cluster_targets_;  // "ADDRESS/PROBE" -> engine target
};

}  // namespace gslb::daemon
