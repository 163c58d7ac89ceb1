// The HTTP/HTTPS and TCP runners against real sockets on loopback: one test per reason.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <sys/resource.h>
#include <unistd.h>

#include <optional>

#include "probe_test_util.hpp"
#include "test_server.hpp"

using namespace gslb;
using namespace std::chrono_literals;
using probe_test::check_once;
using probe_test::http_spec;

TEST_CASE("HTTP 200 passes, with its latency") {
  probe_test::HttpServer server;
  probe::Result r = check_once(http_spec(server.port()));
  CHECK(r.ok);
  CHECK(r.reason == "HTTP 200");
  CHECK(r.latency > 0ns);
  CHECK(r.latency < 1s);
  CHECK(server.last_method() == "GET");
}

TEST_CASE("HTTP 503 fails unless expected") {
  probe_test::HttpServer server;
  probe::Spec spec = http_spec(server.port(), "/status/503");
  probe::Result r = check_once(spec);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "HTTP 503");
  spec.expect_status = {{500, 599}};
  r = check_once(spec);
  CHECK(r.ok);
  CHECK(r.reason == "HTTP 503");
}

TEST_CASE("expect_body: found passes, absent is a body mismatch, only 64 KiB are read") {
  probe_test::HttpServer server;
  probe::Spec spec = http_spec(server.port());
  spec.expect_body = "gslbd";
  CHECK(check_once(spec).ok);
  spec.expect_body = "nowhere";
  probe::Result r = check_once(spec);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "body mismatch");
  // "needle" comes after 256 KiB: past the limit, so it is not seen.
  spec.path = "/big";
  spec.expect_body = "needle";
  r = check_once(spec);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "body mismatch");
  spec.expect_body = "aaaa";
  CHECK(check_once(spec).ok);
}

TEST_CASE("a closed port is connect refused, for HTTP and TCP") {
  const uint16_t port = probe_test::closed_port();
  probe::Result r = check_once(http_spec(port));
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "connect refused");
  probe::Spec tcp = http_spec(port);
  tcp.type = probe::Type::tcp;
  r = check_once(tcp);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "connect refused");
}

TEST_CASE("a server that accepts and never replies times out after spec.timeout") {
  probe_test::Mute mute;
  probe::Spec spec = http_spec(mute.port());
  spec.timeout = 300ms;
  probe::Result r = check_once(spec);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "timeout after 300ms");
  CHECK(r.latency >= 290ms);
  CHECK(r.latency < 1s);

  probe_test::HttpServer server;
  spec = http_spec(server.port(), "/silent");
  spec.timeout = 200ms;
  r = check_once(spec);
  CHECK(r.reason == "timeout after 200ms");
}

TEST_CASE("a reset connection is reported as such") {
  probe_test::HttpServer server;
  probe::Result r = check_once(http_spec(server.port(), "/reset"));
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "connection reset");
}

TEST_CASE("HEAD sends HEAD and passes on the status alone") {
  probe_test::HttpServer server;
  probe::Spec spec = http_spec(server.port());
  spec.method = probe::Method::head;
  probe::Result r = check_once(spec);
  CHECK(r.ok);
  CHECK(r.reason == "HTTP 200");
  CHECK(server.last_method() == "HEAD");
}

TEST_CASE("the Host header is the probe's host while the connection goes to the target") {
  probe_test::HttpServer server("127.0.0.2");
  probe::Spec spec = http_spec(server.port(), "/host");
  spec.host = "www.example.test";
  spec.headers = {{"X-Probe", "gslbd"}};
  probe::Result r = check_once(spec, "127.0.0.2");
  CHECK(r.reason == "HTTP 200");
  CHECK(server.last_host() == fmt::format("www.example.test:{}", server.port()));

  spec.host.clear();
  r = check_once(spec, "127.0.0.2");
  CHECK(r.reason == "HTTP 421");
  CHECK(server.last_host() == fmt::format("127.0.0.2:{}", server.port()));
}

TEST_CASE("IPv6 targets, with and without a host name") {
  probe_test::HttpServer server("::1");
  probe::Spec spec = http_spec(server.port(), "/host");
  spec.host = "www.example.test";
  CHECK(check_once(spec, "::1").reason == "HTTP 200");
  spec.host.clear();
  spec.path = "/";
  CHECK(check_once(spec, "::1").reason == "HTTP 200");
  CHECK(server.last_host() == fmt::format("[::1]:{}", server.port()));
  spec.type = probe::Type::tcp;
  CHECK(check_once(spec, "::1").reason == "connected");
}

TEST_CASE("TCP connect: ok, and a timeout when SYNs go unanswered") {
  probe_test::HttpServer server;
  probe::Spec spec = http_spec(server.port());
  spec.type = probe::Type::tcp;
  probe::Result r = check_once(spec);
  CHECK(r.ok);
  CHECK(r.reason == "connected");

  probe_test::BlackHole hole;
  spec.port = hole.port();
  spec.timeout = 250ms;
  r = check_once(spec);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "timeout after 250ms");
  CHECK(r.latency >= 240ms);
}

TEST_CASE("HTTPS against a plain HTTP port is a TLS failure") {
  probe_test::HttpServer server;
  probe::Spec spec = http_spec(server.port());
  spec.type = probe::Type::https;
  probe::Result r = check_once(spec);
  CHECK_FALSE(r.ok);
  CHECK(r.reason.rfind("TLS: ", 0) == 0);
}

