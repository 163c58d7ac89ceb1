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

// `reply` runs once: at once for most commands, when the load ends for reload/check-config.
void run_command(Control& control, const std::vector<std::string>& args, std::function<void(Reply)> reply);
// Every command but reload/check-config, answered at once.
Reply run_command(Control& control, const std::vector<std::string>& args);

}  // namespace gslb::daemon
