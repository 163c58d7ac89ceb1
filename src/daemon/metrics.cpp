#include "daemon/metrics.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/resource.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <span>

#include "daemon/report.hpp"
#include "dns/wire.hpp"

namespace gslb::daemon {

struct MetricsServer::Scrape {
  MetricsServer* server = nullptr;
  int fd = -1;
  std::string source;        // the peer's address bytes, for the per-source cap
  uv_timer_t* timer = nullptr;  // idle_timeout to send the request, then to read the page
};

namespace {

// A scrape is a request line and a few headers, ~200 bytes from Prometheus. MHD keeps a
// connection's request, and the headers of its reply, in one pool of this size: a request
// that does not fit is answered 431 (RFC 6585 §5) and closed, and one client cannot make us
// hold more.
constexpr size_t kMaxRequest = 4096;

uint64_t to_ms(core::Duration d) {
  return uint64_t(std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(d).count()));
}

void arm(MetricsServer::Scrape* s, core::Duration d) {
  uv_timer_start(s->timer, [](uv_timer_t* t) {
    // Past its deadline, bytes or not: shut the socket down under MHD, which then sees the
    // connection end and closes it the usual way (the descriptor stays MHD's to close).
    auto* sc = static_cast<MetricsServer::Scrape*>(t->data);
    ::shutdown(sc->fd, SHUT_RDWR);
  }, to_ms(d), 0);
}

MHD_Result respond(MHD_Connection* conn, unsigned code, const char* type, const std::string& body) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  // HEAD gets the headers a GET would, without the body (RFC 9110 §9.3.2): MHD leaves it out.
  const MHD_Result ok = MHD_queue_response(conn, code, r);
  MHD_destroy_response(r);
  return ok;
}

const char* qtype_name(size_t i) {
  static const char* names[] = {"A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV",
                                "DS", "CAA", "AXFR", "ANY", "other"};
  return names[i];
}

const char* rcode_name(size_t r) {
  static const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  return r < 6 ? names[r] : nullptr;
}

// A label value as the Prometheus text format writes it: quoted, with backslash, double quote
// and line feed escaped, and nothing else (JSON's \u escapes would be read as literal text).
std::string label(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out + '"';
}


// One histogram's series: `buckets[i]` counts the values up to bounds[i] (not cumulative;
// values over the last bound are only in `count`).
template <typename Bound>
void histogram(std::string& o, std::string_view name, std::string_view labels,
               std::span<const Bound> bounds, std::span<const uint64_t> buckets, double sum,
               uint64_t count) {
  const std::string_view comma = labels.empty() ? "" : ",";
  uint64_t cum = 0;
  for (size_t b = 0; b < bounds.size(); ++b) {
    cum += buckets[b];
    o += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, comma, bounds[b], cum);
  }
  o += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, comma, count);
  const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  o += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, sum, name, braces, count);
}

// What the Prometheus client libraries export as process_* (and node tooling expects), read
// from /proc/self: CPU time, memory, descriptors and the start time.
void process_metrics(std::string& o) {
  auto family = [&o](const char* name, const char* type, const char* help, double v) {
    o += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
  };
  const double ticks = double(::sysconf(_SC_CLK_TCK));
  const double page = double(::sysconf(_SC_PAGESIZE));
  std::string stat;
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {
    char buf[1024];
    stat.assign(buf, std::fread(buf, 1, sizeof buf, f));
    std::fclose(f);
  }
  // After the command name (which may hold spaces), fields 3.. of proc(5), space-separated.
  std::vector<std::string_view> fields;
  if (auto paren = stat.rfind(')'); paren != std::string::npos) {
    std::string_view rest = std::string_view(stat).substr(paren + 2);
    while (!rest.empty()) {
      const size_t sp = rest.find(' ');
      fields.push_back(rest.substr(0, sp));
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
  }
  auto field = [&fields](size_t n) {  // proc(5) numbers the fields from 1; fields[0] is 3
    return n - 3 < fields.size() ? std::strtod(std::string(fields[n - 3]).c_str(), nullptr) : 0.0;
  };
  double boot = 0;
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "btime ", 6) == 0) boot = std::strtod(line + 6, nullptr);
    std::fclose(f);
  }
  size_t fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d)) fds += e->d_name[0] != '.';
    ::closedir(d);
    fds -= fds > 0;  // the directory's own descriptor
  }
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
         (field(14) + field(15)) / ticks);
  family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", field(24) * page);
  family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", field(23));
  family("process_open_fds", "gauge", "Open file descriptors.", double(fds));
  family("process_max_fds", "gauge", "The soft limit on open file descriptors.",
         nofile.rlim_cur == RLIM_INFINITY ? 0.0 : double(nofile.rlim_cur));
  family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
         boot + field(22) / ticks);
}

}  // namespace

