// One plain-HTTP check as bytes, with no I/O: the request a spec sends, and a parser that reads
// the response as it arrives and says as early as it can whether the check passed. The
// connection is the TCP runner's; HTTPS stays with libcurl (http_runner.hpp).
//
// Why our own: a check is one small GET on a fresh connection, and libcurl's multi interface
// cost more per check than the connection itself and fell behind its schedule at a few
// thousand checks a second (bench/scale/probe_ceiling.py), where this runs on the TCP runner's
// path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "probe/spec.hpp"

namespace gslb::probe {

// "GET /path HTTP/1.1" with Host (spec.host, else the address; with the port when it is not
// 80), User-Agent, Accept and Connection: close, then spec.headers. A header of the spec
// replaces ours of the same name, and one with an empty value removes it (as with curl).
std::string http_request(const core::IpAddress& address, const Spec& spec);

// Reads a response: the status line and headers (up to kMaxHead bytes, 1xx interim responses
// skipped), then, only when spec.expect_body is set, the body (Content-Length, chunked, or up
// to the close) until the text is found, the body ends, or kMaxBody bytes were read. The
// verdicts and their reasons are the curl runner's: "HTTP 200", "HTTP 503", "body mismatch",
// "empty reply", "bad HTTP reply", "truncated reply".
class HttpResponse {
 public:
  static constexpr size_t kMaxHead = 16 * 1024;

  // Copies what it needs of `spec`: a reload may replace the spec while the check is in flight.
  explicit HttpResponse(const Spec& spec)
      : expect_status_(spec.expect_status), expect_body_(spec.expect_body),
        head_request_(spec.method == Method::head) {}

  // Feeds received bytes; returns the verdict once it is known (then feed no more).
  std::optional<Result> feed(std::string_view data);
  // The peer closed the connection.
  Result end();

 private:
  enum class Stage { head, body, chunk_size, chunk_data, chunk_crlf, done };
  std::optional<Result> parse_head();
  std::optional<Result> body(std::string_view data);
  std::optional<Result> chunked(std::string_view data);
  // Looks for the text in `data`, the next bytes of the body.
  std::optional<Result> search(std::string_view data);
  Result passed() const;
  Result mismatch() const { return {false, "body mismatch", {}}; }

  std::vector<StatusRange> expect_status_;
  std::string expect_body_;
  bool head_request_;
  Stage stage_ = Stage::head;
  std::string head_;       // the response head so far
  int status_ = 0;
  bool any_byte_ = false;
  std::optional<uint64_t> remaining_;  // body bytes still to come (Content-Length, or the chunk's)
  bool to_close_ = false;              // a body without length: it ends at the close
  std::string chunk_line_;             // a chunk-size line so far
  uint64_t body_seen_ = 0;             // bytes of the body searched
  std::string tail_;                   // the last bytes searched, where a match may begin
};

}  // namespace gslb::probe
