// gslbctl's Unix socket, on the control loop. The protocol is one request line (arguments
// separated by tabs) and a reply whose first line is the exit status; `events --follow` keeps
// the connection open and streams each new event line.
#pragma once

#include <uv.h>

#include <string>
#include <unordered_set>

#include "core/result.hpp"
#include "daemon/control.hpp"

namespace gslb::daemon {

class CtlServer {
 public:
  CtlServer(uv_loop_t* loop, Control& control) : loop_(loop), control_(control) {}
  ~CtlServer() { close(); }

  // Creates the socket at `path` (its directory too, if missing), mode 0660, owned by
  // `uid`/`gid` when they are not -1. Replaces a stale socket left by a dead gslbd.
  core::Result<bool> listen(const std::string& path, int uid, int gid);
  void close();

 private:
  uv_loop_t* loop_;
  Control& control_;
  uv_pipe_t* server_ = nullptr;
  std::string path_;

 public:
  // Open client connections (closed with the server, so a stop never waits on an idle client).
  std::unordered_set<void*> conns_;
};

}  // namespace gslb::daemon