core::Result<bool> MetricsServer::listen(const core::Endpoint& ep) {
  // MHD runs on this loop: no listening socket or thread of its own, its epoll descriptor
  // polled here. Its timeouts are off (ours are absolute, see arm()); the caps are ours too.
  mhd_ = MHD_start_daemon(
      MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, nullptr, nullptr,
      [](void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
         const char*, size_t*, void**) -> MHD_Result {
        auto* self = static_cast<MetricsServer*>(cls);
        const MHD_ConnectionInfo* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (auto* sc = info ? static_cast<Scrape*>(info->socket_context) : nullptr)
          arm(sc, self->limits_.idle_timeout);  // the request is in: now to read the page
        const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                         std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        if (!get) return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "only GET\n");
        // MHD gives the path without the query string.
        if (std::strcmp(url, "/metrics") != 0)
          return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain", "try /metrics\n");
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", self->render());
      },
      this,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kMaxRequest,
      MHD_OPTION_CONNECTION_LIMIT, unsigned(limits_.max_connections + 1),
      MHD_OPTION_CONNECTION_TIMEOUT, 0u,
      MHD_OPTION_NOTIFY_CONNECTION,
      +[](void* cls, MHD_Connection* conn, void** context, MHD_ConnectionNotificationCode code) {
        auto* self = static_cast<MetricsServer*>(cls);
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
          const MHD_ConnectionInfo* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
          auto it = info ? self->scrapes_.find(info->connect_fd) : self->scrapes_.end();
          if (it != self->scrapes_.end()) *context = it->second.get();
        } else if (*context) {
          self->forget(static_cast<Scrape*>(*context));
          *context = nullptr;
        }
      },
      this,
      MHD_OPTION_EXTERNAL_LOGGER,
      +[](void* cls, const char* format, va_list ap) {
        // MHD reports a request it refuses with this line and the status it sent; one over
        // the pool (413, 414, 431) is ours to count. The rest (a client gone mid-request) is
        // the ordinary life of a socket.
        static constexpr char kRefused[] = "Error processing request (HTTP response code is %u";
        if (std::strncmp(format, kRefused, sizeof kRefused - 1) != 0) return;
        va_list copy;
        va_copy(copy, ap);
        const unsigned status = va_arg(copy, unsigned);
        va_end(copy);
        if (status == 413 || status == 414 || status == 431)
          ++static_cast<MetricsServer*>(cls)->stats().too_large;
      },
      this,
      MHD_OPTION_END);
  if (!mhd_)
    return core::Error{{}, 0, 0, fmt::format("metrics.listen {}: libmicrohttpd would not start", ep.to_string())};
  const MHD_DaemonInfo* info = MHD_get_daemon_info(mhd_, MHD_DAEMON_INFO_EPOLL_FD);
  mhd_poll_ = new uv_poll_t;
  uv_poll_init(loop_, mhd_poll_, info->epoll_fd);
  mhd_poll_->data = this;
  uv_poll_start(mhd_poll_, UV_READABLE, [](uv_poll_t* p, int, int) { static_cast<MetricsServer*>(p->data)->run(); });
  mhd_timer_ = new uv_timer_t;
  uv_timer_init(loop_, mhd_timer_);
  mhd_timer_->data = this;

  server_ = new uv_tcp_t;
  uv_tcp_init(loop_, server_);
  server_->data = this;
  sockaddr_storage ss;
  ep.to_sockaddr(ss);
  int rc = uv_tcp_bind(server_, reinterpret_cast<sockaddr*>(&ss), 0);
  // A deep backlog: connections over the cap are accepted and closed, never left waiting.
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 256, on_connection);
  if (rc != 0) {
    close();
    return core::Error{{}, 0, 0, fmt::format("metrics.listen {}: {}", ep.to_string(), uv_strerror(rc))};
  }
  return true;
}

