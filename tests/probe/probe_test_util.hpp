// A libuv loop for one test, with bounded runs, and one-shot checks through the runners.
#pragma once

#include <catch2/catch.hpp>
#include <uv.h>

#include <chrono>
#include <optional>

#include "core/address.hpp"
#include "probe/http_runner.hpp"
#include "probe/tcp_runner.hpp"

namespace probe_test {

struct Loop {
  uv_loop_t loop{};
  Loop() { uv_loop_init(&loop); }
  // Everything must have been closed: a few iterations run the close callbacks, then the loop
  // must close cleanly (a leaked handle fails the test instead of hanging it).
  ~Loop() {
    for (int i = 0; i < 100 && uv_loop_alive(&loop); ++i) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  uv_loop_t* get() { return &loop; }

  // Runs the loop for `ms` milliseconds of loop time.
  void run_for(int ms) {
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &loop;
    uv_timer_start(&t, [](uv_timer_t* h) { uv_stop(static_cast<uv_loop_t*>(h->data)); }, uint64_t(ms), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
};

inline gslb::probe::Spec http_spec(uint16_t port, const std::string& path = "/") {
  gslb::probe::Spec s;
  s.name = "test";
  s.port = port;
  s.path = path;
  s.interval = std::chrono::seconds(1);
  s.timeout = std::chrono::milliseconds(1000);
  return s;
}

// Runs one check of `spec` against `ip` to its verdict (bounded by the spec's timeout plus 5 s)
// through the runner gslbd uses for its type, or through libcurl when `curl` is set.
inline gslb::probe::Result run_once(const gslb::probe::Spec& spec, const std::string& ip, bool curl) {
  using namespace gslb;
  std::optional<probe::Result> out;
  {
    Loop loop;
    {
      probe::HttpRunner http(loop.get());
      probe::TcpRunner tcp(loop.get());
      auto address = core::IpAddress::parse(ip);
      REQUIRE(address);
      auto done = [&](const probe::Result& r) { out = r; };
      auto id = spec.type == probe::Type::https || curl ? http.start(*address, spec, done)
                                                        : tcp.start(*address, spec, done);
      REQUIRE(id);
      CHECK_FALSE(out);  // never reported from inside start()
      const uint64_t deadline = uv_hrtime() + uint64_t(spec.timeout.count()) + 5'000'000'000ull;
      while (!out && uv_hrtime() < deadline) uv_run(loop.get(), UV_RUN_ONCE);
      CHECK(http.in_flight() == 0);
      CHECK(tcp.in_flight() == 0);
    }
  }
  REQUIRE(out);
  return *out;
}

// One check as gslbd runs it. A plain-HTTP check also runs through libcurl, which must reach the
// same verdict for the same reason: our HTTP exchange is held to curl's reading of the reply.
inline gslb::probe::Result check_once(const gslb::probe::Spec& spec, const std::string& ip = "127.0.0.1") {
  gslb::probe::Result r = run_once(spec, ip, false);
  if (spec.type == gslb::probe::Type::http) {
    const gslb::probe::Result by_curl = run_once(spec, ip, true);
    INFO("ours: " << r.reason << ", curl: " << by_curl.reason);
    CHECK(r.ok == by_curl.ok);
    CHECK(r.reason == by_curl.reason);
    CHECK(r.local == by_curl.local);
  }
  return r;
}

}  // namespace probe_test
