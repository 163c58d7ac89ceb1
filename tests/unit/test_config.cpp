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
also_notify = ["192.0.2.53:53", "[2001:db8::53]:5300"]
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
  REQUIRE(cfg->zones[0].also_notify.size() == 2);
  CHECK(cfg->zones[0].also_notify[1].to_string() == "[2001:db8::53]:5300");
}

TEST_CASE("allow_transfer may name TSIG keys; [tsig] key_files are relative to the config") {
  core::Errors errors;
  auto cfg = config::parse(R"(
[tsig]
key_files = ["keys/xfr.key"]

[[zone]]
name = "a.test."
file = "a"
allow_transfer = ["192.0.2.0/24", "key xfr-key"]
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->tsig_key_files == std::vector<std::string>{"etc/keys/xfr.key"});
  CHECK(cfg->zones[0].allow_transfer.size() == 1);
  CHECK(cfg->zones[0].transfer_keys == std::vector<std::string>{"xfr-key"});
  CHECK(cfg->zones[0].transfer_key_at[0].line == 8);
}

TEST_CASE("also_notify needs an address and a port") {
  auto e = errors_of(R"([[zone]]
name = "a.test."
file = "a"
also_notify = ["192.0.2.53", "192.0.2.53:0"]
)");
  REQUIRE(e.size() == 2);
  CHECK(e[0] == "etc/gslbd.toml:4:16: zone[0].also_notify[0]: must be an address and port such as "
                "\"192.0.2.53:53\" or \"[2001:db8::53]:53\", optionally followed by \"key NAME\" "
                "for a TSIG key");
  CHECK(e[1].rfind("etc/gslbd.toml:4:30: zone[0].also_notify[1]: ", 0) == 0);
}

TEST_CASE("ixfr_history: versions kept for IXFR, 16 unless set, 0..1000") {
  core::Errors errors;
  auto cfg = config::parse("[[zone]]\nname = \"a.test.\"\nfile = \"a\"\n\n[[zone]]\nname = \"b.test.\"\n"
                           "file = \"b\"\nixfr_history = 0\n", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->zones[0].ixfr_history == 16);
  CHECK(cfg->zones[1].ixfr_history == 0);
  auto e = errors_of(R"([[zone]]
name = "a.test."
file = "a"
ixfr_history = 1001
)");
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "etc/gslbd.toml:4:16: zone[0].ixfr_history: must be an integer 0..1000");
}

