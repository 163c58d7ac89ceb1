// NOTIFY (RFC 1996) to a zone's also_notify secondaries when a reload changes its serial. Lives
// on the control loop; sends over one UDP socket per address family and retries until each
// secondary answers or the tries run out.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "daemon/event_log.hpp"
#include "dns/zone.hpp"
#include "io/handle.hpp"

namespace gslb::daemon {

class Notifier {
 public:
  Notifier(uv_loop_t* loop, EventLog& log);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Tells each of `to` that `zone` now has its current serial; replaces any NOTIFY still
  // pending for the same zone and secondary (the newer serial is the one to fetch).
  void notify(const std::shared_ptr<const dns::Zone>& zone, const std::vector<core::Endpoint>& to);
  void stop();

 private:
  struct Pending {
    std::string zone;  // text, for the log
    uint32_t serial = 0;
    core::Endpoint to;
    std::string message;
    uint16_t id = 0;
    int tries = 0;
    uint64_t next_ms = 0;
  };
  void tick();
  void readable(int fd);
  int socket_for(const core::Endpoint& to);

  uv_loop_t* loop_;
  EventLog& log_;
  io::Timer timer_;
  std::vector<Pending> pending_;
  int fd4_ = -1, fd6_ = -1;
  uv_poll_t* poll4_ = nullptr;
  uv_poll_t* poll6_ = nullptr;
  uint16_t next_id_;
};

}  // namespace gslb::daemon
