// A small HTTP client that routes every call through gslb::route, the way a sidecar would:
// prefer the backend in its own zone, retry a failed call on another backend at once, eject a
// backend that keeps failing, and print where each request went.
//
//   route_http_client --client local/zone-a
//       --endpoint 127.0.0.1:8001@local/zone-a --endpoint 127.0.0.1:8002@local/zone-b
//       [--config route.toml --cluster NAME] [--requests 20] [--interval-ms 100]
//       [--gslbd-socket /run/gslbd/control.sock [--gslbd-probe NAME]] [--no-outlier]
//
// Output, one line per attempt (stdout, flushed):
//   request 3 attempt 1 endpoint 127.0.0.1:8001 locality local/zone-a result connect-failed
//   request 3 attempt 2 endpoint 127.0.0.1:8002 locality local/zone-b result 200
//
// With --gslbd-socket, the client also follows gslbd's verdicts for its endpoints' addresses
// (gslb-route-follow): when gslbd sees a gateway die, the client stops picking it before any
// request of its own fails there. Those lines:
//   gslbd: connected | gslbd: synced | gslbd: disconnected (why)
//   gslbd: 127.0.0.2 unhealthy (connect refused) endpoints 1
// --no-outlier turns the client's own outlier detection off, so only gslbd's verdicts move it.
#include <curl/curl.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <gslb/follow.hpp>
#include <gslb/route.hpp>
#include <memory>
#include <string>
#include <thread>

namespace route = gslb::route;
namespace follow = gslb::follow;

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

// Prints ejections and returns so the operator sees why traffic moved.
class StderrListener final : public route::Listener {
 public:
  void on_event(const route::Event& e) override {
    std::string who = e.endpoint ? e.endpoint->name() : fmt::format("priority {}", e.priority);
    if (e.kind == route::EventKind::kEjected) {
      fmt::print(stderr, "event: {} {} ({}) for {} ms\n", to_string(e.kind), who, to_string(e.reason),
                 std::chrono::duration_cast<std::chrono::milliseconds>(e.ejection_time).count());
    } else {
      fmt::print(stderr, "event: {} {}\n", to_string(e.kind), who);
    }
  }
};

// gslbd's verdicts as they reach the cluster (on the follower's thread; a line is one write).
void print_notice(const follow::Notice& n) {
  switch (n.kind) {
    case follow::Notice::Kind::kHealth:
      fmt::print("gslbd: {} {} ({}) endpoints {}\n", n.address,
                 n.health == route::Health::kHealthy ? "healthy" : "unhealthy", n.text, n.endpoints);
      break;
    case follow::Notice::Kind::kDisconnected:
    case follow::Notice::Kind::kBadLine:
      fmt::print("gslbd: {} ({})\n", to_string(n.kind), n.text);
      break;
    default:
      fmt::print("gslbd: {}\n", to_string(n.kind));
  }
  std::fflush(stdout);
}

// One HTTP GET; the outcome as the router wants it, plus a word for the log.
route::Outcome get(CURL* curl, const route::Endpoint& ep, std::string* label) {
  std::string url = fmt::format("http://{}:{}/", ep.address(), ep.port());
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 500L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  auto start = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(curl);
  auto latency = std::chrono::steady_clock::now() - start;
  switch (rc) {
    case CURLE_OK: {
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      *label = std::to_string(status);
      return route::Outcome::http(static_cast<int>(status), latency);
    }
    case CURLE_COULDNT_CONNECT:
      *label = "connect-failed";
      return route::Outcome::local(route::LocalFailure::kConnectFailed, latency);
    case CURLE_OPERATION_TIMEDOUT:
      *label = "timeout";
      return route::Outcome::local(route::LocalFailure::kTimeout, latency);
    default:
      *label = fmt::format("reset({})", curl_easy_strerror(rc));
      return route::Outcome::local(route::LocalFailure::kReset, latency);
  }
}

bool add_endpoint(std::string_view arg, route::ClusterConfig& config) {
  // host:port@region/zone
  size_t at = arg.find('@');
  std::string_view hostport = arg.substr(0, at);
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) return false;
  route::EndpointSpec spec;
  spec.address = std::string(hostport.substr(0, colon));
  spec.port = static_cast<uint16_t>(std::stoi(std::string(hostport.substr(colon + 1))));
  if (at != std::string_view::npos) spec.locality = route::Locality::parse(arg.substr(at + 1));
  config.endpoints.push_back(std::move(spec));
  return true;
}

