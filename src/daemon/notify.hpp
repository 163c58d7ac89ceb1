// NOTIFY (RFC 1996) to a zone's also_notify secondaries when a reload changes its serial. Lives
// on the control loop; sends over one UDP socket per address family and retries until each
// secondary answers or the tries run out. A NOTIFY to an entry that names a TSIG key is signed
// with it (RFC 8945), and only a reply signed with the same key counts as its answer.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "daemon/event_log.hpp"
#include "dns/tsig.hpp"
#include "dns/zone.hpp"
#include "io/handle.hpp"

namespace gslb::daemon {

// One also_notify entry: where the NOTIFY goes and the key it is signed with, if any.
struct NotifyTarget {
  core::Endpoint to;
  std::optional<dns::TsigKey> key;
};

class Notifier {
 public:
  Notifier(uv_loop_t* loop, EventLog& log);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Tells each of `to` that `zone` now has its current serial; replaces any NOTIFY still
  // pending for the same zone and secondary (the newer serial is the one to fetch).
  void notify(const std::shared_ptr<const dns::Zone>& zone, const std::vector<NotifyTarget>& to);
  void stop();

 private:
  struct Pending {
    std::string zone;  // text, for the log
    uint32_t serial = 0;
    core::Endpoint to;
    std::string message;
    std::optional<dns::TsigKey> key;  // the NOTIFY is signed with it; so must the reply be
    std::string mac;                  // the NOTIFY's MAC, which the reply's covers
    uint16_t id = 0;
    int tries = 0;
    uint64_t next_ms = 0;
  };
  void tick();
  void readable(int fd);
  // Whether `reply` (to `p`, from its secondary) ends the NOTIFY: answered, and signed as it
  // must be. Logs the outcome either way.
  bool answered(const Pending& p, std::span<const uint8_t> reply);
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
