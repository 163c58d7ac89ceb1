#include "probe/http_runner.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace gslb::probe {

namespace {

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// OpenSSL's words, from curl's error buffer, reduced to the few an operator acts on.
std::string tls_reason(std::string_view detail, std::string_view fallback) {
  std::string d = lower(detail);
  if (d.find("expired") != std::string::npos) return "TLS: certificate expired";
  if (d.find("self-signed") != std::string::npos || d.find("self signed") != std::string::npos)
    return "TLS: self-signed certificate";
  if (d.find("unable to get local issuer") != std::string::npos ||
      d.find("unknown ca") != std::string::npos)
    return "TLS: unknown issuer";
  if (d.find("does not match") != std::string::npos ||
      d.find("subject name") != std::string::npos)
    return "TLS: name mismatch";
  if (d.find("not yet valid") != std::string::npos) return "TLS: certificate not yet valid";
  return std::string(fallback);
}

}  // namespace

struct HttpRunner::Check {
  HttpRunner* owner = nullptr;
  CheckId id = 0;
  std::unique_ptr<CURL, EasyDeleter> easy;
  // curl reads these lists during the transfer without copying them.
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  std::unique_ptr<curl_slist, SlistDeleter> connect_to;
  Done done;
  std::vector<StatusRange> expect_status;
  std::string expect_body;
  core::Duration timeout{};
  uint64_t start_ns = 0;
  std::string body;
  bool body_found = false;
  // We stopped the transfer ourselves once the verdict was known (the body was not needed,
  // the expected text was found, or kMaxBody was read): curl then reports CURLE_WRITE_ERROR.
  bool stopped_early = false;
  char errbuf[CURL_ERROR_SIZE] = {};
  // errno of a socket() that failed: curl 7.88 reports that as CURLE_COULDNT_CONNECT with
  // CURLINFO_OS_ERRNO 0, the same as a refused connect, so we open the socket ourselves.
  int open_errno = 0;

  static curl_socket_t on_open_socket(void* userp, curlsocktype, curl_sockaddr* a) {
    curl_socket_t s = ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s == CURL_SOCKET_BAD) static_cast<Check*>(userp)->open_errno = errno;
    return s;
  }

  ~Check() {
    // curl requires an easy handle to leave its multi before curl_easy_cleanup.
    if (easy && owner) owner->multi_.remove(easy.get());
  }

  static size_t on_write(char* data, size_t size, size_t n, void* userp) {
    auto* c = static_cast<Check*>(userp);
    const size_t total = size * n;
    if (c->expect_body.empty()) {
      c->stopped_early = true;
      return 0;
    }
    const size_t old_size = c->body.size();
    c->body.append(data, std::min(total, kMaxBody - old_size));
    // Search only where a match could newly start, so the cost stays linear in the body.
    const size_t from = old_size >= c->expect_body.size() ? old_size - c->expect_body.size() + 1 : 0;
    if (c->body.find(c->expect_body, from) != std::string::npos) {
      c->body_found = true;
      c->stopped_early = true;
      return 0;
    }
    if (c->body.size() >= kMaxBody) {
      c->stopped_early = true;
      return 0;
    }
    return total;
  }

  Result verdict(CURLcode code) const {
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && stopped_early)) {
      long status = 0;
      curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
      bool expected = std::any_of(expect_status.begin(), expect_status.end(),
                                  [&](const StatusRange& r) { return status >= r.lo && status <= r.hi; });
      if (!expected) return {false, fmt::format("HTTP {}", status), {}};
      if (!expect_body.empty() && !body_found) return {false, "body mismatch", {}};
      return {true, fmt::format("HTTP {}", status), {}};
    }
    if (open_errno != 0) return socket_failure(-open_errno);
    long os_errno = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_OS_ERRNO, &os_errno);
    std::string_view detail = errbuf;
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return {false, timeout_reason(timeout), {}};
      case CURLE_COULDNT_CONNECT:
        if (os_errno != 0) return {false, socket_reason(-int(os_errno)), {}};
        return {false, "connect failed", {}};
      case CURLE_GOT_NOTHING:
        return {false, "empty reply", {}};
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
        if (os_errno == ECONNRESET || os_errno == EPIPE ||
            lower(detail).find("reset") != std::string::npos)
          return {false, "connection reset", {}};
        return {false, code == CURLE_RECV_ERROR ? "receive failed" : "send failed", {}};
      case CURLE_SSL_CONNECT_ERROR:
        if (os_errno == ECONNRESET) return {false, "TLS: connection reset", {}};
        return {false, tls_reason(detail, "TLS: handshake failed"), {}};
      case CURLE_PEER_FAILED_VERIFICATION:
        return {false, tls_reason(detail, "TLS: certificate rejected"), {}};
      case CURLE_SSL_CACERT_BADFILE:
        // Our CA bundle (ca_file, or the system's) is missing or unreadable: gslbd's failure,
        // which says nothing about the gateway.
        return {false, "TLS: cannot read ca_file", {}, true};
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
        return {false, tls_reason(detail, "TLS: handshake failed"), {}};
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return {false, "bad HTTP reply", {}};
      case CURLE_PARTIAL_FILE:
        return {false, "truncated reply", {}};
      // curl could not set the check up: gslbd's failure, not the target's.
      case CURLE_OUT_OF_MEMORY:
      case CURLE_FAILED_INIT:
        return {false, curl_easy_strerror(code), {}, true};
      default:
        return {false, curl_easy_strerror(code), {}};
    }
  }
};

