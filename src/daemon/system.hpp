// The few things gslbd asks of the operating system besides sockets: systemd's readiness
// protocol, dropping root after binding, and enough file descriptors for what the
// configuration can hold open at once.
#pragma once

#include <string>

#include "config/config.hpp"
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

// Gives freed heap back to the kernel. A reload frees a whole configuration (and the loader
// thread's scratch) at once, but glibc keeps freed pages in its arenas: without this the RSS
// after a reload of a 1M-record zone stayed at the reload's peak.
void return_free_memory();

// DNS worker threads the config asks for (server.workers, 0 = one per core).
unsigned worker_count(const config::Server& server);

// The most descriptors the configuration can hold open at once, by consumer, so an error can
// name the key to lower. Every figure is a ceiling, not an estimate.
struct DescriptorBudget {
  unsigned workers = 0;
  uint64_t dns_tcp = 0;    // workers x server.tcp_max_connections
  uint64_t listeners = 0;  // per worker: a UDP and a TCP socket per address, its loop's own fds
  uint64_t control = 0;    // control.max_connections + the listening socket
  uint64_t metrics = 0;    // metrics.max_connections + the listening socket
  uint64_t probes = 0;     // one check in flight per target
  uint64_t reserve = 0;    // zone and probe files, logs, curl and libuv internals
  uint64_t total() const noexcept { return dns_tcp + listeners + control + metrics + probes + reserve; }
};
DescriptorBudget descriptor_budget(const config::Config& cfg, size_t probe_targets);

// Raises RLIMIT_NOFILE's soft limit to its hard limit (no privilege needed), then checks the
// budget fits under it. Returns the soft limit, or an error naming every figure and the key to
// lower. `probe_targets` is the number of (address, probe) pairs: each has at most one check
// in flight.
core::Result<unsigned> check_descriptors(const config::Config& cfg, size_t probe_targets);

}  // namespace gslb::daemon
