// A health-check definition (one probes/NAME.toml, already checked) and the verdict of one
// check. Plain values: no I/O here. The scheduler runs checks; the health module turns a run of
// results into up/down with `rise`/`fall`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/duration.hpp"

namespace gslb::probe {

using namespace std::chrono_literals;

enum class Type { http, https, tcp };
enum class Method { get, head };

// Accepted HTTP status codes, inclusive: "200" is {200, 200}, "2xx" is {200, 299}.
struct StatusRange {
  uint16_t lo = 200;
  uint16_t hi = 299;
  bool operator==(const StatusRange&) const = default;
};

struct Spec {
  std::string name;  // the file name without .toml
  Type type = Type::http;
  uint16_t port = 80;  // default 80 for http, 443 for https; tcp requires it
  std::string path = "/";
  Method method = Method::get;
  // Host header and TLS SNI. Independent of the address checked: the probe connects to the
  // target's address and still asks for this name, as a resolver-less client would.
  std::string host;
  std::vector<StatusRange> expect_status{{200, 399}};
  std::string expect_body;  // a substring of the first kMaxBody bytes; empty: not checked
  core::Duration interval = 1s;
  core::Duration timeout = 500ms;
  core::Duration fast_interval = 0ns;  // 0: interval / 4 (see effective_fast_interval)
  unsigned rise = 2;
  unsigned fall = 2;
  bool verify = true;   // TLS: verify the peer's certificate and name
  std::string ca_file;  // TLS: CA bundle instead of the system's
  std::vector<std::pair<std::string, std::string>> headers;

  // Reload keeps the health state of a target whose spec did not change.
  bool operator==(const Spec&) const = default;
};

// What one check found. `reason` is short, human and stable, so operators can grep for it and
// events can dedupe on it: "HTTP 200", "HTTP 503", "body mismatch", "connect refused",
// "timeout after 500ms", "TLS: certificate expired", "connection reset".
//
// `local` marks a check that failed on gslbd's side before it could judge the target: no
// descriptor, buffer or memory for a socket ("too many open files"). That is not a verdict,
// so it must not reach the health state machine: the target keeps its state and is checked
// again at its next interval.
struct Result {
  bool ok = false;
  std::string reason;
  core::Duration latency{};  // from the start of the check to its verdict
  bool local = false;
};

// How much of a body is read to look for expect_body; the rest is never transferred.
inline constexpr size_t kMaxBody = 64 * 1024;

// The spec's fast_interval, or interval / 4 when it is 0 (HAProxy's fastinter default
// is the interval itself; a quarter confirms a transition 4x sooner at 4x the probe rate for
// only the targets that are flapping).
core::Duration effective_fast_interval(const Spec& spec);
bool status_expected(const Spec& spec, long status);
std::string_view to_string(Type type);
std::string_view to_string(Method method);

}  // namespace gslb::probe
