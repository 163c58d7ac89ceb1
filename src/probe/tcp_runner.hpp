// TCP and plain-HTTP checks on a libuv loop. A TCP check passes when the three-way handshake
// completes within spec.timeout; nothing is sent, and the connection is closed at once. An HTTP
// check then sends the spec's request and reads the response only as far as its verdict needs
// (http_exchange.hpp), all within spec.timeout.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <unordered_map>

#include <uv.h>

#include "core/address.hpp"
#include "core/result.hpp"
#include "probe/runner.hpp"

namespace gslb::probe {

// Owned by the Scheduler, lives on its loop; not thread-safe. Each check owns a uv_tcp_t and a
// uv_timer_t on the heap, freed in their close callbacks, so destroying the runner never
// frees memory libuv still points at; the loop must run after close() to finish those.
class TcpRunner {
 public:
  explicit TcpRunner(uv_loop_t* loop) : loop_(loop) {}
  ~TcpRunner() { close(); }
  TcpRunner(const TcpRunner&) = delete;
  TcpRunner& operator=(const TcpRunner&) = delete;

  // Starts connecting to address:spec.port. `done` runs later on the loop, never inside start().
  core::Result<CheckId> start(const core::IpAddress& address, const Spec& spec, Done done);
  // Checks of targets in this address's family leave from it (bound before connecting).
  void set_source(std::optional<core::IpAddress> source) { source_ = source; }
  // Stops a check without calling its `done`. Unknown ids (already finished) are ignored.
  void cancel(CheckId id);
  // Cancels every check.
  void close();
  size_t in_flight() const noexcept { return checks_.size(); }

 private:
  struct Check;
  struct Http;
  static void on_connect(uv_connect_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void on_close(uv_handle_t* handle);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf);
  // Detaches `c` from the runner and closes its handles; it is freed once both have closed.
  void release(Check* c);
  void finish(Check* c, Result result);

  uv_loop_t* loop_;
  std::optional<core::IpAddress> source_;
  CheckId next_id_ = 1;
  std::array<char, 16 * 1024> read_buf_;
  std::unordered_map<CheckId, Check*> checks_;
};

}  // namespace gslb::probe
