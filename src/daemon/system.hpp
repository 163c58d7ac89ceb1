// The few things gslbd asks of the operating system besides sockets: systemd's readiness
// protocol and dropping root after binding.
#pragma once

#include <string>

#include "core/result.hpp"

namespace gslb::daemon {

// sd_notify(3)'s protocol: one datagram to $NOTIFY_SOCKET ("READY=1", "STOPPING=1",
// "RELOADING=1"). Does nothing when systemd did not start us.
void notify_systemd(const std::string& state);

struct Identity {
  int uid = -1, gid = -1;  // -1: keep
};
// Looks up `user` and `group` (either may be empty).
core::Result<Identity> lookup_identity(const std::string& user, const std::string& group);
// When running as root: setgroups/setgid/setuid to `id`. Irreversible.
core::Result<bool> drop_privileges(const Identity& id);

}  // namespace gslb::daemon
