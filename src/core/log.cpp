#include "core/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <string>

namespace gslb::core {

namespace {
LogTargets g_targets;
}  // namespace

void log_setup(const LogTargets& targets, const char* ident) {
  g_targets = targets;
  if (targets.syslog) openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log(Level level, std::string_view message) {
  if (g_targets.syslog)
    syslog(int(level), "%.*s", int(message.size()), message.data());
  if (g_targets.stderr_) {
    std::string line(message);
    line.push_back('\n');
    // One write(2) per line, so lines from several threads never interleave.
    [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
  }
}

}  // namespace gslb::core