TEST_CASE("an also_notify entry may name the TSIG key its NOTIFY is signed with") {
  core::Errors errors;
  auto cfg = config::parse(R"([[zone]]
name = "a.test."
file = "a"
also_notify = ["192.0.2.53:53", "[2001:db8::53]:5300 key xfr-key", "127.0.0.1:53  key  k2"]
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(errors.empty());
  const auto& z = cfg->zones[0];
  REQUIRE(z.also_notify.size() == 3);
  CHECK(z.also_notify[1].to_string() == "[2001:db8::53]:5300");
  CHECK(z.notify_keys == std::vector<std::string>{"", "xfr-key", "k2"});
  CHECK(z.notify_key_at[1].line == 4);
  CHECK(z.notify_key_at[1].col == 33);

  auto e = errors_of(R"([[zone]]
name = "a.test."
file = "a"
also_notify = ["192.0.2.53:53 key", "192.0.2.53:53 xfr-key", "192.0.2.53:53 key a b"]
)");
  REQUIRE(e.size() == 3);
  CHECK(e[0].rfind("etc/gslbd.toml:4:16: zone[0].also_notify[0]: must be an address and port", 0) == 0);
  CHECK(e[1].rfind("etc/gslbd.toml:4:37: zone[0].also_notify[1]: ", 0) == 0);
  CHECK(e[2].rfind("etc/gslbd.toml:4:62: zone[0].also_notify[2]: ", 0) == 0);
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

TEST_CASE("TCP limits: defaults, values, ranges") {
  core::Errors errors;
  auto def = config::parse("", "etc/gslbd.toml", errors);
  REQUIRE(def);
  CHECK(def->server.tcp_frame_timeout == std::chrono::seconds(5));
  CHECK(def->server.tcp_max_connections_per_source == 256);
  CHECK(def->server.tcp_max_output == 262144);
  auto cfg = config::parse(R"([server]
tcp_frame_timeout = "1500ms"
tcp_max_connections_per_source = 0
tcp_max_output = 65537
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->server.tcp_frame_timeout == std::chrono::milliseconds(1500));
  CHECK(cfg->server.tcp_max_connections_per_source == 0);
  CHECK(cfg->server.tcp_max_output == 65537);
  // Less than one maximal answer could never be sent.
  auto e = errors_of("[server]\ntcp_max_output = 65536\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("etc/gslbd.toml:2:18: server.tcp_max_output:", 0) == 0);
}

TEST_CASE("[control] and [metrics] connection limits: defaults, values, ranges") {
  core::Errors errors;
  auto cfg = config::parse("[metrics]\nlisten = \"127.0.0.1:9153\"\n", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->control.max_connections == 16);
  CHECK(cfg->control.idle_timeout == std::chrono::seconds(30));
  CHECK(cfg->metrics.max_connections == 16);
  CHECK(cfg->metrics.max_connections_per_source == 4);
  CHECK(cfg->metrics.idle_timeout == std::chrono::seconds(10));

  cfg = config::parse(R"([control]
max_connections = 4
idle_timeout = "5s"

[metrics]
listen = "127.0.0.1:9153"
max_connections = 32
max_connections_per_source = 2
idle_timeout = "1500ms"
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->control.max_connections == 4);
  CHECK(cfg->control.idle_timeout == std::chrono::seconds(5));
  CHECK(cfg->metrics.max_connections == 32);
  CHECK(cfg->metrics.max_connections_per_source == 2);
  CHECK(cfg->metrics.idle_timeout == std::chrono::milliseconds(1500));

  auto e = errors_of(R"([control]
max_connections = 0
idle_timeout = "0s"

[metrics]
max_connections_per_source = 5000
)");
  REQUIRE(e.size() == 3);
  CHECK(e[0] == "etc/gslbd.toml:2:19: control.max_connections: must be an integer 1..4096");
  CHECK(e[1].rfind("etc/gslbd.toml:3:16: control.idle_timeout: must be a duration", 0) == 0);
  CHECK(e[2] == "etc/gslbd.toml:6:30: metrics.max_connections_per_source: must be an integer 1..4096");
}

TEST_CASE("server.user and server.group may not be root: the drop is meant to leave it") {
  auto e = errors_of("[server]\nuser = \"gslbd\"\ngroup = \"root\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("etc/gslbd.toml:3:9: server.group: must not be root", 0) == 0);
  e = errors_of("[server]\nuser = \"root\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("etc/gslbd.toml:2:8: server.user: must not be root", 0) == 0);
  core::Errors errors;
  CHECK(config::parse("[server]\nuser = \"gslbd\"\ngroup = \"gslbd\"\n", "etc/gslbd.toml", errors));
}

TEST_CASE("[rrl] and [cookies]: defaults, values, errors with positions") {
  core::Errors errors;
  auto def = config::parse("", "etc/gslbd.toml", errors);
  REQUIRE(def);
  CHECK_FALSE(def->rrl.enabled());
  CHECK(def->rrl.window == 15);
  CHECK(def->rrl.slip == 2);
  CHECK(def->rrl.ipv4_prefix == 24);
  CHECK(def->rrl.ipv6_prefix == 56);
  CHECK(def->rrl.table_size == 65536);
  CHECK(def->cookies.enabled);
  CHECK_FALSE(def->cookies.require);
  CHECK_FALSE(def->cookies.secret);
  CHECK(def->cookies.rotate_seconds == 3600);

  auto cfg = config::parse(R"(
[rrl]
responses_per_second = 10
errors_per_second = 2
window = "5s"
slip = 0
ipv4_prefix = 32
ipv6_prefix = 64
exempt = ["127.0.0.1", "2001:db8::/32"]
log_only = true
table_size = 1024

[cookies]
secret = "E5E973E5A6B2A43F48E7DC849E37BFCF"
rotate = "30m"
require = true
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->rrl.responses_per_second == 10);
  CHECK(cfg->rrl.nxdomains_per_second == 10);  // defaults to responses_per_second
  CHECK(cfg->rrl.errors_per_second == 2);
  CHECK(cfg->rrl.window == 5);
  CHECK(cfg->rrl.slip == 0);
  CHECK(cfg->rrl.ipv4_prefix == 32);
  CHECK(cfg->rrl.ipv6_prefix == 64);
  CHECK(cfg->rrl.exempt.size() == 2);
  CHECK(cfg->rrl.log_only);
  CHECK(cfg->rrl.table_size == 1024);
  REQUIRE(cfg->cookies.secret);
  CHECK((*cfg->cookies.secret)[0] == 0xE5);
  CHECK((*cfg->cookies.secret)[15] == 0xCF);
  CHECK(cfg->cookies.rotate_seconds == 1800);
  CHECK(cfg->cookies.require);

  CHECK(errors_of(R"([rrl]
responses_per_second = -1
window = "1500ms"
slip = 11
ipv6_prefix = 129
exempt = ["nope"]
burst = 3
[cookies]
secret = "0123"
rotate = "10s"
enabled = "yes"
)") == std::vector<std::string>{
            "etc/gslbd.toml:2:24: rrl.responses_per_second: must be an integer 0..1000000",
            "etc/gslbd.toml:3:10: rrl.window: must be whole seconds from \"1s\" to \"1h\"",
            "etc/gslbd.toml:4:8: rrl.slip: must be an integer 0..10",
            "etc/gslbd.toml:5:15: rrl.ipv6_prefix: must be an integer 1..128",
            "etc/gslbd.toml:6:11: rrl.exempt[0]: must be an address or prefix such as \"192.0.2.1\" or \"2001:db8::/32\"",
            "etc/gslbd.toml:7:1: rrl.burst: unknown key",
            "etc/gslbd.toml:9:10: cookies.secret: must be 32 hex digits (16 bytes)",
            "etc/gslbd.toml:10:10: cookies.rotate: must be from \"1m\" to \"24h\"",
            "etc/gslbd.toml:11:11: cookies.enabled: must be true or false"});
  CHECK(errors_of("rrl = 3\n") == std::vector<std::string>{"etc/gslbd.toml:1:7: rrl: must be a table"});
}

TEST_CASE("pool names are identifiers, regions free text without control characters") {
  auto e = errors_of(R"x([[pool]]
name = "hang zhou"
region = "US East (N. Virginia)"
probe = "http"
addresses = ["192.0.2.1"]

[[pool]]
name = "ok"
region = "line\nbreak"
probe = "http"
addresses = ["192.0.2.2"]
)x");
  REQUIRE(e.size() == 2);
  CHECK(e[0].rfind("etc/gslbd.toml:2:8: pool[0].name: must not contain spaces", 0) == 0);
  CHECK(e[1].rfind("etc/gslbd.toml:9:10: pool[1].region: must not contain control characters", 0) == 0);
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

namespace {
const char* kMapPools = R"([server]
listen = ["127.0.0.1:5353"]

[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = ["127.0.0.2"]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = ["127.0.0.3"]
)";
}  // namespace

TEST_CASE("[[map]]: nets, weights and a name that uses it") {
  core::Errors errors;
  auto cfg = config::parse(std::string(kMapPools) + R"(
[[map]]
name = "by-source"
default = ["cn-hangzhou", "cn-shanghai"]
nets = [
  { cidr = "198.51.100.0/24", regions = ["cn-shanghai", "cn-hangzhou"] },
  { cidr = "2001:db8:1::/48", regions = ["cn-shanghai"] },
  { cidr = "203.0.113.0/24", weights = { "cn-hangzhou" = 90, "cn-shanghai" = 10 } },
]

[[name]]
fqdn = "www.example.test."
pools = ["hangzhou", "shanghai"]
map = "by-source"
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->server.ecs);
  REQUIRE(cfg->gtm.names.size() == 1);
  const auto& map = cfg->gtm.names[0].map;
  REQUIRE(map);
  CHECK(map->config().nets.size() == 3);
  CHECK(map->config().nets[2].order.weights ==
        std::vector<std::pair<std::string, uint32_t>>{{"cn-hangzhou", 90}, {"cn-shanghai", 10}});
  CHECK(map->classes().size() == 4);
}

TEST_CASE("[[map]] errors name the key and the position") {
  auto e = errors_of(std::string(kMapPools) + R"(
[[map]]
name = "m"
default = ["cn-hangzhou", "cn-beijing"]
nets = [
  { cidr = "198.51.100.7/24", regions = ["cn-shanghai"] },
  { cidr = "198.51.100", regions = ["cn-shanghai"] },
  { cidr = "10.0.0.0/8" },
  { cidr = "10.0.0.0/8", regions = ["cn-shanghai"], weights = { "cn-shanghai" = 0 } },
]

[[name]]
fqdn = "www.example.test."
pools = ["hangzhou"]
map = "other"
)");
  std::string all;
  for (const auto& s : e) all += s + "\n";
  INFO(all);
  REQUIRE(e.size() == 8);
  CHECK(e[0] == "etc/gslbd.toml:18:27: map[0].default[1]: no pool has region \"cn-beijing\"");
  CHECK(e[1] == "etc/gslbd.toml:20:12: map[0].nets[0].cidr: has bits set beyond /24: did you "
                "mean 198.51.100.0/24?");
  CHECK(e[2].rfind("etc/gslbd.toml:21:12: map[0].nets[1].cidr: must be a prefix", 0) == 0);
  CHECK(e[3].rfind("etc/gslbd.toml:22:3: map[0].nets[2]: needs regions = [...] or weights", 0) == 0);
  CHECK(e[4] == "etc/gslbd.toml:23:12: map[0].nets[3].cidr: 10.0.0.0/8 is listed twice");
  CHECK(e[5] == "etc/gslbd.toml:23:63: map[0].nets[3].weights: give regions or weights, not both");
  CHECK(e[6] == "etc/gslbd.toml:23:81: map[0].nets[3].weights.cn-shanghai: must be an integer 1..1000");
  CHECK(e[7] == "etc/gslbd.toml:29:7: name[0].map: no map named \"other\"");
}

TEST_CASE("[server] ecs turns EDNS Client Subnet off") {
  core::Errors errors;
  auto cfg = config::parse("[server]\nlisten = [\"127.0.0.1:53\"]\necs = false\n", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK_FALSE(cfg->server.ecs);
  auto e = errors_of("[server]\nlisten = [\"127.0.0.1:53\"]\necs = \"yes\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "etc/gslbd.toml:3:7: server.ecs: must be true or false");
}

TEST_CASE("sticky needs return = \"one\"") {
  core::Errors errors;
  auto cfg = config::parse(std::string(kMapPools) + R"(
[[name]]
fqdn = "www.example.test."
pools = ["hangzhou", "shanghai"]
return = "one"
sticky = true
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->gtm.names[0].sticky);
  auto e = errors_of(std::string(kMapPools) + R"(
[[name]]
fqdn = "www.example.test."
pools = ["hangzhou", "shanghai"]
sticky = true
)");
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "etc/gslbd.toml:19:10: name[0].sticky: needs return = \"one\"");
}

TEST_CASE("[[map]] geo rules need a DB; a DB that cannot be read is an error at geoip") {
  auto e = errors_of(std::string(kMapPools) + R"(
[[map]]
name = "m"
default = ["cn-hangzhou"]
geoip = "missing.mmdb"
geo = [{ location = "AS", regions = ["cn-shanghai"] }, { location = "asia", regions = ["cn-shanghai"] }]
nearest = true

[[map]]
name = "n"
default = ["cn-hangzhou"]
geo = [{ location = "JP", regions = ["cn-shanghai"] }]
)");
  std::string all;
  for (const auto& s : e) all += s + "\n";
  INFO(all);
  REQUIRE(e.size() == 3);
  CHECK(e[0].rfind("etc/gslbd.toml:20:69: map[0].geo[1].location: must be a continent", 0) == 0);
  CHECK(e[1] == "etc/gslbd.toml:21:11: map[0].nearest: no pool has a location = { lat = .., lon = .. } "
                "to measure from");
  CHECK(e[2] == "etc/gslbd.toml:26:7: map[1].geo: needs geoip = \"PATH\" (a MaxMind DB) to locate clients");
}

TEST_CASE("[[map]] a GeoIP2 DB that cannot be read is an error at geoip") {
  auto e = errors_of(std::string(kMapPools) + R"(
[[map]]
name = "m"
default = ["cn-hangzhou"]
geoip = "missing.mmdb"
geo = [{ location = "CN-31", regions = ["cn-shanghai"] }]
)");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("etc/gslbd.toml:19:9: map[0].geoip: cannot read etc/missing.mmdb: ", 0) == 0);
}

TEST_CASE("[cluster] and probe_source: the issue's keys, defaults, and errors with positions") {
  core::Errors errors;
  auto cfg = config::parse(R"(
[server]
probe_source = "127.0.0.1"
[cluster]
etcd = ["http://127.0.0.1:2379", "https://10.0.0.2:2379/"]
node = "hz-1"
prefix = "/gslbd/prod/"
down_when = "50%"
lease = "3s"
ca_file = "ca.pem"
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(cfg->server.probe_source->to_string() == "127.0.0.1");
  const auto& cl = cfg->cluster;
  CHECK(cl.enabled());
  CHECK(cl.etcd == std::vector<std::string>{"http://127.0.0.1:2379", "https://10.0.0.2:2379"});
  CHECK(cl.node == "hz-1");
  CHECK(cl.prefix == "/gslbd/prod");
  CHECK(cl.down_when.kind == cluster::DownWhen::Kind::share);
  CHECK(cl.down_when.n == 50);
  CHECK(cl.lease == std::chrono::seconds(3));
  CHECK(cl.ca_file == "etc/ca.pem");

  auto plain = config::parse("", "etc/gslbd.toml", errors);
  REQUIRE(plain);
  CHECK_FALSE(plain->cluster.enabled());
  CHECK_FALSE(plain->server.probe_source);
  CHECK(plain->cluster.down_when.kind == cluster::DownWhen::Kind::majority);

  CHECK(errors_of(R"([cluster]
etcd = ["127.0.0.1:2379"]
down_when = "most"
lease = "1500ms"
colour = 1
)") == std::vector<std::string>{
            "etc/gslbd.toml:1:1: cluster.node: is required: this instance's name, unique in the deployment",
            "etc/gslbd.toml:2:9: cluster.etcd[0]: must be an http:// or https:// URL such as \"http://127.0.0.1:2379\"",
            "etc/gslbd.toml:3:13: cluster.down_when: must be \"any\", \"majority\", \"all\", a count (\"2\") or a share (\"50%\")",
            "etc/gslbd.toml:4:9: cluster.lease: must be whole seconds, 1s..1h (etcd leases count seconds)",
            "etc/gslbd.toml:5:1: cluster.colour: unknown key"});
  CHECK(errors_of("[cluster]\netcd = [\"http://e:2379\"]\nnode = \"hz 1\"\nprefix = \"gslbd\"\n[server]\nprobe_source = \"here\"\n") ==
        std::vector<std::string>{
            "etc/gslbd.toml:3:8: cluster.node: must be 1-64 letters, digits, '-', '_' or '.'",
            "etc/gslbd.toml:4:10: cluster.prefix: must be a key path such as \"/gslbd/prod\"",
            "etc/gslbd.toml:6:16: server.probe_source: must be an IPv4 or IPv6 address such as \"192.0.2.1\""});
}

TEST_CASE("[[pool]] location: degrees, checked with their position") {
  auto e = errors_of(R"([server]
listen = ["127.0.0.1:5353"]

[[pool]]
name = "a"
region = "r"
probe = "gw"
addresses = ["127.0.0.2"]
location = { lat = 95.0, lon = 10 }

[[pool]]
name = "b"
region = "s"
probe = "gw"
addresses = ["127.0.0.3"]
location = "Shanghai"
)");
  std::string all;
  for (const auto& s : e) all += s + "\n";
  INFO(all);
  REQUIRE(e.size() == 2);
  CHECK(e[0] == "etc/gslbd.toml:9:20: pool[0].location.lat: must be a number of degrees, -90..90");
  CHECK(e[1] == "etc/gslbd.toml:16:12: pool[1].location: must be { lat = 31.23, lon = 121.47 }");
}

TEST_CASE("transfer_dynamic: fail_open by default, or omit") {
  core::Errors errors;
  auto cfg = config::parse(R"([[zone]]
name = "a.test."
file = "a"

[[zone]]
name = "b.test."
file = "b"
transfer_dynamic = "omit"
)", "etc/gslbd.toml", errors);
  REQUIRE(cfg);
  CHECK(errors.empty());
  CHECK(cfg->zones[0].transfer_dynamic == config::TransferDynamic::fail_open);
  CHECK(cfg->zones[1].transfer_dynamic == config::TransferDynamic::omit);
  auto e = errors_of("[[zone]]\nname = \"a.test.\"\nfile = \"a\"\ntransfer_dynamic = \"none\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "etc/gslbd.toml:4:20: zone[0].transfer_dynamic: must be \"fail_open\" or \"omit\"");
}
