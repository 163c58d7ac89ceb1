#include "daemon/metrics.hpp"

#include <fmt/format.h>
#include <http_parser.h>

#include <netinet/in.h>

#include <chrono>

#include "daemon/report.hpp"
#include "dns/wire.hpp"

namespace gslb::daemon {

namespace {

// A scrape is a request line and a few headers, ~200 bytes from Prometheus; 4 KiB is plenty
// and keeps what one client can make us hold small.
constexpr size_t kMaxRequest = 4096;

// One scrape: a request, then the page and close.
class HttpConn final : public Client {
 public:
  HttpConn(MetricsServer& server, const ClientLimits& limits)
      : Client(server.loop(), true, limits, server.stats()), server_(server) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
  }

  MetricsServer& server_;
  std::string source;   // the peer's address bytes, for the per-source cap
  bool counted = false;  // in the server's per-source count
  http_parser parser{};
  std::string url;
  size_t seen = 0;
  bool done = false;

 private:
  void received(const char* data, size_t n) override;
  void closed() override { server_.forget(this, counted ? &source : nullptr); }
};

void respond(HttpConn* c, int code, const char* reason, const std::string& type, std::string body) {
  c->done = true;
  uv_read_stop(c->stream());
  // HEAD gets the headers a GET would, without the body (RFC 9110 §9.3.2).
  const bool head = c->parser.method == HTTP_HEAD;
  c->send(fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                      "Connection: close\r\n\r\n{}",
                      code, reason, type, body.size(), head ? "" : body),
          true);
}

const http_parser_settings& settings() {
  static const http_parser_settings s = [] {
    http_parser_settings st{};
    http_parser_settings_init(&st);
    st.on_url = [](http_parser* p, const char* at, size_t len) {
      static_cast<HttpConn*>(p->data)->url.append(at, len);
      return 0;
    };
    st.on_message_complete = [](http_parser* p) {
      auto* c = static_cast<HttpConn*>(p->data);
      const bool get = p->method == HTTP_GET || p->method == HTTP_HEAD;
      const std::string path = c->url.substr(0, c->url.find('?'));
      if (!get)
        respond(c, 405, "Method Not Allowed", "text/plain", "only GET\n");
      else if (path != "/metrics")
        respond(c, 404, "Not Found", "text/plain", "try /metrics\n");
      else
        respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", c->server_.render());
      return 1;  // one request per connection
    };
    return st;
  }();
  return s;
}

void HttpConn::received(const char* data, size_t n) {
  if (done) return;
  // Bound the request as a whole, not only the URL: a client must not make us parse (or
  // wait for) megabytes of headers.
  seen += n;
  if (seen > kMaxRequest) {
    ++stats_.too_large;
    respond(this, 400, "Bad Request", "text/plain", "request too large\n");
    return;
  }
  size_t used = http_parser_execute(&parser, &settings(), data, n);
  if (!done && (used != n || parser.http_errno != HPE_OK))
    respond(this, 400, "Bad Request", "text/plain", "bad request\n");
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

}  // namespace

core::Result<bool> MetricsServer::listen(const core::Endpoint& ep) {
  server_ = new uv_tcp_t;
  uv_tcp_init(loop_, server_);
  server_->data = this;
  sockaddr_storage ss;
  ep.to_sockaddr(ss);
  int rc = uv_tcp_bind(server_, reinterpret_cast<sockaddr*>(&ss), 0);
  if (rc == 0)
    // A deep backlog: connections over the cap are accepted and closed, never left waiting.
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 256, [](uv_stream_t* s, int status) {
      if (status < 0) return;
      auto* self = static_cast<MetricsServer*>(s->data);
      if (self->conns_.size() >= self->limits_.max_connections) {
        refuse(s, "metrics", "max_connections", self->conns_.size(), self->stats(), self->refusals_);
        return;
      }
      // The per-source cap needs the peer's address, so the connection is accepted first.
      auto* c = new HttpConn(*self, self->limits_);
      if (!c->accept(s)) return;
      sockaddr_storage peer{};
      int len = sizeof peer;
      std::string& source = c->source;
      if (uv_tcp_getpeername(reinterpret_cast<uv_tcp_t*>(c->stream()), reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
        if (peer.ss_family == AF_INET)
          source.assign(reinterpret_cast<const char*>(&reinterpret_cast<sockaddr_in*>(&peer)->sin_addr), 4);
        else if (peer.ss_family == AF_INET6)
          source.assign(reinterpret_cast<const char*>(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr), 16);
      }
      unsigned& from_source = self->per_source_[source];
      if (from_source >= self->per_source_cap_) {
        if (from_source == 0) self->per_source_.erase(source);
        refuse(c, "metrics", "max_connections_per_source", self->conns_.size(), self->stats(), self->refusals_);
        return;
      }
      ++from_source;
      c->counted = true;
      self->conns_.insert(c);
    });
  if (rc != 0) {
    close();
    return core::Error{{}, 0, 0, fmt::format("metrics.listen {}: {}", ep.to_string(), uv_strerror(rc))};
  }
  return true;
}

void MetricsServer::close() {
  for (Client* c : std::vector<Client*>(conns_.begin(), conns_.end())) c->close();
  if (!server_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(server_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  server_ = nullptr;
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
  for (const auto& [id, st] : control_.verdicts().target_stats()) {
    const auto& h = st.latency;
    std::string lbl = fmt::format("address={},probe={}", label(st.key.ip.to_string()), label(st.key.probe));
    uint64_t cum = 0;
    for (size_t b = 0; b < Verdicts::kLatencyBounds.size(); ++b) {
      cum += h.buckets[b];
      o += fmt::format("gslbd_probe_latency_seconds_bucket{{{},le=\"{}\"}} {}\n", lbl, Verdicts::kLatencyBounds[b], cum);
    }
    o += fmt::format("gslbd_probe_latency_seconds_bucket{{{},le=\"+Inf\"}} {}\n", lbl, h.count);
    o += fmt::format("gslbd_probe_latency_seconds_sum{{{}}} {:.6f}\ngslbd_probe_latency_seconds_count{{{}}} {}\n", lbl, h.sum, lbl, h.count);
  }
  family("gslbd_publish_lag_seconds", "histogram",
         "From a verdict that changed the answers to the publish that carried it to the workers.");
  {
    const auto& h = control_.verdicts().publish_lag();
    uint64_t cum = 0;
    for (size_t b = 0; b < Verdicts::kLatencyBounds.size(); ++b) {
      cum += h.buckets[b];
      o += fmt::format("gslbd_publish_lag_seconds_bucket{{le=\"{}\"}} {}\n", Verdicts::kLatencyBounds[b], cum);
    }
    o += fmt::format("gslbd_publish_lag_seconds_bucket{{le=\"+Inf\"}} {}\n", h.count);
    o += fmt::format("gslbd_publish_lag_seconds_sum {:.6f}\ngslbd_publish_lag_seconds_count {}\n", h.sum, h.count);
  }
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
  return o;
}

}  // namespace gslb::daemon
