// Listening sockets for the DNS workers. Each worker binds its own socket to every listen
// address with SO_REUSEPORT, so the kernel spreads queries across workers with no shared queue.
#pragma once

#include "core/address.hpp"
#include "core/result.hpp"

namespace gslb::io {

// A non-blocking UDP socket bound to `ep`; an IPv6 one is v6-only.
core::Result<int> udp_socket(const core::Endpoint& ep);
// A non-blocking TCP socket bound to `ep` and listening.
core::Result<int> tcp_listener(const core::Endpoint& ep, int backlog = 1024);

// A scoped file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const noexcept { return fd_; }
  int release() noexcept {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

}  // namespace gslb::io
