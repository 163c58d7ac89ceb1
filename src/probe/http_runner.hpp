// HTTP and HTTPS checks with libcurl's multi interface driven by a libuv loop (io::CurlMulti:
// curl says which sockets to watch and when to call it back; readiness goes back through
// curl_multi_socket_action). Nothing here blocks: addresses are
// literal IPs, so curl never resolves a name.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <unordered_map>

#include "core/address.hpp"
#include "core/result.hpp"
#include "io/curl_multi.hpp"
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
  // Hands a finished transfer to its check's `done`.
  void finished(CURL* easy, CURLcode code);

  uv_loop_t* loop_;
  std::optional<core::IpAddress> source_;
  io::CurlMulti multi_;
  CheckId next_id_ = 1;
  std::unordered_map<CheckId, std::unique_ptr<Check>> checks_;
};

}  // namespace gslb::probe
