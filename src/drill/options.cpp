#include "drill/options.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <optional>

namespace gslb::drill {

const char* const kUsage =
    R"(usage: gslb-drill --server ADDR:PORT [options] http://NAME[:PORT]/PATH

Sends requests at a fixed rate (open loop, like fortio -qps) to NAME, resolving NAME with an
A query to the given DNS server and caching the answer for its TTL as a stub resolver does
(TTL 0: no caching). Every request uses a fresh connection (no keep-alive). Prints fortio's
summary (latency histogram, "# target" percentiles, "Code" lines with -1 for no HTTP answer,
"All done") and its own lines: DNS failures, failure reasons, requests per address, the
failure window (first and last failed request from the start) and bursts of failures.

  --server ADDR:PORT     DNS server to resolve NAME through (e.g. 127.0.0.1:5353)   [required]
  --qps N                requests per second (default 8)
  --duration D           how long to send, e.g. 60s (default 5s)
  --timeout D            per-request HTTP timeout, connect included (default 1s)
  --dns-timeout D        per-query DNS timeout (default 500ms); waiting requests then fail
  --rotate               use the answer's addresses round-robin (default: the first)
  --at D=COMMAND         run COMMAND with /bin/sh -c at D from the start; repeatable,
                         e.g. --at 20s='kill 1234'
  -json FILE             also write the result as fortio's JSON to FILE ("-": stdout)
  -h, --help             this text
  --version              print the version
)";

namespace {

core::Error err(std::string msg) { return core::Error{"", 0, 0, std::move(msg)}; }

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string url_part(CURLU* u, CURLUPart part) {
  char* s = nullptr;
  if (curl_url_get(u, part, &s, 0) != CURLUE_OK || !s) return {};
  std::string out(s);
  curl_free(s);
  return out;
}

// core::parse_duration takes whole numbers ("250ms"); drills also want "20.5s", as fortio
// (Go's time.ParseDuration) accepts.
std::optional<core::Duration> duration_arg(std::string_view text) {
  if (auto d = core::parse_duration(text)) return d;
  size_t unit = text.size();
  while (unit > 0 && std::isalpha(static_cast<unsigned char>(text[unit - 1]))) --unit;
  const std::string_view number = text.substr(0, unit), suffix = text.substr(unit);
  double v = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (number.empty() || ec != std::errc() || p != number.data() + number.size() || !(v >= 0))
    return std::nullopt;
  double scale = 0;
  if (suffix == "ms") scale = 1e6;
  else if (suffix == "s") scale = 1e9;
  else if (suffix == "m") scale = 60e9;
  else return std::nullopt;
  return core::Duration(int64_t(std::llround(v * scale)));
}

}  // namespace

core::Result<Options> parse_options(const std::vector<std::string_view>& args) {
  Options o;
  bool have_server = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    if (!a.starts_with("-")) {
      if (!o.url.empty()) return err(fmt::format("more than one URL: {}", a));
      o.url = std::string(a);
      continue;
    }
    if (a == "--rotate") {
      o.rotate = true;
      continue;
    }
    // --opt VALUE or --opt=VALUE
    std::string_view key = a, value;
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      key = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return err(fmt::format("{}: missing value", a));
      value = args[++i];
    }
    auto duration = [&](core::Duration& out) -> std::optional<core::Error> {
      auto d = duration_arg(value);
      if (!d || d->count() < 0) return err(fmt::format("{}: not a duration: {}", key, value));
      out = *d;
      return std::nullopt;
    };
    std::optional<core::Error> e;
    if (key == "--server") {
      auto ep = core::Endpoint::parse(value);
      if (!ep || ep->port == 0) return err(fmt::format("--server: not ADDR:PORT: {}", value));
      o.server = *ep;
      have_server = true;
    } else if (key == "--qps") {
      double q = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
      if (ec != std::errc() || p != value.data() + value.size() || !(q > 0) || q > 100000)
        return err(fmt::format("--qps: must be a number in (0, 100000]: {}", value));
      o.qps = q;
    } else if (key == "--duration") {
      e = duration(o.duration);
    } else if (key == "--timeout") {
      e = duration(o.timeout);
    } else if (key == "--dns-timeout") {
      e = duration(o.dns_timeout);
    } else if (key == "-json" || key == "--json") {
      if (value.empty()) return err(fmt::format("{}: missing file name", key));
      o.json = std::string(value);
    } else if (key == "--at") {
      auto eq = value.find('=');
      if (eq == std::string_view::npos || eq + 1 >= value.size())
        return err(fmt::format("--at: expected TIME=COMMAND: {}", value));
      auto d = duration_arg(value.substr(0, eq));
      if (!d || d->count() < 0)
        return err(fmt::format("--at: not a duration: {}", value.substr(0, eq)));
      o.at.push_back(AtCommand{*d, std::string(value.substr(eq + 1))});
    } else {
      return err(fmt::format("unknown option: {}", key));
    }
    if (e) return *e;
  }
  if (!have_server) return err("--server is required");
  if (o.url.empty()) return err("the URL is required");
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, o.url.c_str(), 0) != CURLUE_OK)
    return err(fmt::format("not a URL: {}", o.url));
  if (url_part(u.get(), CURLUPART_SCHEME) != "http")
    return err(fmt::format("only http:// URLs: {}", o.url));
  o.host = url_part(u.get(), CURLUPART_HOST);
  if (o.host.empty() || o.host.front() == '[' || core::IpAddress::parse(o.host))
    return err(fmt::format("the URL must name a host to resolve: {}", o.url));
  const std::string port = url_part(u.get(), CURLUPART_PORT);
  if (!port.empty()) o.port = uint16_t(std::stoi(port));
  std::stable_sort(o.at.begin(), o.at.end(),
                   [](const AtCommand& x, const AtCommand& y) { return x.at < y.at; });
  return o;
}

}  // namespace gslb::drill
