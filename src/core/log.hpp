// One logging call for the whole daemon. Targets (stderr, syslog) are chosen at start-up by
// the daemon; libraries only call log(). Thread-safe: each call is one write.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace gslb::core {

// syslog(3) priorities, in the same order.
enum class Level { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

struct LogTargets {
  bool stderr_ = true;
  bool syslog = false;
};

// Set once before threads start. Opens syslog with facility daemon when asked.
void log_setup(const LogTargets& targets, const char* ident);
void log(Level level, std::string_view message);

template <class... Args>
void logf(Level level, fmt::format_string<Args...> f, Args&&... args) {
  log(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace gslb::core