TEST_CASE("HTTPS with a self-signed certificate: rejected, accepted with ca_file or verify=false") {
  if (!probe_test::TlsServer::available()) {
    WARN("openssl not installed: HTTPS success paths not tested");
    return;
  }
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("gslbd-tls-{}", ::getpid());
  fs::create_directories(dir);
  {
    probe_test::TlsServer tls(dir.string());
    REQUIRE(tls.ok());
    probe::Spec spec = http_spec(tls.port());
    spec.type = probe::Type::https;
    spec.host = "www.example.test";
    probe::Result r = check_once(spec);
    CHECK_FALSE(r.ok);
    if (fs::exists("/etc/ssl/certs/ca-certificates.crt")) {
      CHECK(r.reason == "TLS: self-signed certificate");
      CHECK_FALSE(r.local);
    } else {
      // No system CA bundle (a minimal host without ca-certificates): our failure, no verdict.
      CHECK(r.reason == "TLS: cannot read ca_file");
      CHECK(r.local);
    }
    spec.ca_file = (dir / "missing.pem").string();
    r = check_once(spec);
    CHECK(r.reason == "TLS: cannot read ca_file");
    CHECK(r.local);

    spec.ca_file = tls.cert();
    r = check_once(spec);
    CHECK(r.ok);
    CHECK(r.reason == "HTTP 200");

    spec.host = "other.example.test";
    r = check_once(spec);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "TLS: name mismatch");

    spec.ca_file.clear();
    spec.verify = false;
    CHECK(check_once(spec).ok);
  }
  fs::remove_all(dir);
}

TEST_CASE("a cancelled check never reports and frees everything") {
  probe_test::HttpServer server;
  probe_test::Mute mute;
  probe_test::BlackHole hole;
  int calls = 0;
  {
    probe_test::Loop loop;
    probe::HttpRunner http(loop.get());
    probe::TcpRunner tcp(loop.get());
    auto address = *core::IpAddress::parse("127.0.0.1");
    probe::Spec spec = http_spec(mute.port());
    auto done = [&](const probe::Result&) { ++calls; };
    auto a = http.start(address, spec, done);
    auto b = http.start(address, http_spec(server.port(), "/silent"), done);
    spec.type = probe::Type::tcp;
    spec.port = hole.port();
    auto c = tcp.start(address, spec, done);
    REQUIRE((a && b && c));
    loop.run_for(50);
    http.cancel(*a);
    tcp.cancel(*c);
    loop.run_for(20);
    http.close();  // cancels b
    CHECK(http.in_flight() == 0);
    CHECK(tcp.in_flight() == 0);
  }
  CHECK(calls == 0);
}

namespace {

// While alive, no new descriptor can be opened: the soft RLIMIT_NOFILE is lowered under the
// ones already open (they stay valid). What a gslbd starved by idle clients sees.
struct NoDescriptors {
  rlimit old{};
  NoDescriptors() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit low = old;
    low.rlim_cur = 3;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  }
  ~NoDescriptors() { ::setrlimit(RLIMIT_NOFILE, &old); }
};

}  // namespace

TEST_CASE("out of descriptors, HTTP and TCP checks fail as local errors, not verdicts") {
  const uint16_t port = probe_test::closed_port();
  for (probe::Type type : {probe::Type::http, probe::Type::tcp}) {
    probe::Spec spec = http_spec(port);
    spec.type = type;
    std::optional<probe::Result> out;
    {
      probe_test::Loop loop;
      probe::HttpRunner http(loop.get());
      probe::TcpRunner tcp(loop.get());
      const auto address = *core::IpAddress::parse("127.0.0.1");
      auto done = [&](const probe::Result& r) { out = r; };
      {
        NoDescriptors starved;
        auto id = type == probe::Type::tcp ? tcp.start(address, spec, done) : http.start(address, spec, done);
        REQUIRE(id);
        const uint64_t deadline = uv_hrtime() + 5'000'000'000ull;
        while (!out && uv_hrtime() < deadline) uv_run(loop.get(), UV_RUN_ONCE);
      }
    }
    INFO(fmt::format("type {}", type == probe::Type::tcp ? "tcp" : "http"));
    REQUIRE(out);
    CHECK_FALSE(out->ok);
    CHECK(out->local);
    CHECK(out->reason == "too many open files");
  }
  // The same closed port with descriptors to spare is a verdict on the target.
  probe::Result r = check_once(http_spec(port));
  CHECK_FALSE(r.local);
  CHECK(r.reason == "connect refused");
}

TEST_CASE("local errors are told from the target's by errno") {
  for (int e : {UV_EMFILE, UV_ENFILE, UV_ENOBUFS, UV_ENOMEM}) {
    CHECK(probe::local_error(e));
    CHECK(probe::socket_failure(e).local);
  }
  for (int e : {UV_ECONNREFUSED, UV_ECONNRESET, UV_EHOSTUNREACH, UV_ENETUNREACH, UV_ETIMEDOUT, UV_EACCES}) {
    CHECK_FALSE(probe::local_error(e));
    CHECK_FALSE(probe::socket_failure(e).local);
    CHECK(probe::socket_failure(e).reason == probe::socket_reason(e));
  }
}
