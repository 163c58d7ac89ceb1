// SipHash-2-4, RFC 9018 server cookies, response rate limiting (with a manual clock: `now` is
// an argument), and both as the query handler applies them.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include <string>
#include <vector>

#include "core/siphash.hpp"
#include "dns/cookie.hpp"
#include "dns/rrl.hpp"
#include "dns_test_util.hpp"

using namespace gslb;

namespace {

std::vector<uint8_t> hex(std::string_view h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
  return s;
}

core::SipKey key_of(std::string_view h) {
  core::SipKey k;
  auto b = hex(h);
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

core::IpAddress ip(const char* text) { return *core::IpAddress::parse(text); }

}  // namespace

TEST_CASE("SipHash-2-4 matches the reference vectors") {
  // The paper's key 00 01 .. 0f and messages 00 01 .. (len-1): vectors.h of the reference code
  // (len 15 is the worked example in the paper's appendix A).
  core::SipKey k;
  for (int i = 0; i < 16; ++i) k[size_t(i)] = uint8_t(i);
  uint8_t msg[64];
  for (int i = 0; i < 64; ++i) msg[i] = uint8_t(i);
  CHECK(core::siphash24(k, msg, 0) == 0x726fdb47dd0e0e31ULL);
  CHECK(core::siphash24(k, msg, 1) == 0x74f839c593dc67fdULL);
  CHECK(core::siphash24(k, msg, 15) == 0xa129ca6149be45e5ULL);
  CHECK(core::siphash24(k, msg, 63) == 0x958a324ceb064572ULL);
  // Unaligned input gives the same result.
  uint8_t shifted[65];
  std::memcpy(shifted + 1, msg, 63);
  CHECK(core::siphash24(k, shifted + 1, 63) == 0x958a324ceb064572ULL);
}

TEST_CASE("RFC 9018 appendix A: server cookies byte for byte") {
  const auto secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  dns::CookieSecrets s;
  s.current = secret;
  uint8_t out[16];

  SECTION("A.1: a new server cookie for a client cookie") {
    auto cc = hex("2464c4abcf10c957");
    dns::make_server_cookie(secret, cc.data(), 1559731985, ip("198.51.100.100"), out);
    CHECK(to_hex(out, 16) == "010000005cf79f111f8130c3eee29480");
  }
  SECTION("A.2: 40 minutes later the cookie is valid but renewed") {
    auto c = hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
    CHECK(dns::check_server_cookie(s, c.data(), c.data() + 8, 16, ip("198.51.100.100"), 1559734385) ==
          dns::CookieCheck::refresh);
    // Within half an hour it is kept as it is.
    CHECK(dns::check_server_cookie(s, c.data(), c.data() + 8, 16, ip("198.51.100.100"), 1559731985 + 1800) ==
          dns::CookieCheck::valid);
    dns::make_server_cookie(secret, c.data(), 1559734385, ip("198.51.100.100"), out);
    CHECK(to_hex(out, 16) == "010000005cf7a871d4a564a1442aca77");
    // From another address, or with a bit flipped, it is not ours.
    CHECK(dns::check_server_cookie(s, c.data(), c.data() + 8, 16, ip("198.51.100.101"), 1559734385) ==
          dns::CookieCheck::invalid);
    c[23] ^= 1;
    CHECK(dns::check_server_cookie(s, c.data(), c.data() + 8, 16, ip("198.51.100.100"), 1559734385) ==
          dns::CookieCheck::invalid);
  }
  SECTION("A.3: reserved bytes are hashed as received; the reply zeroes them") {
    auto c = hex("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
    CHECK(dns::check_server_cookie(s, c.data(), c.data() + 8, 16, ip("203.0.113.203"), 1559727985) ==
          dns::CookieCheck::valid);
    // The example's reply comes 1h52m after: past the hour, so the cookie is no longer valid.
    CHECK(dns::check_server_cookie(s, c.data(), c.data() + 8, 16, ip("203.0.113.203"), 1559734700) ==
          dns::CookieCheck::invalid);
    dns::make_server_cookie(secret, c.data(), 1559734700, ip("203.0.113.203"), out);
    CHECK(to_hex(out, 16) == "010000005cf7a9acf73a7810aca2381e");
  }
  SECTION("A.4: IPv6, made with the previous secret: valid, renewed with the new one") {
    dns::CookieSecrets rolled;
    rolled.current = key_of("445536bcd2513298075a5d379663c962");
    rolled.previous = key_of("dd3bdf9344b678b185a6f5cb60fca715");
    rolled.has_previous = true;
    auto c = hex("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
    const auto v6 = ip("2001:db8:220:1:59de:d0f4:8769:82b8");
    CHECK(dns::check_server_cookie(rolled, c.data(), c.data() + 8, 16, v6, 1559741961) ==
          dns::CookieCheck::refresh);
    rolled.has_previous = false;
    CHECK(dns::check_server_cookie(rolled, c.data(), c.data() + 8, 16, v6, 1559741961) ==
          dns::CookieCheck::invalid);
    dns::make_server_cookie(rolled.current, c.data(), 1559741961, v6, out);
    CHECK(to_hex(out, 16) == "010000005cf7c609a6bb79d16625507a");
  }
}

TEST_CASE("server cookie timestamps: an hour old or 5 minutes ahead is invalid") {
  dns::CookieSecrets s;
  s.current = key_of("000102030405060708090a0b0c0d0e0f");
  const auto a = ip("192.0.2.1");
  const uint8_t cc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t sc[16];
  const uint32_t t = 1700000000;
  dns::make_server_cookie(s.current, cc, t, a, sc);
  CHECK(dns::check_server_cookie(s, cc, sc, 16, a, t + 3600) == dns::CookieCheck::refresh);
  CHECK(dns::check_server_cookie(s, cc, sc, 16, a, t + 3601) == dns::CookieCheck::invalid);
  CHECK(dns::check_server_cookie(s, cc, sc, 16, a, t - 300) == dns::CookieCheck::valid);
  CHECK(dns::check_server_cookie(s, cc, sc, 16, a, t - 301) == dns::CookieCheck::invalid);
  CHECK(dns::check_server_cookie(s, cc, sc, 8, a, t) == dns::CookieCheck::invalid);  // not ours
  sc[0] = 2;  // another version
  CHECK(dns::check_server_cookie(s, cc, sc, 16, a, t) == dns::CookieCheck::invalid);
}

TEST_CASE("rotating secrets: one per epoch, the previous one still accepted") {
  dns::CookieConfig cfg;
  cfg.master = key_of("0f0e0d0c0b0a09080706050403020100");
  cfg.rotate_seconds = 3600;
  const uint32_t t = 1700000000 - 1700000000 % 3600;  // the start of an epoch
  const auto s0 = dns::cookie_secrets(cfg, t);
  const auto s0_end = dns::cookie_secrets(cfg, t + 3599);
  const auto s1 = dns::cookie_secrets(cfg, t + 3600);
  CHECK(s0.current == s0_end.current);
  CHECK(s1.current != s0.current);
  CHECK(s1.previous == s0.current);
  CHECK(s1.has_previous);
  // A cookie from the end of epoch 0 is still accepted just after the rotation.
  const auto a = ip("192.0.2.1");
  const uint8_t cc[8] = {8, 7, 6, 5, 4, 3, 2, 1};
  uint8_t sc[16];
  dns::make_server_cookie(s0.current, cc, t + 3599, a, sc);
  CHECK(dns::check_server_cookie(s1, cc, sc, 16, a, t + 3601) == dns::CookieCheck::refresh);
  // Two epochs later it is not.
  CHECK(dns::check_server_cookie(dns::cookie_secrets(cfg, t + 7200), cc, sc, 16, a, t + 7200) ==
        dns::CookieCheck::invalid);
  // A configured secret is used as it is, never rotated.
  cfg.secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  CHECK(dns::cookie_secrets(cfg, t).current == *cfg.secret);
  CHECK(dns::cookie_secrets(cfg, t + 86400).current == *cfg.secret);
  CHECK_FALSE(dns::cookie_secrets(cfg, t).has_previous);
}

namespace {

const core::SipKey kHashKey{1, 2, 3};
const uint8_t kName[] = "\3www\7example\4test";  // wire, with the root's 0 from the literal
constexpr size_t kNameLen = sizeof kName;

dns::RrlConfig rrl_cfg(unsigned rate) {
  dns::RrlConfig c;
  c.responses_per_second = c.nxdomains_per_second = c.errors_per_second = rate;
  c.table_size = 1024;
  return c;
}

std::vector<dns::RrlAction> run(dns::Rrl& r, const char* client, int n, uint32_t now,
                                dns::RrlKind kind = dns::RrlKind::answer) {
  std::vector<dns::RrlAction> out;
  for (int i = 0; i < n; ++i)
    out.push_back(r.account(ip(client), kind, dns::rrtype::A, false, kName, kNameLen, now));
  return out;
}

int count(const std::vector<dns::RrlAction>& v, dns::RrlAction a) {
  return int(std::count(v.begin(), v.end(), a));
}

std::vector<std::string> g_lines;
void capture(std::string_view line) { g_lines.emplace_back(line); }

}  // namespace

TEST_CASE("RRL: rate responses a second, then every slip-th limited one goes out truncated") {
  using A = dns::RrlAction;
  auto cfg = rrl_cfg(5);
  cfg.slip = 2;
  dns::Rrl r(cfg, kHashKey);
  const auto v = run(r, "192.0.2.1", 10, 100);
  CHECK(v == std::vector<A>{A::send, A::send, A::send, A::send, A::send, A::drop, A::slip,
                            A::drop, A::slip, A::drop});
  // The next second earns 5 more, but the debt of the first one is paid first (BIND's credit).
  const auto w = run(r, "192.0.2.1", 5, 101);
  CHECK(count(w, A::send) == 0);

  SECTION("slip = 1: every limited response slips; slip = 0: none does") {
    cfg.slip = 1;
    dns::Rrl one(cfg, kHashKey);
    auto a = run(one, "192.0.2.1", 20, 0);
    CHECK(count(a, A::send) == 5);
    CHECK(count(a, A::slip) == 15);
    cfg.slip = 0;
    dns::Rrl none(cfg, kHashKey);
    a = run(none, "192.0.2.1", 20, 0);
    CHECK(count(a, A::send) == 5);
    CHECK(count(a, A::drop) == 15);
  }
  SECTION("slip = 3: one in three") {
    cfg.slip = 3;
    dns::Rrl three(cfg, kHashKey);
    auto a = run(three, "192.0.2.1", 5 + 30, 0);
    CHECK(count(a, A::slip) == 10);
    CHECK(count(a, A::drop) == 20);
  }
}

TEST_CASE("RRL: the debt lasts the window, and a quiet window clears it") {
  using A = dns::RrlAction;
  auto cfg = rrl_cfg(5);
  cfg.window = 15;
  cfg.slip = 0;
  SECTION("a flood runs the balance down to -window*rate, not further") {
    dns::Rrl r(cfg, kHashKey);
    run(r, "192.0.2.1", 1000, 0);  // balance floored at -75
    // 14 seconds of quiet earn 70: still 5 short.
    CHECK(run(r, "192.0.2.1", 1, 14) == std::vector<A>{A::drop});
  }
  SECTION("just inside the window: still limited; just past it: a fresh bucket") {
    dns::Rrl r(cfg, kHashKey);
    run(r, "192.0.2.1", 1000, 0);
    CHECK(run(r, "192.0.2.1", 1, 15) == std::vector<A>{A::drop});  // -75 + 75 - 1 < 0
    dns::Rrl r2(cfg, kHashKey);
    run(r2, "192.0.2.1", 1000, 0);
    CHECK(run(r2, "192.0.2.1", 5, 16) == std::vector<A>(5, A::send));
  }
  SECTION("a client at the rate is never limited") {
    dns::Rrl r(cfg, kHashKey);
    for (uint32_t t = 0; t < 60; ++t) CHECK(count(run(r, "192.0.2.1", 5, t), A::send) == 5);
  }
}

TEST_CASE("RRL: netblocks, kinds and names make separate buckets") {
  using A = dns::RrlAction;
  auto cfg = rrl_cfg(2);
  cfg.slip = 0;
  dns::Rrl r(cfg, kHashKey);
  run(r, "10.0.0.1", 2, 0);
  // The same /24 shares the bucket...
  CHECK(run(r, "10.0.0.200", 1, 0) == std::vector<A>{A::drop});
  // ...another /24 has its own.
  CHECK(run(r, "10.0.1.1", 2, 0) == std::vector<A>(2, A::send));
  // IPv6: /56 by default.
  run(r, "2001:db8:0:100::1", 2, 0);
  CHECK(run(r, "2001:db8:0:1ff::2", 1, 0) == std::vector<A>{A::drop});
  CHECK(run(r, "2001:db8:0:200::1", 1, 0) == std::vector<A>{A::send});
  // Another kind of response, or another name, is another bucket.
  CHECK(run(r, "10.0.0.1", 2, 0, dns::RrlKind::nxdomain) == std::vector<A>(2, A::send));
  const uint8_t other[] = "\3ftp\7example\4test";
  CHECK(r.account(ip("10.0.0.1"), dns::RrlKind::answer, dns::rrtype::A, false, other, sizeof other, 0) ==
        A::send);
  // Errors are per netblock only: random names share one bucket.
  CHECK(r.account(ip("10.0.2.1"), dns::RrlKind::error, 1, false, kName, kNameLen, 0) == A::send);
  CHECK(r.account(ip("10.0.2.1"), dns::RrlKind::error, 1, false, other, sizeof other, 0) == A::send);
  CHECK(r.account(ip("10.0.2.1"), dns::RrlKind::error, 28, false, kName, 5, 0) == A::drop);

  SECTION("prefix lengths are configurable") {
    cfg.ipv4_prefix = 32;
    dns::Rrl exact(cfg, kHashKey);
    run(exact, "10.0.0.1", 2, 0);
    CHECK(run(exact, "10.0.0.2", 1, 0) == std::vector<A>{A::send});
  }
  SECTION("a rate of 0 leaves that kind unlimited") {
    cfg.nxdomains_per_second = 0;
    dns::Rrl nx(cfg, kHashKey);
    CHECK(count(run(nx, "10.0.0.1", 50, 0, dns::RrlKind::nxdomain), A::send) == 50);
  }
}

TEST_CASE("RRL: exempt prefixes and log_only") {
  using A = dns::RrlAction;
  auto cfg = rrl_cfg(1);
  cfg.exempt = {*core::Prefix::parse("192.0.2.0/25")};
  dns::Rrl r(cfg, kHashKey);
  CHECK(count(run(r, "192.0.2.5", 100, 0), A::send) == 100);
  CHECK(count(run(r, "192.0.2.200", 100, 0), A::send) == 1);
  cfg.exempt.clear();
  cfg.log_only = true;
  g_lines.clear();
  dns::Rrl lo(cfg, kHashKey, capture);
  const auto v = run(lo, "192.0.2.5", 100, 0);
  CHECK(count(v, A::send) == 1);
  CHECK(count(v, A::log_only) == 99);
  REQUIRE(g_lines.size() == 1);
  CHECK(g_lines[0].find("client=192.0.2.0/24") != std::string::npos);
  CHECK(g_lines[0].find("action=log-only") != std::string::npos);
}

TEST_CASE("RRL: one log line per limited bucket, at most a few a second") {
  auto cfg = rrl_cfg(1);
  g_lines.clear();
  dns::Rrl r(cfg, kHashKey, capture);
  run(r, "192.0.2.1", 1000, 7);
  REQUIRE(g_lines.size() == 1);
  CHECK(g_lines[0] ==
        "event=rrl-limit client=192.0.2.0/24 response=answer qtype=A name=www.example.test. "
        "rate=1/s window=15s action=drop+slip");
  g_lines.clear();
  r.account(ip("192.0.2.1"), dns::RrlKind::error, 99, false, kName, kNameLen, 7);
  r.account(ip("192.0.2.1"), dns::RrlKind::error, 99, false, kName, kNameLen, 7);
  r.account(ip("192.0.2.1"), dns::RrlKind::nxdomain, 99, false, kName, kNameLen, 7);
  r.account(ip("192.0.2.1"), dns::RrlKind::nxdomain, 99, false, kName, kNameLen, 7);
  r.account(ip("192.0.2.1"), dns::RrlKind::answer, 65280, false, kName, kNameLen, 7);
  r.account(ip("192.0.2.1"), dns::RrlKind::answer, 65280, false, kName, kNameLen, 7);
  CHECK(g_lines == std::vector<std::string>{
      "event=rrl-limit client=192.0.2.0/24 response=error rate=1/s window=15s action=drop+slip",
      "event=rrl-limit client=192.0.2.0/24 response=nxdomain name=www.example.test. rate=1/s "
      "window=15s action=drop+slip",
      "event=rrl-limit client=192.0.2.0/24 response=answer qtype=TYPE65280 name=www.example.test. "
      "rate=1/s window=15s action=drop+slip"});
  // 20 netblocks start being limited in the same second: 5 lines, the rest counted.
  g_lines.clear();
  for (int i = 0; i < 20; ++i) run(r, fmt::format("10.0.{}.1", i).c_str(), 3, 8);
  CHECK(g_lines.size() == dns::Rrl::kLogsPerSecond);
  run(r, "10.1.0.1", 3, 9);
  REQUIRE(g_lines.size() == dns::Rrl::kLogsPerSecond + 1);
  CHECK(g_lines.back().find("suppressed=15") != std::string::npos);
}

TEST_CASE("RRL: the table is bounded and evicts the least recently used bucket") {
  auto cfg = rrl_cfg(1);
  cfg.table_size = 64;
  cfg.slip = 0;
  dns::Rrl r(cfg, kHashKey);
  CHECK(r.capacity() == 64);
  for (int i = 0; i < 10000; ++i) {
    const auto name = dns::name_from_text(fmt::format("n{}.example.test.", i));
    r.account(ip("192.0.2.1"), dns::RrlKind::answer, 1, false,
              reinterpret_cast<const uint8_t*>(name.data()), name.size(), uint32_t(i / 100));
  }
  CHECK(r.used() == 64);
  // A limited bucket, pushed out by a flood of other keys, comes back fresh: the price of
  // bounded memory (BIND's too).
  dns::Rrl small(cfg, kHashKey);
  run(small, "198.51.100.1", 3, 0);
  CHECK(run(small, "198.51.100.1", 1, 0) == std::vector<dns::RrlAction>{dns::RrlAction::drop});
  for (int i = 0; i < 1000; ++i) run(small, fmt::format("10.{}.{}.1", i / 256, i % 256).c_str(), 1, 1);
  CHECK(run(small, "198.51.100.1", 1, 1) == std::vector<dns::RrlAction>{dns::RrlAction::send});
}

namespace {

// A query with EDNS and a COOKIE option of `cookie` bytes (ldns writes the OPT last, empty).
std::vector<uint8_t> cookie_query(const std::string& name, const std::vector<uint8_t>& cookie) {
  auto q = test::make_query(name, LDNS_RR_TYPE_A, {true, 1232});
  const size_t rdlen_at = q.size() - 2;
  dns::put16(q.data() + rdlen_at, uint16_t(4 + cookie.size()));
  q.push_back(0);
  q.push_back(uint8_t(dns::kOptionCookie));
  q.push_back(0);
  q.push_back(uint8_t(cookie.size()));
  q.insert(q.end(), cookie.begin(), cookie.end());
  return q;
}

// The COOKIE option's data in a response (we write it as the OPT's only option, last).
std::vector<uint8_t> response_cookie(const std::vector<uint8_t>& r) {
  if (r.size() < 28 || r[r.size() - 28] != 0 || r[r.size() - 27] != dns::kOptionCookie) return {};
  return {r.end() - 24, r.end()};
}

struct Harness {
  std::shared_ptr<const dns::Zone> zone = test::zone_from_text("example.test.", R"($ORIGIN example.test.
$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
     IN NS  ns1
ns1  IN A   192.0.2.1
www  IN A   192.0.2.10
)");
  std::shared_ptr<const dns::AnswerTable> table = dns::compile({zone}, {});
  dns::GuardConfig cfg;
  dns::GuardStats stats;
  dns::Guard guard{cfg, stats, true};
  dns::Scratch scratch;
  core::IpAddress addr = *core::IpAddress::parse("192.0.2.53");
  dns::Now now{1700000000, 1000};

  explicit Harness(const dns::GuardConfig& c) : cfg(c) {}
  Harness() : Harness(dns::GuardConfig{}) {}

  std::vector<uint8_t> ask(const std::vector<uint8_t>& q, bool tcp, dns::Outcome* outcome = nullptr) {
    std::vector<uint8_t> out(65535);
    dns::Outcome o;
    const dns::Client client{tcp, &addr, &guard, now};
    out.resize(dns::answer({table.get(), nullptr}, dns::HandlerOptions{}, q, out, client, scratch, o));
    if (outcome) *outcome = o;
    return out;
  }
  uint64_t cookies(dns::CookieResult r) const { return stats.cookies[size_t(r)].load(); }
};

dns::GuardConfig with_secret(bool require) {
  dns::GuardConfig g;
  g.cookies.secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  g.cookies.require = require;
  return g;
}

unsigned rcode_of(const std::vector<uint8_t>& r) { return r[3] & 0xF; }
unsigned ancount(const std::vector<uint8_t>& r) { return dns::get16(r.data() + 6); }
bool tc(const std::vector<uint8_t>& r) { return r[2] & 0x02; }

}  // namespace

TEST_CASE("handler: a client cookie gets a server cookie; ours comes back valid") {
  Harness h(with_secret(false));
  const auto cc = hex("0102030405060708");
  const auto r = h.ask(cookie_query("www.example.test.", cc), false);
  REQUIRE(ancount(r) == 1);
  const auto c = response_cookie(r);
  REQUIRE(c.size() == 24);
  CHECK(std::equal(cc.begin(), cc.end(), c.begin()));
  uint8_t want[16];
  dns::make_server_cookie(*h.cfg.cookies.secret, cc.data(), h.now.unix, h.addr, want);
  CHECK(to_hex(c.data() + 8, 16) == to_hex(want, 16));
  CHECK(h.cookies(dns::CookieResult::client_only) == 1);

  // Echoed back a minute later: valid, and returned as it is (younger than half an hour).
  h.now.unix += 60;
  const auto r2 = h.ask(cookie_query("www.example.test.", c), false);
  CHECK(response_cookie(r2) == c);
  CHECK(h.cookies(dns::CookieResult::valid) == 1);
  // 31 minutes later it is renewed.
  h.now.unix += 31 * 60;
  const auto r3 = h.ask(cookie_query("www.example.test.", c), false);
  CHECK(response_cookie(r3) != c);
  CHECK(h.cookies(dns::CookieResult::valid) == 2);

  // Without a COOKIE option, nothing changes: no option in the response.
  const auto r4 = h.ask(test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232}), false);
  CHECK(response_cookie(r4).empty());
  CHECK(dns::get16(r4.data() + r4.size() - 2) == 0);
}

TEST_CASE("handler: an invalid server cookie is answered with a new one, or BADCOOKIE") {
  auto bad = hex("0102030405060708");
  const auto junk = hex("01000000656530ff0011223344556677");
  bad.insert(bad.end(), junk.begin(), junk.end());
  SECTION("require = false (BIND's default): answered normally") {
    Harness h(with_secret(false));
    const auto r = h.ask(cookie_query("www.example.test.", bad), false);
    CHECK(rcode_of(r) == 0);
    CHECK(ancount(r) == 1);
    CHECK(response_cookie(r).size() == 24);
    CHECK(response_cookie(r) != bad);
    CHECK(h.cookies(dns::CookieResult::invalid) == 1);
  }
  SECTION("require = true: BADCOOKIE over UDP with a fresh cookie, TC clear; TCP answered") {
    Harness h(with_secret(true));
    dns::Outcome o;
    const auto r = h.ask(cookie_query("www.example.test.", bad), false, &o);
    // RFC 7873 §8: BADCOOKIE = 23, its low 4 bits in the header, the rest in the OPT TTL.
    CHECK(rcode_of(r) == (23 & 0xF));
    CHECK(r[r.size() - 28 - 6] == 23 >> 4);
    CHECK(ancount(r) == 0);
    CHECK(dns::get16(r.data() + 4) == 1);  // the question is there
    CHECK_FALSE(tc(r));
    const auto fresh = response_cookie(r);
    REQUIRE(fresh.size() == 24);
    CHECK(h.cookies(dns::CookieResult::badcookie) == 1);
    // A client cookie alone is BADCOOKIE too under require...
    CHECK(rcode_of(h.ask(cookie_query("www.example.test.", hex("0102030405060708")), false)) == 7);
    // ...and retrying with the fresh cookie gets the answer.
    const auto ok = h.ask(cookie_query("www.example.test.", fresh), false);
    CHECK(rcode_of(ok) == 0);
    CHECK(ancount(ok) == 1);
    // Over TCP the address is proven: answered.
    const auto t = h.ask(cookie_query("www.example.test.", bad), true);
    CHECK(ancount(t) == 1);
    // No COOKIE at all (a client that does not do cookies): answered.
    CHECK(ancount(h.ask(test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232}), false)) == 1);
  }
}

