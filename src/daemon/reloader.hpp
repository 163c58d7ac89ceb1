// Reloads without stopping the loop: the files are read, checked and compiled on a loader
// thread while the control loop goes on probing, publishing and answering gslbctl; the result
// comes back by uv_async and is handed to `apply` on the loop. One load runs at a time.
// Requests that arrive during it are coalesced into one more load, started when it ends (the
// files may have changed since it began); each caller hears the outcome of the load that
// started after its request.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "daemon/event_log.hpp"
#include "daemon/server.hpp"
#include "io/handle.hpp"

namespace gslb::daemon {

class Reloader {
 public:
  // Errors of a load; "note: ..." entries are not errors.
  using Done = std::function<void(const core::Errors&)>;
  // Swaps a good configuration in; returns notes for the caller (restart-needed keys).
  using Apply = std::function<core::Errors(Loaded)>;
  // What the loader thread may take from the running configuration: the zones and table it can
  // reuse when their files did not change, and the limits new targets must fit beside.
  struct Running {
    Reuse reuse;
    config::Config limits;
  };
  // Progress and failures are event lines in `log`.
  Reloader(uv_loop_t* loop, std::string config_path, EventLog& log, std::function<Running()> running,
           Apply apply);
  ~Reloader() { stop(); }

  // apply = true: reload (the new configuration is swapped in when it is good); false: only
  // check it. `done` runs on the loop with the errors (empty on success).
  void request(bool apply, Done done);
  // Abandons a load in progress (it is told to stop, and waited for up to kLoaderGrace).
  void stop();
  bool busy() const noexcept { return running_ != nullptr; }

 private:
  // One load on the loader thread. Shared with that thread, which touches nothing else (it
  // works on copies), so a thread abandoned at stop cannot reach a destroyed Reloader.
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
  void start_load();
  void on_loaded();

  uv_loop_t* loop_;
  std::string config_path_;
  EventLog& log_;
  std::function<Running()> running_config_;
  Apply apply_;
  std::unique_ptr<Job> running_, queued_;
  std::shared_ptr<LoadState> state_;
  std::thread loader_;
  io::Async loaded_async_;
};

}  // namespace gslb::daemon
