#include "daemon/system.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gslb::daemon {

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

}  // namespace gslb::daemon
