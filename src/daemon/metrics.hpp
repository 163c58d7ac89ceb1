// Prometheus text exposition at /metrics over HTTP, on the control loop. Requests are parsed
// with http-parser (Debian's libhttp-parser); the page is rendered per scrape from the workers'
// counters and the control loop's state.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/address.hpp"
#include "core/result.hpp"
#include "daemon/control.hpp"
#include "daemon/dns_server.hpp"

namespace gslb::daemon {

class MetricsServer {
 public:
  MetricsServer(uv_loop_t* loop, Control& control, std::vector<std::unique_ptr<Worker>>& workers)
      : loop_(loop), control_(control), workers_(workers) {}
  ~MetricsServer() { close(); }

  core::Result<bool> listen(const core::Endpoint& ep);
  void close();

  // The exposition text (also used by tests).
  std::string render() const;

 private:
  uv_loop_t* loop_;
  Control& control_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  uv_tcp_t* server_ = nullptr;

 public:
  std::unordered_set<void*> conns_;  // open scrapes, closed with the server
};

}  // namespace gslb::daemon