void MetricsServer::on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  static_cast<MetricsServer*>(server->data)->admit(server);
}

void MetricsServer::admit(uv_stream_t* server) {
  if (scrapes_.size() >= limits_.max_connections) {
    refuse(server, "metrics", "max_connections", scrapes_.size(), stats(), refusals_);
    return;
  }
  // libuv accepts; the per-source cap needs the peer's address, then MHD gets a descriptor of
  // its own (the handle's is closed with it).
  auto* h = new uv_tcp_t;
  uv_tcp_init(loop_, h);
  auto drop = [](uv_tcp_t* t) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* x) { delete reinterpret_cast<uv_tcp_t*>(x); });
  };
  uv_os_fd_t fd = -1;
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(h)) != 0 ||
      uv_fileno(reinterpret_cast<uv_handle_t*>(h), &fd) != 0 ||
      uv_tcp_getpeername(h, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    drop(h);
    return;
  }
  auto sc = std::make_unique<Scrape>();
  sc->server = this;
  if (peer.ss_family == AF_INET)
    sc->source.assign(reinterpret_cast<const char*>(&reinterpret_cast<sockaddr_in*>(&peer)->sin_addr), 4);
  else if (peer.ss_family == AF_INET6)
    sc->source.assign(reinterpret_cast<const char*>(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr), 16);
  auto it = per_source_.find(sc->source);
  if (it != per_source_.end() && it->second >= per_source_cap_) {
    drop(h);
    count_refusal(loop_, "metrics", "max_connections_per_source", scrapes_.size(), stats(), refusals_);
    return;
  }
  sc->fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  drop(h);
  if (sc->fd < 0) return;  // out of descriptors: the client sees the close
  ++stats().accepted;
  ++per_source_[sc->source];
  sc->timer = new uv_timer_t;
  uv_timer_init(loop_, sc->timer);
  sc->timer->data = sc.get();
  arm(sc.get(), limits_.idle_timeout);
  Scrape* raw = sc.get();
  scrapes_[raw->fd] = std::move(sc);
  // On failure MHD has closed the descriptor without a notification.
  if (MHD_add_connection(mhd_, raw->fd, reinterpret_cast<sockaddr*>(&peer), socklen_t(len)) != MHD_YES)
    forget(raw);
  run();
}

void MetricsServer::forget(Scrape* s) {
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(s->timer)) == 0) ++stats().timed_out;
  uv_close(reinterpret_cast<uv_handle_t*>(s->timer), [](uv_handle_t* t) { delete reinterpret_cast<uv_timer_t*>(t); });
  auto src = per_source_.find(s->source);
  if (src != per_source_.end() && --src->second == 0) per_source_.erase(src);
  auto it = scrapes_.find(s->fd);
  if (it != scrapes_.end() && it->second.get() == s) scrapes_.erase(it);
}

void MetricsServer::run() {
  if (!mhd_) return;
  MHD_run(mhd_);
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(mhd_, &ms) == MHD_YES)
    uv_timer_start(mhd_timer_, [](uv_timer_t* t) { static_cast<MetricsServer*>(t->data)->run(); }, ms, 0);
  else
    uv_timer_stop(mhd_timer_);
}

MetricsServer::MetricsServer(uv_loop_t* loop, Control& control,
                             std::vector<std::unique_ptr<Worker>>& workers,
                             const ClientLimits& limits, unsigned per_source_cap)
    : loop_(loop), control_(control), workers_(workers), limits_(limits),
      per_source_cap_(per_source_cap) {}

MetricsServer::~MetricsServer() { close(); }

