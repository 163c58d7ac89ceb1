#include "daemon/metrics.hpp"

#include <fmt/format.h>
#include <http_parser.h>

#include <chrono>

#include "daemon/report.hpp"
#include "dns/wire.hpp"

namespace gslb::daemon {

namespace {

constexpr size_t kMaxRequest = 8192;

struct HttpConn {
  uv_tcp_t tcp{};
  http_parser parser{};
  MetricsServer* server = nullptr;
  std::string url;
  bool done = false;
  bool closing = false;

  void close() {
    if (closing) return;
    closing = true;
    server->conns_.erase(this);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
             [](uv_handle_t* h) { delete static_cast<HttpConn*>(h->data); });
  }
};

struct WriteReq {
  uv_write_t req{};
  std::string data;
  HttpConn* conn;
};

void respond(HttpConn* c, int code, const char* reason, const std::string& type, std::string body) {
  // HEAD gets the headers a GET would, without the body (RFC 9110 §9.3.2).
  const bool head = c->parser.method == HTTP_HEAD;
  auto* w = new WriteReq{{}, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                         "Connection: close\r\n\r\n{}",
                                         code, reason, type, body.size(), head ? "" : body),
                         c};
  uv_buf_t b = uv_buf_init(w->data.data(), unsigned(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, [](uv_write_t* req, int) {
        auto* wr = reinterpret_cast<WriteReq*>(req);
        wr->conn->close();
        delete wr;
      }) != 0) {
    delete w;
    c->close();
  }
}

const http_parser_settings& settings() {
  static const http_parser_settings s = [] {
    http_parser_settings st{};
    http_parser_settings_init(&st);
    st.on_url = [](http_parser* p, const char* at, size_t len) {
      auto* c = static_cast<HttpConn*>(p->data);
      c->url.append(at, len);
      return c->url.size() > kMaxRequest ? 1 : 0;
    };
    st.on_message_complete = [](http_parser* p) {
      auto* c = static_cast<HttpConn*>(p->data);
      c->done = true;
      const bool get = p->method == HTTP_GET || p->method == HTTP_HEAD;
      const std::string path = c->url.substr(0, c->url.find('?'));
      if (!get)
        respond(c, 405, "Method Not Allowed", "text/plain", "only GET\n");
      else if (path != "/metrics")
        respond(c, 404, "Not Found", "text/plain", "try /metrics\n");
      else
        respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", c->server->render());
      return 1;  // one request per connection
    };
    return st;
  }();
  return s;
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

std::string label(std::string_view s) { return json_string(s); }  // same escaping rules

}  // namespace

core::Result<bool> MetricsServer::listen(const core::Endpoint& ep) {
  server_ = new uv_tcp_t;
  uv_tcp_init(loop_, server_);
  server_->data = this;
  sockaddr_storage ss;
  ep.to_sockaddr(ss);
  int rc = uv_tcp_bind(server_, reinterpret_cast<sockaddr*>(&ss), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 64, [](uv_stream_t* s, int status) {
      if (status < 0) return;
      auto* self = static_cast<MetricsServer*>(s->data);
      auto* c = new HttpConn;
      c->server = self;
      self->conns_.insert(c);
      uv_tcp_init(self->loop_, &c->tcp);
      c->tcp.data = c;
      http_parser_init(&c->parser, HTTP_REQUEST);
      c->parser.data = c;
      if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
        c->close();
        return;
      }
      uv_read_start(
          reinterpret_cast<uv_stream_t*>(&c->tcp),
          [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
            buf->base = new char[suggested];
            buf->len = suggested;
          },
          [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
            auto* conn = static_cast<HttpConn*>(st->data);
            if (n > 0 && !conn->done) {
              size_t used = http_parser_execute(&conn->parser, &settings(), buf->base, size_t(n));
              if (!conn->done && (used != size_t(n) || conn->parser.http_errno != HPE_OK))
                respond(conn, 400, "Bad Request", "text/plain", "bad request\n");
              if (conn->done) uv_read_stop(st);
            } else if (n < 0) {
              conn->close();
            }
            delete[] buf->base;
          });
    });
  if (rc != 0) {
    close();
    return core::Error{{}, 0, 0, fmt::format("metrics.listen {}: {}", ep.to_string(), uv_strerror(rc))};
  }
  return true;
}