TEST_CASE("handler: a malformed COOKIE option is FORMERR") {
  Harness h;
  for (size_t len : {1, 7, 9, 15, 41}) {
    const auto r = h.ask(cookie_query("www.example.test.", std::vector<uint8_t>(len, 0xAB)), false);
    CHECK(rcode_of(r) == 1);
  }
  CHECK(h.cookies(dns::CookieResult::malformed) == 5);
  for (size_t len : {8, 16, 40}) {
    const auto r = h.ask(cookie_query("www.example.test.", std::vector<uint8_t>(len, 0xAB)), false);
    CHECK(rcode_of(r) == 0);
  }
  SECTION("cookies off: the option is ignored, malformed or not (RFC 6891 §6.1.2)") {
    dns::GuardConfig g;
    g.cookies.enabled = false;
    Harness off(g);
    CHECK(response_cookie(off.ask(cookie_query("www.example.test.", hex("0102030405060708")), false)).empty());
    const auto r = off.ask(cookie_query("www.example.test.", std::vector<uint8_t>(5, 0xAB)), false);
    CHECK(rcode_of(r) == 0);
    CHECK(ancount(r) == 1);
  }
}

TEST_CASE("handler: RRL limits UDP, slips TC=1 replies, spares TCP and valid cookies") {
  dns::GuardConfig g = with_secret(false);
  g.rrl = rrl_cfg(2);
  g.rrl.slip = 2;
  Harness h(g);
  const auto q = test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232});
  int answered = 0, slipped = 0, dropped = 0;
  for (int i = 0; i < 10; ++i) {
    dns::Outcome o;
    const auto r = h.ask(q, false, &o);
    if (r.empty()) {
      ++dropped;
      CHECK(o.rrl == dns::RrlAction::drop);
    } else if (tc(r)) {
      ++slipped;
      // The slip reply: the question, no records, TC=1.
      CHECK(ancount(r) == 0);
      CHECK(dns::get16(r.data() + 4) == 1);
      CHECK(dns::get16(r.data() + 8) == 0);
      CHECK(o.truncated);
    } else {
      ++answered;
    }
  }
  CHECK(answered == 2);
  CHECK(slipped == 4);
  CHECK(dropped == 4);
  CHECK(h.stats.rrl_dropped.load() == 4);
  CHECK(h.stats.rrl_slipped.load() == 4);
  // Over TCP: answered.
  CHECK(ancount(h.ask(q, true)) == 1);
  // With a valid server cookie: answered, every time.
  const auto c = response_cookie(h.ask(cookie_query("www.example.test.", hex("1111111111111111")), true));
  REQUIRE(c.size() == 24);
  for (int i = 0; i < 10; ++i) CHECK(ancount(h.ask(cookie_query("www.example.test.", c), false)) == 1);
  // NXDOMAIN and REFUSED have their own buckets.
  CHECK(rcode_of(h.ask(test::make_query("nope.example.test.", LDNS_RR_TYPE_A, {true, 1232}), false)) == 3);
  CHECK(rcode_of(h.ask(test::make_query("www.example.org.", LDNS_RR_TYPE_A, {true, 1232}), false)) == 5);
  // A second later the bucket is still paying its debt; after the window it answers again.
  h.now.mono += 16;
  CHECK(ancount(h.ask(q, false)) == 1);
}

