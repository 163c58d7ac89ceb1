// gslbctl status built a slice at a time reads the same as built at once, and each slice stops
// when its time is spent.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "daemon/report.hpp"
#include "pool/engine.hpp"

using namespace gslb;

namespace {

core::IpAddress ip(const std::string& s) { return *core::IpAddress::parse(s); }

// `names` failover names over two one-address pools, the second pool's address down.
pool::Engine engine(size_t names) {
  pool::Config c;
  c.pools.push_back({"east", "r-east", "tcp", {{ip("192.0.2.1"), 1}}, 1});
  c.pools.push_back({"west", "r-west", "tcp", {{ip("2001:db8::1"), 1}}, 1});
  for (size_t i = 0; i < names; ++i) {
    pool::Name n;
    n.fqdn = fmt::format("n{}.example.test.", i);
    n.pools = {{0, 1}, {1, 1}};
    c.names.push_back(n);
  }
  pool::Engine e(c, {{"tcp", {1, 1}}}, true);
  std::vector<pool::Event> events;
  const health::MonoTime t{};
  e.record(1, false, "connection refused", {}, t, events);
  e.record(0, true, "connected", {}, t, events);
  return e;
}

}  // namespace

TEST_CASE("status in slices: the same text and JSON as at once, over many steps") {
  const pool::Engine e = engine(3000);
  daemon::DrainBook drains;
  drains.set("192.0.2.9", 0, "ops", "rack move");
  const health::MonoTime now{};
  for (bool json : {false, true}) {
    daemon::StatusBuilder b(json);
    int steps = 1;
    while (!b.step(e, now, drains, std::chrono::nanoseconds(0))) ++steps;
    // A spent budget still writes 255 rows: 3,000 names and 2 addresses need 12 steps.
    CHECK(steps == 12);
    const std::string whole = json ? daemon::status_json(e, now, drains) : daemon::status_text(e, now, drains);
    CHECK(b.text() == whole);
    CHECK(whole.find("n2999.example.test.") != std::string::npos);
    CHECK(whole.find("rack move") != std::string::npos);
  }
  const std::string text = daemon::status_text(e, now, drains);
  CHECK(text.find("n7.example.test.             failover  east                 192.0.2.1 / -\n") !=
        std::string::npos);
  CHECK(text.find("2001:db8::1                ") != std::string::npos);
}
