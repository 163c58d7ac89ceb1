// Prometheus text exposition at /metrics over HTTP, on the control loop. HTTP is Debian's
// libmicrohttpd, driven from the loop (its epoll descriptor under a uv_poll, no thread of its
// own), so the page is rendered where the control loop's state lives. Connections are accepted
// here, so that the caps hold before MHD sees them: at most max_connections scrapes at once and
// max_connections_per_source from one address, counted and logged like the control socket's.
// Each must send its request (4 KiB at most) within idle_timeout of connecting, however it
// trickles, and read the page within idle_timeout after.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/address.hpp"
#include "core/result.hpp"
#include "daemon/client.hpp"
#include "daemon/control.hpp"
#include "daemon/dns_server.hpp"

struct MHD_Daemon;

namespace gslb::daemon {

class MetricsServer {
 public:
  MetricsServer(uv_loop_t* loop, Control& control, std::vector<std::unique_ptr<Worker>>& workers,
                const ClientLimits& limits, unsigned per_source_cap);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  core::Result<bool> listen(const core::Endpoint& ep);
  // Closes the listener and every scrape in progress.
  void close();

  // The exposition text (also used by tests).
  std::string render() const;

  uv_loop_t* loop() const noexcept { return loop_; }
  ListenerStats& stats() noexcept { return control_.metrics_stats; }

  // One scrape's connection, from accept to MHD's close (defined in metrics.cpp).
  struct Scrape;

 private:
  static void on_connection(uv_stream_t* server, int status);
  void admit(uv_stream_t* server);
  // Lets MHD do what is due, then sets the timer for its next deadline.
  void run();
  void forget(Scrape* s);

  uv_loop_t* loop_;
  Control& control_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  uv_tcp_t* server_ = nullptr;
  MHD_Daemon* mhd_ = nullptr;
  uv_poll_t* mhd_poll_ = nullptr;    // on MHD's epoll descriptor
  uv_timer_t* mhd_timer_ = nullptr;  // MHD's own next deadline
  const ClientLimits limits_;
  const unsigned per_source_cap_;
  std::unordered_map<int, std::unique_ptr<Scrape>> scrapes_;  // by descriptor, MHD's
  std::unordered_map<std::string, unsigned> per_source_;      // peer address bytes -> open scrapes
  Burst refusals_;
};

}  // namespace gslb::daemon