TEST_CASE("handler: log_only answers everything and counts what it would have limited") {
  dns::GuardConfig g;
  g.rrl = rrl_cfg(2);
  g.rrl.log_only = true;
  Harness h(g);
  const auto q = test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232});
  for (int i = 0; i < 10; ++i) CHECK(ancount(h.ask(q, false)) == 1);
  CHECK(h.stats.rrl_log_only.load() == 8);
  CHECK(h.stats.rrl_dropped.load() == 0);
}

TEST_CASE("wire: the first COOKIE option is found among the others") {
  auto q = test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232});
  const std::vector<uint8_t> opts{0, 3, 0, 0,                                // NSID, empty
                                  0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,      // COOKIE
                                  0, 10, 0, 5, 9, 9, 9, 9, 9};              // a second, ignored
  dns::put16(q.data() + q.size() - 2, uint16_t(opts.size()));
  const size_t at = q.size();
  q.insert(q.end(), opts.begin(), opts.end());
  dns::Query parsed;
  REQUIRE(dns::parse_query(q, parsed) == dns::ParseStatus::ok);
  CHECK(parsed.cookie_len == 8);
  CHECK(parsed.cookie_at == at + 8);
  CHECK_FALSE(parsed.cookie_malformed);
  // A malformed one is flagged, not a parse error: what to do is the handler's business.
  q[at + 7] = 7;
  q.erase(q.begin() + long(at) + 15);
  dns::put16(q.data() + at - 2, uint16_t(opts.size() - 1));
  REQUIRE(dns::parse_query(q, parsed) == dns::ParseStatus::ok);
  CHECK(parsed.cookie_len == 0);
  CHECK(parsed.cookie_malformed);
}
