// gslbd: the health-checking authoritative DNS server. This file only wires the pieces:
// arguments, loading, sockets, workers, signals.
#include <malloc.h>
#include <uv.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "daemon/control.hpp"
#include "io/handle.hpp"
#include "daemon/ctl_server.hpp"
#include "daemon/metrics.hpp"
#include "daemon/system.hpp"
#include "daemon/dns_server.hpp"
#include "daemon/server.hpp"
#include "io/socket.hpp"

#ifndef GSLBD_VERSION
#define GSLBD_VERSION "unknown"
#endif

namespace {

using namespace gslb;

constexpr const char* kUsage = R"(usage: gslbd [--config FILE] [--check-config] [--log stderr|syslog|both]
       gslbd --version | --help

Serves the zones that FILE (TOML) lists. Without --config, serves the built-in example
(zone example.test. on 127.0.0.1:5353 and [::1]:5353).

  --config FILE     the configuration file
  --check-config    load and check everything, print every error, exit 1 on any
  --log TARGET      where messages go (default: [log] targets of the config)
  --version         print the version
  --help            this text
)";

void print_errors(const core::Errors& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
}

int run(int argc, char** argv) {
  std::string config_path;
  bool check = false;
  std::optional<core::LogTargets> log_override;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--log" && i + 1 < argc) {
      std::string t = argv[++i];
      if (t != "stderr" && t != "syslog" && t != "both") {
        std::fprintf(stderr, "gslbd: --log takes stderr, syslog or both\n");
        return 2;
      }
      log_override = core::LogTargets{t != "syslog", t != "stderr"};
    } else if (a == "--version") {
      std::printf("gslbd %s\n", GSLBD_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "gslbd: unknown argument %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }

  core::Errors errors;
  // Serving (not --check-config): go on from the serials served before the last stop.
  daemon::LoadOptions load_options;
  load_options.resume_serials = !check;
  auto loaded = daemon::load(config_path, errors, load_options);
  if (!loaded) {
    print_errors(errors);
    std::fprintf(stderr, "gslbd: %zu error%s\n", errors.size(), errors.size() == 1 ? "" : "s");
    return 1;
  }
  // Before any socket: every listener, connection and check must fit the descriptor limit, or
  // at 1,024 idle scrapes the probes could not open a socket and healthy gateways would go down.
  auto fds = daemon::check_descriptors(loaded->config, loaded->engine->targets().size());
  if (!fds) {
    std::fprintf(stderr, "%s\n", fds.error().to_string().c_str());
    return 1;
  }
  if (check) {
    std::printf("%s: ok (%zu zones)\n", loaded->config.path.c_str(), loaded->zones.size());
    return 0;
  }
#ifdef __GLIBC__
  malloc_trim(0);  // the loader's scratch (a record list as large as the zone) is freed by now
#endif
  core::log_setup(log_override.value_or(core::LogTargets{loaded->config.log.stderr_,
                                                         loaded->config.log.syslog}),
                  "gslbd");

  const auto server = loaded->config.server;
  auto identity = daemon::lookup_identity(server.user, server.group);
  if (!identity) {
    core::log(core::Level::err, identity.error().to_string());
    return 1;
  }
  const unsigned nworkers = daemon::worker_count(server);
  daemon::WorkerOptions wopt;
  wopt.handler.edns_size = server.edns_size;
  wopt.handler.ecs = server.ecs;
  wopt.tcp_idle_timeout = server.tcp_idle_timeout;
  wopt.tcp_frame_timeout = server.tcp_frame_timeout;
  wopt.tcp_max_connections = server.tcp_max_connections;
  wopt.tcp_max_output = server.tcp_max_output;
  if (server.tcp_max_connections_per_source != 0)
    wopt.sources = std::make_shared<daemon::SourceLimit>(server.tcp_max_connections_per_source);
  wopt.guard.rrl = loaded->config.rrl;
  wopt.guard.cookies = loaded->config.cookies;
  // One master for every thread: a cookie issued by one validates on all of them.
  wopt.guard.cookies.master = dns::random_key();
  std::vector<std::unique_ptr<daemon::Worker>> workers;
  for (unsigned i = 0; i < nworkers; ++i) {
    std::vector<int> udp, tcp;
    for (const auto& ep : server.listen) {
      auto u = io::udp_socket(ep);
      auto t = io::tcp_listener(ep);
      if (!u || !t) {
        core::log(core::Level::err, (u ? t.error() : u.error()).to_string());
        return 1;
      }
      udp.push_back(*u);
      tcp.push_back(*t);
    }
    workers.push_back(std::make_unique<daemon::Worker>(wopt, udp, tcp, daemon::Snapshot{}));
  }

  uv_loop_t* loop = uv_default_loop();
  const auto control_cfg = loaded->config.control;
  const auto metrics_cfg = loaded->config.metrics;
  daemon::Control control(loop, config_path, std::move(*loaded), workers);
  // A follower's queue bound: 256 KiB is ~2,000 event lines, minutes of a failover storm.
  daemon::CtlServer ctl(loop, control, {control_cfg.max_connections, control_cfg.idle_timeout, 256 * 1024});
  if (!control_cfg.socket.empty()) {
    auto ok = ctl.listen(control_cfg.socket, identity->uid, identity->gid);
    if (!ok)
      core::logf(core::Level::warning, "event=control-unavailable {} (gslbctl cannot reach this gslbd)",
                 ok.error().to_string());
  }
  daemon::MetricsServer metrics(loop, control, workers,
                                {metrics_cfg.max_connections, metrics_cfg.idle_timeout, 256 * 1024},
                                metrics_cfg.max_connections_per_source);
  if (metrics_cfg.listen) {
    auto ok = metrics.listen(*metrics_cfg.listen);
    if (!ok) {
      core::log(core::Level::err, ok.error().to_string());
      return 1;
    }
  }
  // Everything that needs root is bound: from here on, the configured user.
  if (auto dropped = daemon::drop_privileges(*identity); !dropped) {
    core::log(core::Level::err, dropped.error().to_string());
    return 1;
  }

  // The first snapshot reaches each worker before it takes a query; systemd hears READY once
  // the first checks are in (or the longest timeout passed), so no name starts on a guess.
  control.start([] { daemon::notify_systemd("READY=1"); });
  for (auto& w : workers) w->start();
  std::string where;
  for (const auto& ep : server.listen) where += (where.empty() ? "" : ",") + ep.to_string();
  core::logf(core::Level::notice,
             "event=started version={} zones={} names={} targets={} listen={} workers={}",
             GSLBD_VERSION, control.loaded().zones.size(), control.loaded().config.gtm.names.size(),
             control.loaded().engine->targets().size(), where, nworkers);

  auto stop = [loop](int signum) {
    return [loop, signum] {
      core::logf(core::Level::notice, "event=stopping signal={}", strsignal(signum));
      daemon::notify_systemd("STOPPING=1");
      uv_stop(loop);
    };
  };
  io::Signal sigterm(loop, SIGTERM, stop(SIGTERM)), sigint(loop, SIGINT, stop(SIGINT));
  io::Signal sighup(loop, SIGHUP, [&control] {
    // The load runs on its own thread; the loop goes on probing and answering meanwhile.
    daemon::notify_systemd("RELOADING=1");
    control.reload([](const core::Errors&) { daemon::notify_systemd("READY=1"); });
  });
  uv_run(loop, UV_RUN_DEFAULT);
  // SIGTERM: workers stop accepting, answer what is queued, then close; the checks stop.
  for (auto& w : workers) w->stop();
  control.stop();
  ctl.close();
  metrics.close();
  for (auto* h : {&sigterm, &sigint, &sighup}) h->close();
  uv_run(loop, UV_RUN_DEFAULT);
  workers.clear();
  uv_loop_close(loop);
  core::log(core::Level::notice, "event=stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gslbd: %s\n", e.what());
    return 1;
  }
}
