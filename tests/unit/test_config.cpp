// gslbd.toml: checked structs, every error with its position.
#include <catch2/catch.hpp>

#include "config/config.hpp"

using namespace gslb;

namespace {
std::vector<std::string> errors_of(const std::string& text) {
  core::Errors errors;
  auto cfg = config::parse(text, "etc/gslbd.toml", errors);
  CHECK_FALSE(cfg);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}
}  // namespace

TEST_CASE("a good config parses, paths relative to the config file") {
  core::Errors errors;
  auto cfg = config::parse(R"(
[server]
listen = ["127.0.0.1:5353", "[::1]:5353"]
workers = 0
tcp_idle_timeout = "3s"

[[zone]]
name = "Example.test"
file = "zones/example.test.zone"
allow_transfer = ["127.0.0.1", "2001:db8::/32"]
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(errors.empty());
  CHECK(cfg->server.listen.size() == 2);
  CHECK(cfg->server.listen[1].to_string() == "[::1]:5353");
  CHECK(cfg->server.workers == 0);
  CHECK(cfg->server.tcp_idle_timeout == std::chrono::seconds(3));
  REQUIRE(cfg->zones.size() == 1);
  CHECK(cfg->zones[0].name == "Example.test.");
  CHECK(cfg->zones[0].file == "etc/zones/example.test.zone");
  CHECK(cfg->zones[0].allow_transfer.size() == 2);
}

TEST_CASE("every error is reported, each with file:line:col and key path") {
  auto e = errors_of(R"([server]
listen = ["127.0.0.1", "[::1]:53"]
workers = -1
colour = "blue"

[[zone]]
name = "a.test."
file = 42

[[zone]]
name = "a.test."
file = "a"
allow_transfer = ["not-an-ip"]
)");
  REQUIRE(e.size() == 6);
  CHECK(e[0] == "etc/gslbd.toml:2:11: server.listen[0]: must be an address and port such as "
                "\"127.0.0.1:53\" or \"[::1]:53\"");
  CHECK(e[1] == "etc/gslbd.toml:3:11: server.workers: must be an integer 0..256");
  CHECK(e[2] == "etc/gslbd.toml:4:1: server.colour: unknown key");
  CHECK(e[3] == "etc/gslbd.toml:8:8: zone[0].file: must be a string");
  CHECK(e[4] == "etc/gslbd.toml:11:8: zone[1].name: zone a.test. is declared twice");
  CHECK(e[5].rfind("etc/gslbd.toml:13:19: zone[1].allow_transfer[0]: ", 0) == 0);
}

TEST_CASE("TOML syntax errors carry the parser's position") {
  auto e = errors_of("[server\nlisten = 1\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("etc/gslbd.toml:1:", 0) == 0);
}

TEST_CASE("durations are checked") {
  auto e = errors_of("[server]\ntcp_idle_timeout = \"10 parsecs\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("etc/gslbd.toml:2:20: server.tcp_idle_timeout: must be a duration", 0) == 0);
}

TEST_CASE("[limits]: defaults, sizes with a unit, and bad values with their position") {
  core::Errors errors;
  auto cfg = config::parse("[server]\nlisten = [\"127.0.0.1:53\"]\n", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->limits.include_depth == 10);
  CHECK(cfg->limits.includes == 1000);
  CHECK(cfg->limits.zone_records == 10'000'000);
  CHECK(cfg->limits.zone_bytes == uint64_t(1) << 30);
  cfg = config::parse("[limits]\ninclude_depth = 3\nincludes = 0\nzone_records = 500\n"
                      "zone_bytes = \"512M\"\n", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->limits.include_depth == 3);
  CHECK(cfg->limits.includes == 0);
  CHECK(cfg->limits.zone_records == 500);
  CHECK(cfg->limits.zone_bytes == uint64_t(512) << 20);
  cfg = config::parse("[limits]\nzone_bytes = 4096\n", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->limits.zone_bytes == 4096);
  auto errs = errors_of("[limits]\ninclude_depth = -1\nzone_bytes = \"1T\"\nzone_records = 0\nfiles = 3\n");
  REQUIRE(errs.size() == 4);
  CHECK_THAT(errs[0], Catch::StartsWith("etc/gslbd.toml:2:17: limits.include_depth: must be an integer 0..100"));
  CHECK_THAT(errs[1], Catch::StartsWith("etc/gslbd.toml:3:14: limits.zone_bytes: must be a size in bytes"));
  CHECK_THAT(errs[2], Catch::StartsWith("etc/gslbd.toml:4:16: limits.zone_records: must be an integer"));
  CHECK(errs[3] == "etc/gslbd.toml:5:1: limits.files: unknown key");
  CHECK(errors_of("limits = 3\n").at(0) == "etc/gslbd.toml:1:10: limits: must be a table");
}
