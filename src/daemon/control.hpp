// The control loop (main thread): runs the probe scheduler, feeds results to the pool engine,
// logs every event, and on each change compiles a new Overlay and hands it to every worker.
// Also reloads on SIGHUP. Everything here runs on one libuv loop; nothing blocks it.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/dns_server.hpp"
#include "daemon/server.hpp"
#include "probe/scheduler.hpp"

namespace gslb::daemon {

class Control {
 public:
  Control(uv_loop_t* loop, std::string config_path, Loaded loaded,
          std::vector<std::unique_ptr<Worker>>& workers);
  ~Control();

  // Publishes the first snapshot and starts the checks.
  void start();
  // Re-reads everything; a bad configuration is logged and the old one keeps serving.
  // Returns the errors (empty on success).
  core::Errors reload();
  // Stops the checks; the loop can then run dry.
  void stop();

  const Loaded& loaded() const noexcept { return loaded_; }

 private:
  bool on_result(uint32_t id, const probe::Result& r);
  void publish();
  void schedule_targets();

  uv_loop_t* loop_;
  std::string config_path_;
  Loaded loaded_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  std::unique_ptr<probe::Scheduler> scheduler_;
  // Scheduler ids stay with a target across reloads, so its schedule and health carry over.
  std::map<pool::TargetKey, uint32_t> ids_;
  std::map<uint32_t, size_t> target_index_;  // scheduler id -> engine target
  uint32_t next_id_ = 1;
};

}  // namespace gslb::daemon