int usage() {
  std::fputs("usage: route_http_client --client REGION/ZONE --endpoint HOST:PORT@REGION/ZONE ... "
             "[--config FILE --cluster NAME] [--requests N] [--interval-ms MS] "
             "[--gslbd-socket PATH [--gslbd-probe NAME]] [--no-outlier]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  route::ClusterConfig config;
  config.name = "backend";
  // Defaults for the demo: three failures in a row eject a backend for 30 s; at most half of
  // the backends may be out, so with two one of them always stays.
  config.outlier.consecutive_5xx = 3;
  config.outlier.max_ejection_percent = 50;
  config.retry.attempts = 2;
  std::string client_locality, config_file, cluster_name, gslbd_socket, gslbd_probe;
  std::vector<std::string> endpoint_args;
  int requests = 10, interval_ms = 100;
  bool no_outlier = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--no-outlier") {
      no_outlier = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--client") client_locality = v;
    else if (a == "--endpoint") endpoint_args.push_back(v);
    else if (a == "--config") config_file = v;
    else if (a == "--cluster") cluster_name = v;
    else if (a == "--requests") requests = std::stoi(v);
    else if (a == "--interval-ms") interval_ms = std::stoi(v);
    else if (a == "--gslbd-socket") gslbd_socket = v;
    else if (a == "--gslbd-probe") gslbd_probe = v;
    else return usage();
  }
  if (!config_file.empty()) {
    auto loaded = route::load_config(config_file);
    if (!loaded) {
      std::fputs(loaded.error_text().c_str(), stderr);
      return 1;
    }
    const route::ClusterConfig* found = loaded->find(cluster_name);
    if (found == nullptr) {
      fmt::print(stderr, "{}: no cluster \"{}\"\n", config_file, cluster_name);
      return 1;
    }
    config = *found;
  }
  for (const auto& e : endpoint_args) {
    if (!add_endpoint(e, config)) return usage();
  }
  if (client_locality.empty() || config.endpoints.empty()) return usage();
  if (no_outlier) config.outlier.enabled = false;

  StderrListener listener;
  route::ClusterOptions options;
  options.listener = &listener;
  auto made = route::Cluster::create(config, options);
  if (!made) {
    std::fputs(made.error_text().c_str(), stderr);
    return 1;
  }
  route::Cluster& cluster = *made.value();
  const route::Client client{route::Locality::parse(client_locality)};
  // Declared after the cluster, so it stops before the cluster goes.
  std::unique_ptr<follow::Follower> follower;
  if (!gslbd_socket.empty()) {
    follow::FollowOptions fo;
    fo.socket_path = gslbd_socket;
    fo.probe = gslbd_probe;
    fo.max_backoff = std::chrono::seconds(2);
    fo.on_notice = print_notice;
    follower = std::make_unique<follow::Follower>(cluster, std::move(fo));
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CurlPtr curl(curl_easy_init());
  int failed_requests = 0;
  for (int n = 1; n <= requests; ++n) {
    route::RetryState retry(cluster.config().retry, cluster.random(), &cluster.circuit_breaker());
    for (int attempt = 1;; ++attempt) {
      route::Pick pick = cluster.pick(client, retry.pick_options());
      if (!pick) {
        fmt::print("request {} attempt {} endpoint - locality - result {}\n", n, attempt, to_string(pick.error()));
        ++failed_requests;
        break;
      }
      retry.attempted(pick.endpoint_ptr());
      std::string label;
      route::Outcome outcome = get(curl.get(), pick.endpoint(), &label);
      fmt::print("request {} attempt {} endpoint {} locality {} result {}\n", n, attempt, pick.endpoint().name(),
                 pick.endpoint().locality().to_string(), label);
      std::fflush(stdout);
      cluster.report(pick, outcome);
      auto decision = retry.on_outcome(outcome);
      if (decision.retry()) {
        std::this_thread::sleep_for(decision.backoff);
        continue;
      }
      if (decision.verdict != route::RetryVerdict::kSuccess) ++failed_requests;
      break;
    }
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  curl.reset();
  curl_global_cleanup();
  return failed_requests == 0 ? 0 : 1;
}
