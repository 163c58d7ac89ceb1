#include "dns/guard.hpp"

#include <sys/random.h>

#include <ctime>
#include <stdexcept>

namespace gslb::dns {

const char* cookie_result_name(size_t i) noexcept {
  static const char* names[kCookieResults] = {"client_only", "valid", "invalid", "badcookie",
                                              "malformed"};
  return i < kCookieResults ? names[i] : "?";
}

Now Now::read() noexcept {
  timespec wall{}, mono{};
  ::clock_gettime(CLOCK_REALTIME, &wall);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return Now{uint32_t(wall.tv_sec), uint32_t(mono.tv_sec)};
}

core::SipKey random_key() {
  core::SipKey k;
  size_t got = 0;
  while (got < k.size()) {
    const ssize_t n = ::getrandom(k.data() + got, k.size() - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += size_t(n);
  }
  return k;
}

Guard::Guard(const GuardConfig& cfg, GuardStats& stats, bool udp, Rrl::LogSink sink)
    : cfg_(cfg), stats_(stats),
      rrl_(udp ? cfg.rrl : RrlConfig{}, udp && cfg.rrl.enabled() ? random_key() : core::SipKey{}, sink) {}

const CookieSecrets& Guard::secrets(uint32_t unix_now) noexcept {
  const auto& c = cfg_.cookies;
  const uint64_t epoch = c.secret ? 0 : unix_now / (c.rotate_seconds ? c.rotate_seconds : 1);
  if (epoch != epoch_) {
    secrets_ = cookie_secrets(c, unix_now);
    epoch_ = epoch;
  }
  return secrets_;
}

}  // namespace gslb::dns
