// The check plan on a manual clock: start-up spread, the grid and its jitter, fast intervals,
// no overlap, overruns, removal. No sockets, no sleeps.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "probe/plan.hpp"

using namespace gslb;

namespace {

struct Sim {
  std::mt19937_64 rng{42};
  probe::Plan plan{[this](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }};
  uint64_t now = 1'000'000;
  std::map<uint32_t, std::vector<uint64_t>> started;  // id -> times its checks started

  // Steps 1 ms at a time to `until`, starting what is due; each check takes `took` ms.
  void run_until(uint64_t until, uint64_t interval, uint64_t took = 0) {
    std::vector<std::pair<uint64_t, uint32_t>> running;  // (ends at, id)
    for (; now <= until; ++now) {
      for (auto it = running.begin(); it != running.end();) {
        if (it->first <= now) {
          plan.finished(it->second, interval, now);
          it = running.erase(it);
        } else {
          ++it;
        }
      }
      if (auto due = plan.next_due(); !due || *due > now) continue;
      for (uint32_t id : plan.take_due(now)) {
        started[id].push_back(now);
        running.emplace_back(now + took, id);
      }
    }
  }
};

}  // namespace

TEST_CASE("first checks: every target within min(interval / 10, 100 ms) of being added") {
  Sim s;
  const uint64_t t0 = s.now;
  for (uint32_t id = 1; id <= 1000; ++id) s.plan.add(id, 1000, t0);
  s.run_until(t0 + 100, 1000);
  REQUIRE(s.started.size() == 1000);
  uint64_t last = 0;
  for (auto& [id, at] : s.started) last = std::max(last, at.front() - t0);
  CHECK(last <= 100);
  CHECK(last >= 50);  // spread over the window, not all in the first millisecond
}

TEST_CASE("many targets added together start at most 10,000 a second, never wider than the interval") {
  Sim s;
  const uint64_t t0 = s.now;
  for (uint32_t id = 1; id <= 5000; ++id) s.plan.add(id, 1000, t0, 5000);
  s.run_until(t0 + 1000, 1000);
  REQUIRE(s.started.size() == 5000);
  std::vector<int> per_100ms(10);
  for (auto& [id, at] : s.started) {
    REQUIRE(at.front() - t0 <= 500);  // 5,000 at 10,000 a second: half a second
    ++per_100ms[std::min<uint64_t>(9, (at.front() - t0) / 100)];
  }
  for (int b = 0; b < 5; ++b) CHECK(per_100ms[b] < 1300);  // about 1,000 each, no burst
  Sim t;
  for (uint32_t id = 1; id <= 40000; ++id) t.plan.add(id, 1000, t.now, 40000);
  t.run_until(t.now + 1001, 40000);
  CHECK(t.started.size() == 40000);  // capped at the interval
}

TEST_CASE("the grid holds: each interval within 5% of its setting, no drift over 100 checks") {
  Sim s;
  const uint64_t t0 = s.now;
  s.plan.add(1, 1000, t0);
  s.plan.add(2, 1000, t0);
  s.run_until(t0 + 100'150, 1000, 3);  // each check takes 3 ms
  for (auto& [id, at] : s.started) {
    REQUIRE(at.size() == 101);
    for (size_t i = 1; i < at.size(); ++i) {
      CHECK(at[i] - at[i - 1] >= 950);
      CHECK(at[i] - at[i - 1] <= 1050);
    }
    // Jitter never adds up: the 101st check is 100 intervals after the first, give or take one jitter.
    CHECK(at.back() - at.front() >= 100'000 - 50);
    CHECK(at.back() - at.front() <= 100'000 + 50);
  }
}

TEST_CASE("a running target is never due again until it finishes; an overrun restarts the grid") {
  Sim s;
  const uint64_t t0 = s.now;
  s.plan.add(1, 100, t0);
  s.run_until(t0 + 1000, 100, 250);  // checks take 2.5 intervals
  const auto& at = s.started[1];
  REQUIRE(at.size() >= 3);
  for (size_t i = 1; i < at.size(); ++i) {
    CHECK(at[i] - at[i - 1] >= 250);  // never while the previous one runs
    CHECK(at[i] - at[i - 1] <= 256);  // and right after it: no waiting for the old grid
  }
}

TEST_CASE("fast interval: the interval passed at finish decides the next check") {
  probe::Plan plan([](uint64_t) { return 0; });  // no jitter, no spread
  plan.add(7, 1000, 0);
  REQUIRE(plan.take_due(0) == std::vector<uint32_t>{7});
  CHECK_FALSE(plan.next_due());  // running: nothing waits
  plan.finished(7, 50, 10);
  CHECK(plan.next_due() == 50u);
  CHECK(plan.take_due(49).empty());
  REQUIRE(plan.take_due(50) == std::vector<uint32_t>{7});
  plan.finished(7, 1000, 60);
  CHECK(plan.next_due() == 1050u);
}

TEST_CASE("removed targets are never due; a re-added one starts afresh") {
  probe::Plan plan([](uint64_t) { return 0; });
  plan.add(1, 1000, 0);
  plan.add(2, 1000, 0);
  plan.remove(1);
  CHECK_FALSE(plan.contains(1));
  CHECK(plan.take_due(0) == std::vector<uint32_t>{2});
  plan.finished(1, 1000, 5);  // a late report for a removed target changes nothing
  CHECK_FALSE(plan.contains(1));
  plan.add(1, 1000, 500);
  CHECK(plan.next_due() == 500u);
  plan.remove(2);  // while running
  CHECK(plan.take_due(10'000) == std::vector<uint32_t>{1});
  CHECK_FALSE(plan.next_due());
}

TEST_CASE("due targets come out earliest first, ties by id") {
  const std::vector<uint64_t> offsets = {50, 10, 90, 30, 70};  // start-up spread of ids 1..5
  size_t i = 0;
  probe::Plan plan([&](uint64_t n) { return offsets[i++ % offsets.size()] % n; });
  for (uint32_t id = 1; id <= 5; ++id) plan.add(id, 1000, 0);
  CHECK(plan.next_due() == 10u);
  CHECK(plan.take_due(60) == std::vector<uint32_t>{2, 4, 1});
  CHECK(plan.take_due(100) == std::vector<uint32_t>{5, 3});
  probe::Plan ties([](uint64_t) { return 0; });
  for (uint32_t id = 5; id >= 1; --id) ties.add(id, 1000, 0);
  CHECK(ties.take_due(0) == std::vector<uint32_t>{1, 2, 3, 4, 5});
}
