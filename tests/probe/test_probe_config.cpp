// probes/*.toml: defaults, every key, and every error with its position.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "config/probe_config.hpp"

using namespace gslb;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> errors_of(const std::string& text, const std::string& path = "probes/web.toml") {
  core::Errors errors;
  auto spec = config::parse_probe(text, path, errors);
  CHECK_FALSE(spec);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

probe::Spec parse_ok(const std::string& text, const std::string& path = "probes/web.toml") {
  core::Errors errors;
  auto spec = config::parse_probe(text, path, errors);
  for (const auto& e : errors) FAIL_CHECK(e.to_string());
  REQUIRE(spec);
  return *spec;
}

}  // namespace

TEST_CASE("an empty probe file is an http probe with the documented defaults") {
  probe::Spec s = parse_ok("");
  CHECK(s.name == "web");
  CHECK(s.type == probe::Type::http);
  CHECK(s.port == 80);
  CHECK(s.path == "/");
  CHECK(s.method == probe::Method::get);
  CHECK(s.host.empty());
  REQUIRE(s.expect_status.size() == 1);
  CHECK(s.expect_status[0] == probe::StatusRange{200, 399});
  CHECK(s.interval == 1s);
  CHECK(s.timeout == 500ms);
  CHECK(s.fast_interval == 250ms);  // interval / 4
  CHECK(s.rise == 2);
  CHECK(s.fall == 2);
  CHECK(s.verify);
}

TEST_CASE("every key of an https probe") {
  probe::Spec s = parse_ok(R"(
type = "https"
path = "/healthz"
method = "head"
host = "www.example.test"
expect_status = [200, "3xx", "404-410"]
interval = "2s"
timeout = "750ms"
fast_interval = "250ms"
rise = 3
fall = 1
verify = false
ca_file = "ca.pem"
headers = { "X-Probe" = "gslbd", Accept = "*/*" }
)", "etc/probes/api.toml");
  CHECK(s.name == "api");
  CHECK(s.type == probe::Type::https);
  CHECK(s.port == 443);
  CHECK(s.path == "/healthz");
  CHECK(s.method == probe::Method::head);
  CHECK(s.host == "www.example.test");
  CHECK(s.expect_status == std::vector<probe::StatusRange>{{200, 200}, {300, 399}, {404, 410}});
  CHECK(s.interval == 2s);
  CHECK(s.timeout == 750ms);
  CHECK(s.fast_interval == 250ms);
  CHECK(s.rise == 3);
  CHECK(s.fall == 1);
  CHECK_FALSE(s.verify);
  CHECK(s.ca_file == "etc/probes/ca.pem");
  REQUIRE(s.headers.size() == 2);
  CHECK(probe::status_expected(s, 405));
  CHECK_FALSE(probe::status_expected(s, 500));
}

TEST_CASE("a tcp probe needs a port; a short interval pulls the default timeout down") {
  probe::Spec s = parse_ok("type = \"tcp\"\nport = 5432\ninterval = \"200ms\"\n", "db.toml");
  CHECK(s.type == probe::Type::tcp);
  CHECK(s.port == 5432);
  CHECK(s.timeout == 200ms);
  CHECK(s.fast_interval == 50ms);
  CHECK(errors_of("type = \"tcp\"\n") ==
        std::vector<std::string>{"probes/web.toml:1:1: port: a tcp probe needs a port"});
}