void MetricsServer::close() {
  for (void* c : std::vector<void*>(conns_.begin(), conns_.end())) static_cast<HttpConn*>(c)->close();
  if (!server_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(server_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  server_ = nullptr;
}

std::string MetricsServer::render() const {
  uint64_t udp = 0, tcp = 0, trunc = 0, dropped = 0, rcode[16] = {}, qtype[kQtypeBuckets] = {};
  uint64_t rrl_dropped = 0, rrl_slipped = 0, rrl_log_only = 0, cookies[dns::kCookieResults] = {};
  for (const auto& w : workers_)
    for (const WorkerStats* sp : w->stats()) {
    const WorkerStats& s = *sp;
    udp += s.udp_queries.load(std::memory_order_relaxed);
    tcp += s.tcp_queries.load(std::memory_order_relaxed);
    trunc += s.truncated.load(std::memory_order_relaxed);
    dropped += s.dropped.load(std::memory_order_relaxed);
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
  o += fmt::format("gslbd_answer_compilations_total {}\n", control_.overlay_builds());

  const pool::Engine& e = *control_.loaded().engine;
  const auto& cfg = e.config();
  family("gslbd_address_up", "gauge", "1 if the address is usable in answers (healthy, not drained).");
  for (size_t p = 0; p < cfg.pools.size(); ++p)
    for (const auto& a : cfg.pools[p].addresses)
      for (size_t t = 0; t < e.targets().size(); ++t)
        if (e.targets()[t].ip == a.ip && e.targets()[t].probe == cfg.pools[p].probe)
          o += fmt::format("gslbd_address_up{{pool={},address={},probe={}}} {}\n", label(cfg.pools[p].name),
                           label(a.ip.to_string()), label(cfg.pools[p].probe),
                           e.target(t).usable(control_.loaded().config.unknown_is_up) ? 1 : 0);
  family("gslbd_probe_latency_seconds", "histogram", "Health-check latency by address.");
  for (const auto& [key, h] : control_.latencies()) {
    std::string lbl = fmt::format("address={},probe={}", label(key.ip.to_string()), label(key.probe));
    uint64_t cum = 0;
    for (size_t b = 0; b < Control::kLatencyBounds.size(); ++b) {
      cum += h.buckets[b];
      o += fmt::format("gslbd_probe_latency_seconds_bucket{{{},le=\"{}\"}} {}\n", lbl, Control::kLatencyBounds[b], cum);
    }
    o += fmt::format("gslbd_probe_latency_seconds_bucket{{{},le=\"+Inf\"}} {}\n", lbl, h.count);
    o += fmt::format("gslbd_probe_latency_seconds_sum{{{}}} {:.6f}\ngslbd_probe_latency_seconds_count{{{}}} {}\n", lbl, h.sum, lbl, h.count);
  }
  family("gslbd_probe_results_total", "counter", "Health-check results by address and reason (\"ok\" for passes).");
  for (const auto& [k, n] : control_.results())
    o += fmt::format("gslbd_probe_results_total{{address={},probe={},result={}}} {}\n",
                     label(k.first.ip.to_string()), label(k.first.probe), label(k.second), n);
  family("gslbd_failovers_total", "counter", "Failovers (and all-down events) per dynamic name.");
  for (const auto& n : cfg.names) {
    auto it = control_.failovers().find(n.fqdn);
    o += fmt::format("gslbd_failovers_total{{name={}}} {}\n", label(n.fqdn), it == control_.failovers().end() ? 0 : it->second);
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
