// The scheduler on a real loop with real checks on loopback: start-up, intervals, fast
// intervals, no overlap, target changes, shutdown from inside the callback.
#include <catch2/catch.hpp>

#include <map>

#include "probe/scheduler.hpp"
#include "probe_test_util.hpp"
#include "test_server.hpp"

using namespace gslb;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Seen {
  uint32_t id;
  Clock::time_point at;
  probe::Result result;
};

std::shared_ptr<const probe::Spec> spec_of(probe::Spec s) {
  return std::make_shared<const probe::Spec>(std::move(s));
}

probe::Spec tcp_spec(uint16_t port, core::Duration interval, core::Duration timeout = 50ms) {
  probe::Spec s;
  s.name = "tcp";
  s.type = probe::Type::tcp;
  s.port = port;
  s.interval = interval;
  s.timeout = timeout;
  return s;
}

probe::Target target(uint32_t id, std::shared_ptr<const probe::Spec> spec,
                     const std::string& ip = "127.0.0.1") {
  return probe::Target{id, *core::IpAddress::parse(ip), std::move(spec)};
}

int count_of(const std::vector<Seen>& seen, uint32_t id) {
  return int(std::count_if(seen.begin(), seen.end(), [&](const Seen& s) { return s.id == id; }));
}

}  // namespace

TEST_CASE("every target is checked at start-up, within the start-up window") {
  probe_test::HttpServer server;
  probe_test::Loop loop;
  std::vector<Seen> seen;
  probe::Scheduler scheduler(loop.get(), [&](uint32_t id, const probe::Result& r) {
    seen.push_back({id, Clock::now(), r});
    return false;
  });
  auto tcp = spec_of(tcp_spec(server.port(), 10s));
  probe::Spec h = probe_test::http_spec(server.port());
  h.interval = 10s;
  auto http = spec_of(h);
  std::vector<probe::Target> targets;
  for (uint32_t id = 1; id <= 20; ++id) targets.push_back(target(id, id % 2 ? tcp : http));
  const auto t0 = Clock::now();
  scheduler.set_targets(targets);
  CHECK(scheduler.size() == 20);
  loop.run_for(400);
  REQUIRE(seen.size() == 20);
  for (const Seen& s : seen) {
    CHECK(s.result.ok);
    CHECK(s.at - t0 < 300ms);  // window 100 ms + the check itself
  }
  scheduler.close();
}

TEST_CASE("checks keep to the interval: about 10 in 1 s at 100 ms") {
  probe_test::HttpServer server;
  probe_test::Loop loop;
  std::vector<Seen> seen;
  probe::Scheduler scheduler(loop.get(), [&](uint32_t id, const probe::Result& r) {
    seen.push_back({id, Clock::now(), r});
    return false;
  });
  probe::Spec h = probe_test::http_spec(server.port());
  h.interval = 100ms;
  h.timeout = 80ms;
  scheduler.set_targets({target(1, spec_of(h)), target(2, spec_of(tcp_spec(server.port(), 100ms)))});
  loop.run_for(1000);
  CHECK(count_of(seen, 1) >= 9);
  CHECK(count_of(seen, 1) <= 11);
  CHECK(count_of(seen, 2) >= 9);
  CHECK(count_of(seen, 2) <= 11);
}

TEST_CASE("a disagreeing result brings the next check in after fast_interval") {
  probe_test::HttpServer server;
  probe_test::Loop loop;
  std::vector<Seen> seen;
  probe::Scheduler scheduler(loop.get(), [&](uint32_t id, const probe::Result& r) {
    seen.push_back({id, Clock::now(), r});
    return seen.size() <= 3;  // three results "disagree", then health agrees
  });
  probe::Spec s = tcp_spec(server.port(), 1s);
  s.fast_interval = 50ms;
  scheduler.set_targets({target(7, spec_of(s))});
  loop.run_for(700);
  // Checks at ~0, 50, 100, 150 ms, then the next one is due at ~1150 ms.
  REQUIRE(seen.size() == 4);
  for (size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].at - seen[i - 1].at >= 40ms);
    CHECK(seen[i].at - seen[i - 1].at < 150ms);
  }
}

TEST_CASE("a slow check is never overlapped by the next one; the next starts when it ends") {
  probe_test::HttpServer server("127.0.0.1", 200);
  probe_test::Loop loop;
  std::vector<Seen> seen;
  probe::Scheduler scheduler(loop.get(), [&](uint32_t id, const probe::Result& r) {
    seen.push_back({id, Clock::now(), r});
    return false;
  });
  probe::Spec h = probe_test::http_spec(server.port(), "/slow");
  h.interval = 50ms;
  h.timeout = 1s;
  scheduler.set_targets({target(1, spec_of(h))});
  loop.run_for(1100);
  CHECK(server.max_concurrent() == 1);
  CHECK(seen.size() >= 4);
  CHECK(seen.size() <= 6);
  for (const Seen& s : seen) CHECK(s.result.ok);
}

