// gslbctl's commands: the words typed after `gslbctl` (tab-separated on the control socket),
// parsed and run against the control loop. The streams (events/verdicts --follow) are the
// connection's business and stay in ctl_server.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/control.hpp"

namespace gslb::daemon {

struct Reply {
  int status = 0;  // gslbctl's exit status
  std::string body;
};

// `reply` runs once: at once for most commands, when the load ends for reload/check-config,
// and after the last slice for status (built over several loop turns).
// `user` is who asked (the control socket's peer), kept with a drain.
void run_command(Control& control, const std::vector<std::string>& args, const std::string& user,
                 std::function<void(Reply)> reply);

}  // namespace gslb::daemon