HttpRunner::HttpRunner(uv_loop_t* loop)
    : loop_(loop), multi_(loop, [this](CURL* easy, CURLcode code) { finished(easy, code); }) {}

core::Result<CheckId> HttpRunner::start(const core::IpAddress& address, const Spec& spec,
                                        Done done) {
  auto fail = [](std::string what) { return core::Error{"", 0, 0, std::move(what)}; };
  if (!multi_) return fail("curl: no multi handle");
  auto c = std::make_unique<Check>();
  c->easy.reset(curl_easy_init());
  if (!c->easy) return fail("curl_easy_init failed");
  c->id = next_id_++;
  c->done = std::move(done);
  c->expect_status = spec.expect_status;
  c->expect_body = spec.expect_body;
  c->timeout = spec.timeout;
  CURL* e = c->easy.get();

  // IPv6 literals need brackets in URLs and in CONNECT_TO.
  const std::string ip = address.is_v4() ? address.to_string() : "[" + address.to_string() + "]";
  const std::string& host = spec.host.empty() ? ip : spec.host;
  const std::string url = fmt::format("{}://{}:{}{}", spec.type == Type::https ? "https" : "http",
                                      host, spec.port, spec.path);
  // CONNECT_TO is per handle; CURLOPT_RESOLVE would land in the multi's shared DNS cache, where
  // two targets probing the same host name at different addresses would overwrite each other.
  if (!spec.host.empty()) {
    const std::string rule = fmt::format("{}:{}:{}:{}", spec.host, spec.port, ip, spec.port);
    c->connect_to.reset(curl_slist_append(nullptr, rule.c_str()));
    if (!c->connect_to) return fail("curl_slist_append failed");
  }
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : spec.headers) {
    const std::string line = fmt::format("{}: {}", name, value);
    curl_slist* next = curl_slist_append(headers, line.c_str());
    if (!next) {
      curl_slist_free_all(headers);
      return fail("curl_slist_append failed");
    }
    headers = next;
  }
  c->headers.reset(headers);

  const long timeout_ms =
      std::max<long>(1, long(std::chrono::ceil<std::chrono::milliseconds>(spec.timeout).count()));
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, c.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  // An environment proxy would test the proxy, not the target.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  // Every check opens its own connection: a kept-alive one would hide a gateway that stopped
  // accepting new connections.
  // No DNS cache: every target is an address (a literal or CONNECT_TO), and curl walks its whole
  // cache on each resolve to prune it, so thousands of cached targets made every check
  // O(targets) and the probe engine quadratic.
  curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "gslbd-probe");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Check::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c.get());
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, Check::on_open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c.get());
  if (source_ && source_->family == address.family) {
    const std::string from = "host!" + source_->to_string();
    curl_easy_setopt(e, CURLOPT_INTERFACE, from.c_str());  // curl copies the string
  }
  if (spec.method == Method::head) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (c->connect_to) curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to.get());
  if (c->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers.get());
  if (spec.type == Type::https) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, spec.verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, spec.verify ? 2L : 0L);
    if (!spec.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, spec.ca_file.c_str());
  }

  c->start_ns = uv_hrtime();
  if (CURLMcode m = multi_.add(e); m != CURLM_OK)
    return fail(fmt::format("curl_multi_add_handle: {}", curl_multi_strerror(m)));
  // From here the handle is in the multi, so ~Check must remove it.
  c->owner = this;
  const CheckId id = c->id;
  checks_.emplace(id, std::move(c));
  return id;
}

HttpRunner::~HttpRunner() { close(); }

void HttpRunner::cancel(CheckId id) { checks_.erase(id); }

void HttpRunner::close() {
  checks_.clear();
  multi_.close();
}

void HttpRunner::finished(CURL* easy, CURLcode code) {
  Check* raw = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
  auto node = checks_.extract(raw->id);
  Result result = raw->verdict(code);
  result.latency = std::chrono::nanoseconds(uv_hrtime() - raw->start_ns);
  Done done = std::move(raw->done);
  node.mapped().reset();
  done(result);
}

}  // namespace gslb::probe
