// The control loop (main thread) as one object: what is serving (`Loaded`), the verdict
// pipeline that keeps its answers current (verdicts.hpp), reloads (reloader.hpp) and drains
// (drains.hpp), and the event log they all write to. Everything here runs on one libuv loop;
// gslbctl's commands (commands.hpp) and the metrics endpoint read it from there.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "daemon/client.hpp"
#include "daemon/dns_server.hpp"
#include "daemon/drains.hpp"
#include "daemon/event_log.hpp"
#include "daemon/notify.hpp"
#include "daemon/reloader.hpp"
#include "daemon/server.hpp"
#include "daemon/verdicts.hpp"
#include "io/handle.hpp"

namespace gslb::daemon {

class Control {
 public:
  Control(uv_loop_t* loop, std::string config_path, Loaded loaded,
          std::vector<std::unique_ptr<Worker>>& workers);
  ~Control();

  // Restores drains, publishes the first snapshot, and starts the checks. `ready` runs once
  // when every target has had its first result or the longest probe timeout has passed.
  void start(std::function<void()> ready);
  // Re-reads everything on a loader thread (see Reloader); a bad configuration is logged and
  // the old one keeps serving. `done` then runs on the loop with the errors (empty on success;
  // "note: ..." entries are not errors).
  using Done = Reloader::Done;
  void reload(Done done = {}) { reloader_.request(true, std::move(done)); }
  // Loads and checks everything the same way, without applying it.
  void check_config(Done done) { reloader_.request(false, std::move(done)); }
  const Reloader::Mark& last_reload() const noexcept { return reloader_.last(); }
  // Stops the checks and timers and abandons a load in progress; the loop can then run dry.
  void stop();

  const Loaded& loaded() const noexcept { return loaded_; }
  // How many configurations have been applied: changes when loaded() is replaced.
  uint64_t loads() const noexcept { return loads_; }
  uv_loop_t* loop() const noexcept { return loop_; }
  const std::string& config_path() const noexcept { return config_path_; }
  Verdicts& verdicts() noexcept { return verdicts_; }
  const Verdicts& verdicts() const noexcept { return verdicts_; }
  EventLog& events() noexcept { return log_; }

  // Drains ADDRESS, or every address of POOL (on = false: undrains), for `lasting` or until
  // undrained, and saves the drains to control.state_file. In cluster mode the drain is also
  // written under the deployment's prefix, so every node takes the address out.
  struct DrainFor {
    std::chrono::milliseconds duration;
    std::string as_typed;  // shown in the event ("for=10m")
  };
  struct Drained {
    size_t addresses = 0;
    std::optional<std::string> unsaved;  // why the state file could not be written
  };
  // `by` and `reason` are kept with a drain (and in its event and the state file).
  core::Result<Drained> drain(const std::string& what, bool on, const std::optional<DrainFor>& lasting,
                              const std::string& by = {}, const std::string& reason = {});
  const DrainBook& drains() const noexcept { return drains_; }

  // The control socket's and the metrics endpoint's connection counters (their servers count).
  ListenerStats control_stats, metrics_stats;

 private:
  core::Errors apply(Loaded next);
  void apply_drains();
  // Writes the drains to control.state_file; returns why it could not (nothing on success).
  std::optional<std::string> save_drains();
  // Writes the serials served beside it (served_serials_path), when they changed, so that a
  // restart goes on from them.
  void save_serials();
  std::string saved_serials_;  // what was last written
  void arm_drain_timer();
  void expire_drains();
  // Signed zones are signed again (by a reload) `refresh` before their first RRSIG expires;
  // a re-signing that fails is tried again a minute later.
  void arm_resign_timer();
  void resign();
  // Cluster mode: the deployment's drains (address -> end, 0 = none) as etcd holds them.
  // Applies what differs from this node's book.
  void sync_drains(const std::map<std::string, int64_t>& remote);

  uv_loop_t* loop_;
  std::string config_path_;
  Loaded loaded_;
  uint64_t loads_ = 1;
  EventLog log_{1000};  // the last 1000 event lines, and `gslbctl events --follow`
  Verdicts verdicts_;
  Reloader reloader_;
  DrainBook drains_;
  io::Timer drain_timer_;
  io::Timer trim_timer_;  // returns freed memory after a reload
  io::Timer resign_timer_;
  std::string resign_zone_;   // the zone the resign timer is armed for, for its event
  bool resign_retry_ = false;  // the timer's next run re-arms it (after a failed re-signing)
  Notifier notifier_;     // NOTIFY to also_notify when a reload changes a zone's serial
};

}  // namespace gslb::daemon
