// The plain-HTTP exchange as bytes: the request a spec sends, and verdicts from responses fed
// in pieces, including the framings and failures that a real server rarely produces on cue.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "probe/http_exchange.hpp"

using namespace gslb;

namespace {

probe::Spec spec_with(std::string body = {}) {
  probe::Spec s;
  s.name = "t";
  s.expect_body = std::move(body);
  return s;
}

// Feeds `response` `step` bytes at a time; the verdict, or end()'s when none came.
probe::Result run(const probe::Spec& spec, const std::string& response, size_t step, bool close = true) {
  probe::HttpResponse r(spec);
  for (size_t at = 0; at < response.size(); at += step)
    if (auto v = r.feed(std::string_view(response).substr(at, step))) return *v;
  if (!close) return {false, "(no verdict)", {}};
  return r.end();
}

// The same response, fed whole and one byte at a time, must give the same verdict.
std::string reason(const probe::Spec& spec, const std::string& response, bool close = true) {
  const probe::Result whole = run(spec, response, response.size() + 1, close);
  const probe::Result bytewise = run(spec, response, 1, close);
  CHECK(whole.reason == bytewise.reason);
  CHECK(whole.ok == bytewise.ok);
  return (whole.ok ? "ok " : "fail ") + whole.reason;
}

}  // namespace

TEST_CASE("the request: method, path, Host with the port, our headers replaced or removed by the spec's") {
  probe::Spec s = spec_with();
  s.path = "/health?x=1";
  auto v4 = *core::IpAddress::parse("192.0.2.1");
  CHECK(probe::http_request(v4, s) ==
        "GET /health?x=1 HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: gslbd-probe\r\nAccept: */*\r\n"
        "Connection: close\r\n\r\n");
  s.port = 8080;
  s.method = probe::Method::head;
  s.headers = {{"user-agent", "ops"}, {"Accept", ""}, {"X-Env", "prod"}};
  CHECK(probe::http_request(*core::IpAddress::parse("2001:db8::1"), s) ==
        "HEAD /health?x=1 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nConnection: close\r\n"
        "user-agent: ops\r\nX-Env: prod\r\n\r\n");
  s.host = "www.example.test";
  CHECK(probe::http_request(v4, s).find("Host: www.example.test:8080\r\n") != std::string::npos);
}

TEST_CASE("status decides at the head: expected or not, whatever follows") {
  probe::Spec s = spec_with();
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false) == "ok HTTP 200");
  CHECK(reason(s, "HTTP/1.0 204\r\n\r\n", false) == "ok HTTP 204");
  CHECK(reason(s, "HTTP/1.1 503 Service Unavailable\r\n\r\n", false) == "fail HTTP 503");
  CHECK(reason(s, "HTTP/1.1 200 OK\n\n", false) == "ok HTTP 200");  // bare LFs
  s.expect_status = {{500, 599}};
  CHECK(reason(s, "HTTP/1.1 503 x\r\n\r\n", false) == "ok HTTP 503");
  // Interim responses are skipped.
  s = spec_with();
  CHECK(reason(s, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n", false) == "fail HTTP 404");
}

TEST_CASE("a reply that is not HTTP, or ends early") {
  probe::Spec s = spec_with();
  CHECK(reason(s, "") == "fail empty reply");
  CHECK(reason(s, "SSH-2.0-OpenSSH_9.2\r\n\r\n") == "fail bad HTTP reply");
  CHECK(reason(s, "HTTP/1.1 20 OK\r\n\r\n") == "fail bad HTTP reply");
  CHECK(reason(s, "HTTP/1.1 2000 OK\r\n\r\n") == "fail bad HTTP reply");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nServer: x\r\n") == "fail truncated reply");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nX: " + std::string(probe::HttpResponse::kMaxHead, 'a'), false) ==
        "fail bad HTTP reply");
}

TEST_CASE("expect_body through every framing, split anywhere") {
  probe::Spec s = spec_with("healthy");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nI'm healthy", false) == "ok HTTP 200");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsick", false) == "fail body mismatch");
  // Bytes past Content-Length are not the body.
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsickhealthy", false) == "fail body mismatch");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nsick") == "fail truncated reply");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\n\r\nall healthy here") == "ok HTTP 200");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\n\r\nsick") == "fail body mismatch");  // ended by the close
  // Chunked: the text split across two chunks, extensions, the last chunk ending the body.
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(reason(s, chunked + "4;ext=1\r\nheal\r\n3\r\nthy\r\n0\r\n\r\n", false) == "ok HTTP 200");
  CHECK(reason(s, chunked + "4\r\nsick\r\n0\r\n\r\n", false) == "fail body mismatch");
  CHECK(reason(s, chunked + "4\r\nheal\r\n1\r\nt\r\n2\r\nhy\r\n0\r\n\r\n", false) == "ok HTTP 200");
  // The framing is not the body: the raw bytes hold the text, the body does not.
  CHECK(reason(spec_with("2\r\nab"), chunked + "2\r\nab\r\n0\r\n\r\n", false) == "fail body mismatch");
  CHECK(reason(s, chunked + "zz\r\n") == "fail bad HTTP reply");
  CHECK(reason(s, chunked + "10\r\nheal") == "fail truncated reply");
  // HEAD, 204 and 304 have no body.
  CHECK(reason(s, "HTTP/1.1 204 No Content\r\n\r\n", false) == "fail body mismatch");
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false) == "fail body mismatch");
  // Conflicting lengths are not a reply to trust.
  CHECK(reason(s, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", false) ==
        "fail bad HTTP reply");
}

TEST_CASE("only the first 64 KiB of a body are searched") {
  probe::Spec s = spec_with("needle");
  const std::string head = "HTTP/1.1 200 OK\r\n\r\n";
  CHECK(reason(s, head + std::string(probe::kMaxBody - 6, 'a') + "needle") == "ok HTTP 200");
  CHECK(reason(s, head + std::string(probe::kMaxBody - 5, 'a') + "needle", false) == "fail body mismatch");
}

TEST_CASE("the response outlives its spec: a reload may replace the spec while a check is in flight") {
  auto spec = std::make_unique<probe::Spec>(spec_with("ok"));
  spec->expect_status = {{200, 200}};
  probe::HttpResponse r(*spec);
  spec.reset();  // under ASan, reading the spec from here on is a use after free
  auto v = r.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  REQUIRE(v);
  CHECK(v->ok);
  CHECK(v->reason == "HTTP 200");
}
