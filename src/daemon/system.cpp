#include "daemon/system.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace gslb::daemon {

void return_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

void notify_systemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof sa.sun_path) return;
  std::memcpy(sa.sun_path, path, len);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';  // an abstract socket
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa),
           socklen_t(offsetof(sockaddr_un, sun_path) + len));
  ::close(fd);
}

core::Result<Identity> lookup_identity(const std::string& user, const std::string& group) {
  Identity id;
  if (!user.empty()) {
    const passwd* pw = ::getpwnam(user.c_str());
    if (!pw) return core::Error{{}, 0, 0, fmt::format("server.user: no user named {}", user)};
    id.uid = int(pw->pw_uid);
    id.gid = int(pw->pw_gid);
  }
  if (!group.empty()) {
    const struct group* gr = ::getgrnam(group.c_str());
    if (!gr) return core::Error{{}, 0, 0, fmt::format("server.group: no group named {}", group)};
    id.gid = int(gr->gr_gid);
  }
  // The config refuses the names "root"; this catches other names for 0 (a user whose
  // primary group is 0, an alias such as "toor").
  if (id.uid == 0)
    return core::Error{{}, 0, 0, fmt::format("server.user: {} is uid 0: dropping to it keeps root", user)};
  if (id.gid == 0)
    return core::Error{{}, 0, 0, fmt::format("server.{}: {} is gid 0 (root): gslbd would keep group root after the drop; "
                                            "set server.group to the service's own group",
                                            group.empty() ? "user" : "group", group.empty() ? user + "'s primary group" : group)};
  return id;
}

core::Result<bool> drop_privileges(const Identity& id) {
  if (::geteuid() != 0 || (id.uid < 0 && id.gid < 0)) return false;
  auto fail = [](const char* what) {
    return core::Error{{}, 0, 0, fmt::format("dropping privileges: {}: {}", what, std::strerror(errno))};
  };
  if (id.gid >= 0) {
    const gid_t g = gid_t(id.gid);
    if (::setgroups(1, &g) != 0) return fail("setgroups");
    if (::setgid(g) != 0) return fail("setgid");
  }
  if (id.uid >= 0 && ::setuid(uid_t(id.uid)) != 0) return fail("setuid");
  if (id.uid > 0 && ::setuid(0) == 0) return core::Error{{}, 0, 0, "dropping privileges: root could be regained"};
  return true;
}

unsigned worker_count(const config::Server& server) {
  return server.workers ? server.workers : std::max(1u, std::thread::hardware_concurrency());
}

namespace {

// Descriptors gslbd holds besides connections and checks: the config, zone and probe files
// while loading, syslog, stdio, the control loop's epoll, signal and async fds, curl's
// multi socketpair. 64 leaves room for all of them with margin.
constexpr uint64_t kReserve = 64;
// A worker's loop: epoll, the async eventfd, and the signal pipe libuv may open.
constexpr uint64_t kPerWorkerLoop = 4;

}  // namespace

DescriptorBudget descriptor_budget(const config::Config& cfg, size_t probe_targets) {
  DescriptorBudget b;
  b.workers = worker_count(cfg.server);
  b.dns_tcp = uint64_t(b.workers) * cfg.server.tcp_max_connections;
  b.listeners = uint64_t(b.workers) * (2 * cfg.server.listen.size() + kPerWorkerLoop);
  b.control = cfg.control.socket.empty() ? 0 : cfg.control.max_connections + 1;
  b.metrics = cfg.metrics.listen ? cfg.metrics.max_connections + 1 : 0;
  // No target has two checks in flight (the plan never overlaps them), so one per target is a
  // ceiling; max_checks_in_flight lowers it, and the scheduler holds to that.
  b.probes = cfg.server.max_checks_in_flight ? std::min<uint64_t>(probe_targets, cfg.server.max_checks_in_flight)
                                             : probe_targets;
  b.reserve = kReserve;
  return b;
}

core::Result<unsigned> check_descriptors(const config::Config& cfg, size_t probe_targets) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return core::Error{{}, 0, 0, fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno))};
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  // select() is never used, so nothing stops at FD_SETSIZE; an unlimited hard limit is taken
  // as "plenty" rather than a number that would overflow the sums below.
  const uint64_t limit = lim.rlim_cur == RLIM_INFINITY ? uint64_t(1) << 31 : uint64_t(lim.rlim_cur);
  const DescriptorBudget b = descriptor_budget(cfg, probe_targets);
  if (b.total() <= limit) return unsigned(std::min<uint64_t>(limit, ~0u));
  // Name the biggest consumer: with the defaults that is DNS TCP (1024 per worker), and
  // lowering it is the usual fix; the others can only be lowered by their own keys.
  const uint64_t others = b.total() - b.dns_tcp;
  std::string fix;
  if (others < limit && b.dns_tcp >= b.control && b.dns_tcp >= b.metrics && (limit - others) / b.workers >= 1)
    fix = fmt::format("lower server.tcp_max_connections to at most {}", (limit - others) / b.workers);
  else if (b.control >= b.metrics && b.control > b.probes)
    fix = "lower control.max_connections";
  else if (b.metrics > b.probes)
    fix = "lower metrics.max_connections";
  else
    fix = fmt::format("lower server.max_checks_in_flight to at most {}, or split the probe targets over more "
                      "gslbd instances", limit > b.total() - b.probes ? limit - (b.total() - b.probes) : 0);
  return core::Error{cfg.path, 0, 0, fmt::format(
      "file descriptors: the configuration can hold {} open at once but RLIMIT_NOFILE is {} "
      "(soft, raised to the hard limit): DNS TCP {} (server.workers {} x server.tcp_max_connections {}), "
      "DNS sockets and loops {}, control socket {} (control.max_connections {} + 1), "
      "metrics {} (metrics.max_connections {} + 1), probes {} ({}), reserve {}; "
      "{}, or raise the limit (LimitNOFILE= in the systemd unit, ulimit -n)",
      b.total(), limit, b.dns_tcp, b.workers, cfg.server.tcp_max_connections, b.listeners,
      b.control, cfg.control.max_connections, b.metrics, cfg.metrics.max_connections, b.probes,
      cfg.server.max_checks_in_flight ? "server.max_checks_in_flight" : "one per target", b.reserve, fix)};
}

}  // namespace gslb::daemon