TEST_CASE("every error is reported with file:line:col, top to bottom") {
  auto errors = errors_of(R"(type = "ftp"
port = 70000
path = "healthz"
method = "POST"
host = "bad host"
expect_status = [200, "6xx", "299-200", 99]
interval = "soon"
rise = 0
fall = "2"
colour = "blue"
headers = { "Bad Header" = "x", Host = "h", "X-A" = 1 }
)");
  CHECK(errors == std::vector<std::string>{
      "probes/web.toml:1:8: type: must be \"http\", \"https\" or \"tcp\"",
      "probes/web.toml:2:8: port: must be an integer 1..65535",
      "probes/web.toml:3:8: path: must start with \"/\" and contain no spaces",
      "probes/web.toml:4:10: method: must be \"GET\" or \"HEAD\"",
      "probes/web.toml:5:8: host: must be a host name such as \"www.example.com\"",
      "probes/web.toml:6:23: expect_status[1]: must be a status code 100..599, \"2xx\" or a range \"200-299\"",
      "probes/web.toml:6:30: expect_status[2]: must be a status code 100..599, \"2xx\" or a range \"200-299\"",
      "probes/web.toml:6:41: expect_status[3]: must be a status code 100..599, \"2xx\" or a range \"200-299\"",
      "probes/web.toml:7:12: interval: must be a duration such as \"250ms\", \"1s\" or \"5m\"",
      "probes/web.toml:8:8: rise: must be an integer 1..100",
      "probes/web.toml:9:8: fall: must be an integer 1..100",
      "probes/web.toml:10:1: colour: unknown key",
      "probes/web.toml:11:13: headers.Bad Header: must be a header name",
      "probes/web.toml:11:33: headers.Host: set the Host header with the key `host`",
      "probes/web.toml:11:53: headers.X-A: must be a string",
  });
}

TEST_CASE("timing and method constraints") {
  CHECK(errors_of("interval = \"1s\"\ntimeout = \"2s\"\n") ==
        std::vector<std::string>{"probes/web.toml:2:11: timeout: must be at most interval (1s)"});
  CHECK(errors_of("fast_interval = \"5s\"\n") ==
        std::vector<std::string>{"probes/web.toml:1:17: fast_interval: must be at most interval (1s)"});
  CHECK(errors_of("method = \"HEAD\"\nexpect_body = \"ok\"\n") ==
        std::vector<std::string>{"probes/web.toml:2:15: expect_body: cannot be checked with method HEAD"});
  CHECK(errors_of("timeout = \"0ms\"\n") ==
        std::vector<std::string>{"probes/web.toml:1:11: timeout: must be a duration such as \"250ms\", \"1s\" or \"5m\""});
}

TEST_CASE("keys that do not apply to the probe's type are errors") {
  CHECK(errors_of("type = \"tcp\"\nport = 22\npath = \"/\"\n") ==
        std::vector<std::string>{"probes/web.toml:3:8: path: only for http and https probes"});
  CHECK(errors_of("verify = false\n") ==
        std::vector<std::string>{"probes/web.toml:1:10: verify: only for https probes"});
}

TEST_CASE("TOML syntax errors carry their position") {
  auto errors = errors_of("type = \n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("probes/web.toml:1:", 0) == 0);
}

TEST_CASE("load_probes reads every *.toml in a directory, sorted, and reports all files' errors") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("gslbd-probes-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  };
  write("web.toml", "path = \"/healthz\"\n");
  write("db.toml", "type = \"tcp\"\nport = 5432\n");
  write("README.md", "not a probe\n");

  core::Errors errors;
  auto specs = config::load_probes(dir.string(), errors);
  REQUIRE(specs);
  REQUIRE(specs->size() == 2);
  CHECK((*specs)[0].name == "db");
  CHECK((*specs)[1].name == "web");

  write("bad.toml", "rise = 0\n");
  write("worse.toml", "port = \"x\"\n");
  errors.clear();
  CHECK_FALSE(config::load_probes(dir.string(), errors));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].to_string() == (dir / "bad.toml").string() + ":1:8: rise: must be an integer 1..100");
  CHECK(errors[1].to_string() == (dir / "worse.toml").string() + ":1:8: port: must be an integer 1..65535");

  errors.clear();
  CHECK_FALSE(config::load_probes((dir / "missing").string(), errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.rfind("cannot read directory", 0) == 0);
  fs::remove_all(dir);
}

TEST_CASE("equal files give equal specs, so a reload can keep health") {
  const char* text = "path = \"/a\"\nheaders = { A = \"1\" }\n";
  CHECK(parse_ok(text) == parse_ok(text));
  CHECK_FALSE(parse_ok(text) == parse_ok("path = \"/b\"\n"));
}