void MetricsServer::close() {
  auto close_handle = [](auto*& h) {
    if (!h) return;
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<std::remove_reference_t<decltype(h)>>(x); });
    h = nullptr;
  };
  close_handle(server_);
  close_handle(mhd_poll_);  // before MHD closes the descriptor it polls
  close_handle(mhd_timer_);
  if (mhd_) MHD_stop_daemon(mhd_);  // closes every scrape, each through forget()
  mhd_ = nullptr;
  while (!scrapes_.empty()) forget(scrapes_.begin()->second.get());
}

std::string MetricsServer::render() const {
  uint64_t udp = 0, tcp = 0, trunc = 0, dropped = 0, rcode[16] = {}, qtype[kQtypeBuckets] = {};
  uint64_t tcp_refused = 0, tcp_evicted = 0, tcp_timed_out = 0;
  uint64_t rrl_dropped = 0, rrl_slipped = 0, rrl_log_only = 0, cookies[dns::kCookieResults] = {};
  for (const auto& w : workers_)
    for (const WorkerStats* sp : w->stats()) {
    const WorkerStats& s = *sp;
    udp += s.udp_queries.load(std::memory_order_relaxed);
    tcp += s.tcp_queries.load(std::memory_order_relaxed);
    trunc += s.truncated.load(std::memory_order_relaxed);
    dropped += s.dropped.load(std::memory_order_relaxed);
    tcp_refused += s.tcp_refused.load(std::memory_order_relaxed);
    tcp_evicted += s.tcp_evicted.load(std::memory_order_relaxed);
    tcp_timed_out += s.tcp_timed_out.load(std::memory_order_relaxed);
    for (size_t i = 0; i < 16; ++i) rcode[i] += s.rcode[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < kQtypeBuckets; ++i) qtype[i] += s.qtype[i].load(std::memory_order_relaxed);
    rrl_dropped += s.guard.rrl_dropped.load(std::memory_order_relaxed);
    rrl_slipped += s.guard.rrl_slipped.load(std::memory_order_relaxed);
    rrl_log_only += s.guard.rrl_log_only.load(std::memory_order_relaxed);
    for (size_t i = 0; i < dns::kCookieResults; ++i) cookies[i] += s.guard.cookies[i].load(std::memory_order_relaxed);
    }
  std::string o;
  auto family = [&o](const char* name, const char* type, const char* help) {
    o += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("gslbd_build_info", "gauge", "Always 1; the labels say which gslbd this is.");
  o += fmt::format("gslbd_build_info{{version={}}} 1\n", label(GSLBD_VERSION));
  family("gslbd_queries_total", "counter", "DNS queries received, by transport.");
  o += fmt::format("gslbd_queries_total{{transport=\"udp\"}} {}\ngslbd_queries_total{{transport=\"tcp\"}} {}\n", udp, tcp);
  family("gslbd_queries_by_qtype_total", "counter", "DNS queries by query type.");
  for (size_t i = 0; i < kQtypeBuckets; ++i)
    o += fmt::format("gslbd_queries_by_qtype_total{{qtype=\"{}\"}} {}\n", qtype_name(i), qtype[i]);
  family("gslbd_responses_total", "counter", "DNS responses sent, by RCODE.");
  for (size_t r = 0; r < 16; ++r)
    if (const char* n = rcode_name(r)) o += fmt::format("gslbd_responses_total{{rcode=\"{}\"}} {}\n", n, rcode[r]);
  family("gslbd_responses_truncated_total", "counter", "UDP responses sent with TC=1.");
  o += fmt::format("gslbd_responses_truncated_total {}\n", trunc);
  family("gslbd_queries_dropped_total", "counter", "Packets dropped without a response (malformed, QR=1, send failures).");
  o += fmt::format("gslbd_queries_dropped_total {}\n", dropped);
  family("gslbd_tcp_connections_closed_total", "counter",
         "DNS/TCP connections gslbd closed: refused over a cap, evicted to make room, timed out.");
  o += fmt::format("gslbd_tcp_connections_closed_total{{reason=\"refused\"}} {}\n"
                   "gslbd_tcp_connections_closed_total{{reason=\"evicted\"}} {}\n"
                   "gslbd_tcp_connections_closed_total{{reason=\"timeout\"}} {}\n",
                   tcp_refused, tcp_evicted, tcp_timed_out);
  family("gslbd_rrl_dropped_total", "counter", "UDP responses dropped by response rate limiting.");
  o += fmt::format("gslbd_rrl_dropped_total {}\n", rrl_dropped);
  family("gslbd_rrl_slipped_total", "counter", "Rate-limited UDP responses sent truncated (TC=1) instead (slip).");
  o += fmt::format("gslbd_rrl_slipped_total {}\n", rrl_slipped);
  family("gslbd_rrl_log_only_total", "counter", "Responses rate limiting would have dropped or slipped, sent in log_only mode.");
  o += fmt::format("gslbd_rrl_log_only_total {}\n", rrl_log_only);
  family("gslbd_cookies_total", "counter", "Queries with a DNS COOKIE option, by what it turned out to be.");
  for (size_t i = 0; i < dns::kCookieResults; ++i)
    o += fmt::format("gslbd_cookies_total{{result=\"{}\"}} {}\n", dns::cookie_result_name(i), cookies[i]);
  {
    std::array<uint64_t, kDurationBuckets> dur[2]{};
    std::array<uint64_t, kSizeBuckets> size[2]{};
    uint64_t dur_ns[2] = {}, bytes[2] = {};
    for (const auto& w : workers_)
      for (const WorkerStats* sp : w->stats())
        for (size_t t = 0; t < 2; ++t) {
          for (size_t b = 0; b < kDurationBuckets; ++b)
            dur[t][b] += sp->duration[t].bucket[b].load(std::memory_order_relaxed);
          for (size_t b = 0; b < kSizeBuckets; ++b)
            size[t][b] += sp->size[t].bucket[b].load(std::memory_order_relaxed);
          dur_ns[t] += sp->duration[t].sum.load(std::memory_order_relaxed);
          bytes[t] += sp->size[t].sum.load(std::memory_order_relaxed);
        }
    const char* transports[] = {"udp", "tcp"};
    family("gslbd_query_duration_seconds", "histogram",
           "Time to answer a query, from its bytes to the response's, by transport.");
    for (size_t t = 0; t < 2; ++t)
      histogram<double>(o, "gslbd_query_duration_seconds", fmt::format("transport=\"{}\"", transports[t]),
                        kDurationBounds, dur[t], double(dur_ns[t]) / 1e9,
                        std::accumulate(dur[t].begin(), dur[t].end(), uint64_t(0)));
    family("gslbd_response_size_bytes", "histogram", "Size of the DNS responses sent, by transport.");
    for (size_t t = 0; t < 2; ++t)
      histogram<uint32_t>(o, "gslbd_response_size_bytes", fmt::format("transport=\"{}\"", transports[t]),
                          kSizeBounds, size[t], double(bytes[t]),
                          std::accumulate(size[t].begin(), size[t].end(), uint64_t(0)));
  }
  family("gslbd_answer_compilations_total", "counter", "Dynamic answer sets compiled and published to the workers.");
  o += fmt::format("gslbd_answer_compilations_total {}\n", control_.verdicts().overlay_builds());

  family("gslbd_probe_local_errors_total", "counter",
         "Checks that failed on gslbd's side (no descriptor, no memory), by reason; health ignores them.");
  o += fmt::format("gslbd_probe_local_errors_total {}\n", [this] {
    uint64_t n = 0;
    for (const auto& [reason, count] : control_.verdicts().probe_local_errors()) n += count;
    return n;
  }());
  const std::pair<const char*, const ListenerStats*> listeners[] = {{"control", &control_.control_stats},
                                                                    {"metrics", &control_.metrics_stats}};
  family("gslbd_connections_total", "counter",
         "Control socket and metrics connections by outcome: accepted, refused (over a cap), "
         "timed_out, too_large (request over the bound), overflowed (stopped reading).");
  for (const auto& [name, st] : listeners)
    for (const auto& [outcome, n] : {std::pair{"accepted", st->accepted}, {"refused", st->refused},
                                     {"timed_out", st->timed_out}, {"too_large", st->too_large},
                                     {"overflowed", st->overflowed}})
      o += fmt::format("gslbd_connections_total{{listener=\"{}\",outcome=\"{}\"}} {}\n", name, outcome, n);
  family("gslbd_followers_dropped_total", "counter",
         "`gslbctl events --follow` clients dropped for leaving more than 256 KiB unread.");
  o += fmt::format("gslbd_followers_dropped_total {}\n", control_.control_stats.followers_dropped);

  const pool::Engine& e = *control_.loaded().engine;
  const auto& cfg = e.config();
  family("gslbd_address_up", "gauge", "1 if the address is usable in answers (healthy, not drained).");
  for (size_t p = 0; p < cfg.pools.size(); ++p)
    for (size_t a = 0; a < cfg.pools[p].addresses.size(); ++a)
      o += fmt::format("gslbd_address_up{{pool={},address={},probe={}}} {}\n", label(cfg.pools[p].name),
                       label(cfg.pools[p].addresses[a].ip.to_string()), label(cfg.pools[p].probe),
                       e.usable(e.target_of(p, a)) ? 1 : 0);
  family("gslbd_address_drained", "gauge",
         "1 while the address is drained by the operator (gslbctl drain): out of the answers "
         "whatever its checks say, unlike a dead one (gslbd_address_up 0, drained 0).");
  for (size_t p = 0; p < cfg.pools.size(); ++p)
    for (size_t a = 0; a < cfg.pools[p].addresses.size(); ++a)
      o += fmt::format("gslbd_address_drained{{pool={},address={},probe={}}} {}\n", label(cfg.pools[p].name),
                       label(cfg.pools[p].addresses[a].ip.to_string()), label(cfg.pools[p].probe),
                       e.target(e.target_of(p, a)).drained() ? 1 : 0);
  family("gslbd_probe_last_check_timestamp_seconds", "gauge",
         "When the last check result of the target came in, since the Unix epoch.");
  for (const auto& [id, st] : control_.verdicts().target_stats())
    o += fmt::format("gslbd_probe_last_check_timestamp_seconds{{address={},probe={}}} {:.3f}\n",
                     label(st.key.ip.to_string()), label(st.key.probe), st.last_check);
  if (const cluster::Link* link = control_.verdicts().cluster()) {
    const cluster::Board& b = link->board();
    family("gslbd_cluster_joined", "gauge", "1 while this node is joined to etcd, 0 while it decides alone.");
    o += fmt::format("gslbd_cluster_joined {}\n", link->joined() ? 1 : 0);
    family("gslbd_cluster_live_nodes", "gauge", "Nodes whose lease is live, this one included.");
    o += fmt::format("gslbd_cluster_live_nodes {}\n", b.live_nodes().size());
    family("gslbd_cluster_votes", "gauge", "Live nodes voting each way on a target.");
    for (const auto& key : e.targets()) {
      const cluster::Tally t = b.tally(cluster::target_name(key.ip.to_string(), key.probe));
      const std::string lbl = fmt::format("address={},probe={}", label(key.ip.to_string()), label(key.probe));
      o += fmt::format("gslbd_cluster_votes{{{},vote=\"down\"}} {}\n", lbl, t.down);
      o += fmt::format("gslbd_cluster_votes{{{},vote=\"up\"}} {}\n", lbl, t.voted - t.down);
    }
    family("gslbd_cluster_writes_total", "counter", "Keys this node wrote to etcd (its votes and its node key).");
    o += fmt::format("gslbd_cluster_writes_total {}\n", link->writes());
  }
  family("gslbd_probe_latency_seconds", "histogram", "Health-check latency by address.");
  for (const auto& [id, st] : control_.verdicts().target_stats())
    histogram<double>(o, "gslbd_probe_latency_seconds",
                      fmt::format("address={},probe={}", label(st.key.ip.to_string()), label(st.key.probe)),
                      Verdicts::kLatencyBounds, st.latency.buckets, st.latency.sum, st.latency.count);
  family("gslbd_publish_lag_seconds", "histogram",
         "From a verdict that changed the answers to the publish that carried it to the workers.");
  histogram<double>(o, "gslbd_publish_lag_seconds", "", Verdicts::kLatencyBounds,
                    control_.verdicts().publish_lag().buckets, control_.verdicts().publish_lag().sum, control_.verdicts().publish_lag().count);
  family("gslbd_probe_results_total", "counter", "Health-check results by address and reason (\"ok\" for passes).");
  for (const auto& [id, st] : control_.verdicts().target_stats())
    for (const auto& [reason, n] : st.results)
      o += fmt::format("gslbd_probe_results_total{{address={},probe={},result={}}} {}\n",
                       label(st.key.ip.to_string()), label(st.key.probe), label(reason), n);
  family("gslbd_failovers_total", "counter", "Failovers (and all-down events) per dynamic name.");
  for (const auto& n : cfg.names) {
    auto it = control_.verdicts().failovers().find(n.fqdn);
    o += fmt::format("gslbd_failovers_total{{name={}}} {}\n", label(n.fqdn), it == control_.verdicts().failovers().end() ? 0 : it->second);
  }
  family("gslbd_name_pool", "gauge", "1 for each pool a dynamic name answers from now.");
  for (size_t i = 0; i < cfg.names.size(); ++i)
    for (const auto& m : cfg.names[i].pools) {
      const auto& act = e.active(i);
      o += fmt::format("gslbd_name_pool{{name={},pool={}}} {}\n", label(cfg.names[i].fqdn), label(cfg.pools[m.pool].name),
                       std::find(act.begin(), act.end(), m.pool) != act.end() ? 1 : 0);
    }
  // Maps are shared by the names that use them: each once. The counts start over with a
  // reload that compiles a new map (Prometheus reads a reset counter as a restart).
  family("gslbd_map_answers_total", "counter",
         "Answers to mapped names by the map rule that chose them (\"default\": no rule matched).");
  std::vector<const geo::Map*> maps;
  for (const auto& n : cfg.names)
    if (n.map && std::find(maps.begin(), maps.end(), n.map.get()) == maps.end()) maps.push_back(n.map.get());
  for (const geo::Map* m : maps) {
    for (uint32_t r = 0; r < m->rule_count(); ++r)
      o += fmt::format("gslbd_map_answers_total{{map={},rule={}}} {}\n", label(m->config().name),
                       label(m->rule_text(r)), m->counted(r));
    o += fmt::format("gslbd_map_answers_total{{map={},rule=\"default\"}} {}\n", label(m->config().name),
                     m->counted(geo::Match::kDefault));
  }
  const auto& reload = control_.last_reload();
  family("gslbd_config_last_reload_successful", "gauge",
         "1 if the last reload (SIGHUP, gslbctl reload) was applied, 0 if it failed.");
  o += fmt::format("gslbd_config_last_reload_successful {}\n", reload.ok ? 1 : 0);
  family("gslbd_config_last_reload_timestamp_seconds", "gauge",
         "When the last reload ended (applied or not), since the Unix epoch; the start before any.");
  o += fmt::format("gslbd_config_last_reload_timestamp_seconds {:.3f}\n", reload.at);
  family("gslbd_config_last_reload_success_timestamp_seconds", "gauge",
         "When the configuration serving now was loaded, since the Unix epoch.");
  o += fmt::format("gslbd_config_last_reload_success_timestamp_seconds {:.3f}\n", reload.ok_at);
  family("gslbd_zone_serial", "gauge", "The SOA serial each zone serves.");
  for (const auto& z : control_.loaded().zones)
    o += fmt::format("gslbd_zone_serial{{zone={}}} {}\n", label(dns::name_to_text(z->apex)), z->serial());
  family("gslbd_zone_records", "gauge", "Static records in each zone.");
  for (const auto& z : control_.loaded().zones)
    o += fmt::format("gslbd_zone_records{{zone={}}} {}\n", label(dns::name_to_text(z->apex)), z->records());
  family("gslbd_zone_last_load_timestamp_seconds", "gauge",
         "When each zone's files were last read, since the Unix epoch (a reload keeps an unchanged zone).");
  for (const auto& z : control_.loaded().zones)
    o += fmt::format("gslbd_zone_last_load_timestamp_seconds{{zone={}}} {:.3f}\n",
                     label(dns::name_to_text(z->apex)), z->loaded_at);
  process_metrics(o);
  return o;
}

}  // namespace gslb::daemon
