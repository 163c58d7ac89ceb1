// HTTP and HTTPS checks with libcurl's multi interface driven by a libuv loop: curl tells us
// which sockets to watch (one uv_poll_t each) and when to call it back (one uv_timer_t), and we
// feed readiness back through curl_multi_socket_action. Nothing here blocks: addresses are
// literal IPs, so curl never resolves a name.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <unordered_map>

#include "core/address.hpp"
#include "core/result.hpp"
#include "probe/runner.hpp"

namespace gslb::probe {

// Owned by the Scheduler, lives on its loop; not thread-safe. The uv_poll_t and uv_timer_t
// handles are heap-owned and freed in their close callbacks, so the loop must run after
// close() (or the destructor) to free them.
class HttpRunner {
 public:
  explicit HttpRunner(uv_loop_t* loop);
  ~HttpRunner();
  HttpRunner(const HttpRunner&) = delete;
  HttpRunner& operator=(const HttpRunner&) = delete;

  // Starts a request to address:spec.port for spec.path with Host/SNI spec.host (the address
  // itself when empty). `done` runs later on the loop, never inside start().
  core::Result<CheckId> start(const core::IpAddress& address, const Spec& spec, Done done);
  // Checks of targets in this address's family leave from it (CURLOPT_INTERFACE).
  void set_source(std::optional<core::IpAddress> source) { source_ = source; }
  // Stops a check without calling its `done`. Unknown ids (already finished) are ignored.
  void cancel(CheckId id);
  // Cancels every check and releases curl and the handles.
  void close();
  size_t in_flight() const noexcept { return checks_.size(); }

 private:
  struct Check;
  struct MultiDeleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
  };

  static int on_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int on_curl_timer(CURLM* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* poll, int status, int events);
  static void on_uv_timer(uv_timer_t* timer);
  void socket_action(curl_socket_t s, int flags);
  // Hands every finished transfer to its `done`, one at a time, re-checking after each call
  // because `done` may cancel other checks or close the runner.
  void drain();
  void close_poll(uv_poll_t* poll);

  uv_loop_t* loop_;
  std::optional<core::IpAddress> source_;
  std::unique_ptr<CURLM, MultiDeleter> multi_;
  uv_timer_t* timer_ = nullptr;
  // Every live socket watcher with the events curl asked for: libuv stops a watcher when the
  // socket reports an error, and curl will not ask again for what it already asked for.
  std::unordered_map<uv_poll_t*, int> polls_;
  CheckId next_id_ = 1;
  std::unordered_map<CheckId, std::unique_ptr<Check>> checks_;
};

}  // namespace gslb::probe
