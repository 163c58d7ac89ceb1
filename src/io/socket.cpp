#include "io/socket.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace gslb::io {

namespace {

core::Result<int> bound_socket(const core::Endpoint& ep, int type) {
  const int family = ep.address.is_v4() ? AF_INET : AF_INET6;
  Fd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  auto fail = [&](const char* what) {
    return core::Error{{}, 0, 0, fmt::format("{} {}: {}: {}", type == SOCK_DGRAM ? "udp" : "tcp",
                                             ep.to_string(), what, std::strerror(errno))};
  };
  if (fd.get() < 0) return fail("socket");
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return fail("setsockopt");
  if (family == AF_INET6 &&
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    return fail("IPV6_V6ONLY");
  if (type == SOCK_DGRAM) {
    // Headroom for bursts: a full queue drops queries before we ever see them.
    int size = 4 << 20;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  sockaddr_storage ss;
  socklen_t len = ep.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
  return fd.release();
}

}  // namespace

core::Result<int> udp_socket(const core::Endpoint& ep) { return bound_socket(ep, SOCK_DGRAM); }

core::Result<int> tcp_listener(const core::Endpoint& ep, int backlog) {
  auto fd = bound_socket(ep, SOCK_STREAM);
  if (!fd) return fd;
  if (::listen(*fd, backlog) != 0) {
    int err = errno;
    ::close(*fd);
    return core::Error{{}, 0, 0, fmt::format("tcp {}: listen: {}", ep.to_string(), std::strerror(err))};
  }
  return fd;
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gslb::io