TEST_CASE("removed targets stop, their in-flight check is cancelled; kept ones keep their schedule") {
  probe_test::HttpServer server;
  probe_test::Loop loop;
  std::vector<Seen> seen;
  probe::Scheduler scheduler(loop.get(), [&](uint32_t id, const probe::Result& r) {
    seen.push_back({id, Clock::now(), r});
    return false;
  });
  auto fast = spec_of(tcp_spec(server.port(), 50ms));
  probe::Spec silent = probe_test::http_spec(server.port(), "/silent");
  silent.timeout = 500ms;
  auto slow = spec_of(tcp_spec(server.port(), 400ms));
  scheduler.set_targets({target(1, fast), target(2, spec_of(silent)), target(3, slow)});
  loop.run_for(200);
  CHECK(count_of(seen, 1) >= 3);
  CHECK(count_of(seen, 2) == 0);  // still waiting for /silent
  CHECK(count_of(seen, 3) == 1);
  const int before = count_of(seen, 1);

  // Same spec by value, a new pointer: target 3 keeps its schedule (no new check at once).
  scheduler.set_targets({target(3, spec_of(tcp_spec(server.port(), 400ms)))});
  CHECK(scheduler.size() == 1);
  loop.run_for(150);  // ~350 ms since start: target 3's next check is due at ~400 ms
  CHECK(count_of(seen, 1) == before);
  CHECK(count_of(seen, 2) == 0);
  CHECK(count_of(seen, 3) == 1);
  loop.run_for(600);
  CHECK(count_of(seen, 1) == before);
  CHECK(count_of(seen, 2) == 0);  // cancelled, never reported, though its timeout passed
  CHECK(count_of(seen, 3) >= 2);

  // A changed spec under the same id restarts the target: checked at once.
  const int three = count_of(seen, 3);
  scheduler.set_targets({target(3, spec_of(tcp_spec(server.port(), 5s, 100ms)))});
  loop.run_for(150);
  CHECK(count_of(seen, 3) == three + 1);
}

TEST_CASE("the callback may close the scheduler or change targets; exceptions stay inside") {
  probe_test::HttpServer server;
  probe_test::Loop loop;
  int calls = 0;
  std::unique_ptr<probe::Scheduler> scheduler;
  auto spec = spec_of(tcp_spec(server.port(), 50ms));
  scheduler = std::make_unique<probe::Scheduler>(loop.get(), [&](uint32_t id, const probe::Result&) -> bool {
    ++calls;
    if (calls == 2) throw std::runtime_error("health module bug");
    if (calls == 4) scheduler->set_targets({target(id + 1, spec)});
    if (calls == 6) scheduler->close();
    return false;
  });
  scheduler->set_targets({target(1, spec)});
  loop.run_for(600);
  CHECK(calls == 6);
  scheduler.reset();
}

TEST_CASE("destroying the scheduler mid-check leaves nothing behind") {
  probe_test::Mute mute;
  probe_test::Loop loop;
  int calls = 0;
  {
    probe::Scheduler scheduler(loop.get(), [&](uint32_t, const probe::Result&) { return ++calls, false; });
    probe::Spec h = probe_test::http_spec(mute.port());
    scheduler.set_targets({target(1, spec_of(h)), target(2, spec_of(tcp_spec(mute.port(), 1s)))});
    loop.run_for(150);
  }
  CHECK(calls == 1);  // the TCP connect completed; the HTTP request never got an answer
}

TEST_CASE("max_in_flight: checks past the cap are gslbd's own failures, never verdicts") {
  probe_test::Mute mute;  // accepts and never replies: every HTTP check holds its socket
  probe_test::Loop loop;
  std::vector<Seen> seen;
  probe::Scheduler scheduler(loop.get(), [&](uint32_t id, const probe::Result& r) {
    seen.push_back({id, Clock::now(), r});
    return false;
  });
  scheduler.set_max_in_flight(2);
  probe::Spec h = probe_test::http_spec(mute.port());
  h.interval = 10s;
  h.timeout = 300ms;
  auto spec = spec_of(h);
  std::vector<probe::Target> targets;
  for (uint32_t id = 1; id <= 5; ++id) targets.push_back(target(id, spec));
  scheduler.set_targets(std::move(targets));
  loop.run_for(1500);  // the start-up spread (a quarter of the interval at most) and the timeouts
  scheduler.close();
  int local = 0, timeouts = 0;
  for (const auto& s : seen) {
    if (s.result.local) {
      ++local;
      CHECK(s.result.reason == "2 checks in flight (server.max_checks_in_flight)");
    } else {
      ++timeouts;
      CHECK(s.result.reason == "timeout after 300ms");
    }
  }
  CHECK(timeouts >= 2);
  CHECK(local >= 1);
  CHECK(local + timeouts == int(seen.size()));
}
