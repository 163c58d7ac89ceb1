// Prometheus text exposition at /metrics over HTTP, on the control loop. Requests are parsed
// with http-parser (Debian's libhttp-parser); the page is rendered per scrape from the workers'
// counters and the control loop's state. At most max_connections scrapes at once, and
// max_connections_per_source from one address; each must send its request (4 KiB at most)
// within idle_timeout of connecting and read the page within idle_timeout after.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/address.hpp"
#include "core/result.hpp"
#include "daemon/client.hpp"
#include "daemon/control.hpp"
#include "daemon/dns_server.hpp"

namespace gslb::daemon {

class MetricsServer {
 public:
  MetricsServer(uv_loop_t* loop, Control& control, std::vector<std::unique_ptr<Worker>>& workers,
                const ClientLimits& limits, unsigned per_source_cap)
      : loop_(loop), control_(control), workers_(workers), limits_(limits),
        per_source_cap_(per_source_cap) {}
  ~MetricsServer() { close(); }

  core::Result<bool> listen(const core::Endpoint& ep);
  // Closes the listener and every scrape in progress.
  void close();

  // The exposition text (also used by tests).
  std::string render() const;

  uv_loop_t* loop() const noexcept { return loop_; }
  ListenerStats& stats() noexcept { return control_.metrics_stats; }
  // A scrape's connection closed; `source` is its peer's address when it was counted.
  void forget(Client* c, const std::string* source) {
    conns_.erase(c);
    if (source) {
      auto it = per_source_.find(*source);
      if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
    }
  }

 private:
  uv_loop_t* loop_;
  Control& control_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  uv_tcp_t* server_ = nullptr;
  const ClientLimits limits_;
  const unsigned per_source_cap_;
  std::unordered_set<Client*> conns_;                    // open scrapes
  std::unordered_map<std::string, unsigned> per_source_;  // peer address bytes -> open scrapes
  Burst refusals_;
};

}  // namespace gslb::daemon
