// gslbctl's Unix socket, on the control loop. The protocol is one request line (arguments
// separated by tabs) and a reply whose first line is the exit status; `events --follow` keeps
// the connection open and streams each new event line, `verdicts --follow` the targets' state
// (JSON lines, README "gslbctl"). At most `max_connections` clients at once; each must send its
// request within `idle_timeout` of connecting, and a follower that leaves more than 256 KiB
// unread (a verdict follower: 256 KiB beyond its first snapshot) is dropped.
#pragma once

#include <uv.h>

#include <string>
#include <unordered_set>

#include "core/result.hpp"
#include "daemon/client.hpp"
#include "daemon/control.hpp"

namespace gslb::daemon {

class CtlServer {
 public:
  CtlServer(uv_loop_t* loop, Control& control, const ClientLimits& limits)
      : loop_(loop), control_(control), limits_(limits) {}
  ~CtlServer() { close(); }

  // Creates the socket at `path` (its directory too, if missing), mode 0660, owned by
  // `uid`/`gid` when they are not -1. Replaces a stale socket left by a dead gslbd.
  core::Result<bool> listen(const std::string& path, int uid, int gid);
  // Closes the listener and every client, so a stop never waits on an idle client.
  void close();

  uv_loop_t* loop() const noexcept { return loop_; }
  ListenerStats& stats() noexcept { return control_.control_stats; }
  size_t connections() const noexcept { return conns_.size(); }
  // A client's connection closed.
  void forget(Client* c) { conns_.erase(c); }

 private:
  uv_loop_t* loop_;
  Control& control_;
  const ClientLimits limits_;
  uv_pipe_t* server_ = nullptr;
  std::string path_;
  std::unordered_set<Client*> conns_;
  Burst refusals_;
};

}  // namespace gslb::daemon
