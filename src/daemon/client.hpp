// What the control socket and the metrics endpoint share against hostile or broken clients:
// a cap on connections (over it, accept and close at once so the listen backlog never fills),
// a deadline a trickle of bytes cannot push back, bounded input and output per connection,
// and a rate limit on the log lines a flood causes. Everything here runs on the control loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/duration.hpp"

namespace gslb::daemon {

// Counters for /metrics, one set per listener. Owned by Control, which outlives both servers.
struct ListenerStats {
  uint64_t accepted = 0;
  uint64_t refused = 0;     // over max_connections (or the per-source cap): closed at accept
  uint64_t timed_out = 0;   // the request (or the reading of the reply) overran idle_timeout
  uint64_t too_large = 0;   // a request over the input bound
  uint64_t overflowed = 0;  // a client that stopped reading while output piled up
  uint64_t followers_dropped = 0;  // control only: `events`/`verdicts --follow` clients among `overflowed`
};

// The bounds of one listener's connections.
struct ClientLimits {
  unsigned max_connections = 16;
  core::Duration idle_timeout = std::chrono::seconds(10);
  size_t max_output = 256 * 1024;  // bytes of a stream queued and not yet taken by the client
};

// Rate limit for the log lines of a flood: the first event is logged at once, later ones are
// only counted until `every_ms` has passed, then the next is logged with the count, so a burst
// of 10,000 refused connections costs one line per 10 s instead of 10,000.
class Burst {
 public:
  explicit Burst(uint64_t every_ms = 10'000) : every_ms_(every_ms) {}
  // Returns how many events the line about this one should report (itself and the ones kept
  // quiet since the last line), or 0 when no line is due.
  uint64_t hit(uint64_t now_ms) {
    ++pending_;
    if (logged_ && now_ms - last_ms_ < every_ms_) return 0;
    logged_ = true;
    last_ms_ = now_ms;
    return std::exchange(pending_, 0);
  }

 private:
  uint64_t every_ms_;
  uint64_t last_ms_ = 0;
  bool logged_ = false;
  uint64_t pending_ = 0;
};

class Client;

// Accepts the pending connection on `server` (a TCP or pipe listener) and closes it at once:
// for a listener at its cap. A client then sees EOF instead of hanging in the backlog, and the
// backlog stays free. Counts it in `stats` and logs `event=connection-refused` at most once
// per burst (`open` is how many connections the listener holds now).
void refuse(uv_stream_t* server, const char* listener, const char* reason, size_t open,
            ListenerStats& stats, Burst& burst);
// Counts and logs a refusal whose connection the caller closes itself.
void count_refusal(uv_loop_t* loop, const char* listener, const char* reason, size_t open,
                   ListenerStats& stats, Burst& burst);
// The same for a connection already accepted into `client` (the per-source cap can only be
// checked once the peer's address is known).
void refuse(Client* client, const char* listener, const char* reason, size_t open,
            ListenerStats& stats, Burst& burst);

// One client connection: its stream (a TCP socket or a Unix pipe), a deadline timer, the writes
// in flight. Heap-owned; deletes itself once both handles have closed. Subclasses get the bytes
// read and decide what a request is; the deadline, input and output bounds are enforced here.
class Client {
 public:
  Client(uv_loop_t* loop, bool tcp, const ClientLimits& limits, ListenerStats& stats);
  virtual ~Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&handle_); }
  // Accepts from `server` and starts reading, with the deadline running from now. On failure
  // the client is closed (and will delete itself); returns false.
  bool accept(uv_stream_t* server);
  // Queues `data`. With `then_close` (a final reply), the connection closes once everything is
  // written, and the client has idle_timeout to read it. Without (a stream), returns false and
  // closes the connection when the client leaves more than max_output unread.
  bool send(std::string data, bool then_close);
  // No deadline from now on (a follower, which the output bound governs instead).
  void disarm();
  // This stream may leave `bytes` more than max_output unread: a verdict follower's snapshot
  // must go out whole, whatever the number of targets, and a client that reads it is not slow.
  void allow_output(size_t bytes) noexcept { extra_output_ = bytes; }
  void close();
  bool closing() const noexcept { return closing_; }
  size_t queued() const noexcept;

 protected:
  // Bytes read; called until the connection closes. May call send() or close().
  virtual void received(const char* data, size_t n) = 0;
  // Once, when the connection starts closing (for the owner's bookkeeping).
  virtual void closed() {}
  // The output bound was passed; the connection closes right after.
  virtual void overflowed() {}

  ListenerStats& stats_;
  const ClientLimits limits_;

 private:
  static void on_close(uv_handle_t* h);
  void arm();

  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  uv_timer_t timer_{};
  int open_handles_ = 0;
  unsigned writes_ = 0;
  size_t extra_output_ = 0;
  bool close_after_writes_ = false;
  bool closing_ = false;
};

}  // namespace gslb::daemon
