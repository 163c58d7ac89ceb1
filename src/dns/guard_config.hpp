// What [rrl] and [cookies] in gslbd.toml configure: plain values, filled by the config module,
// copied into each worker at start-up (they are read at start only, like listen and workers).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/address.hpp"

namespace gslb::dns {

// Response rate limiting as in BIND's response-rate-limit: a rate of 0 leaves that kind of
// response unlimited, and RRL is off when all three are 0 (the default).
struct RrlConfig {
  unsigned responses_per_second = 0;  // answers, NODATA, referrals
  unsigned nxdomains_per_second = 0;  // default: responses_per_second
  unsigned errors_per_second = 0;     // REFUSED, SERVFAIL, NOTIMP, ...; default: responses_per_second
  unsigned window = 15;               // seconds of debt a flood can run up (BIND's window)
  unsigned slip = 2;                  // every Nth limited response goes out truncated; 0 = never
  unsigned ipv4_prefix = 24;
  unsigned ipv6_prefix = 56;
  std::vector<core::Prefix> exempt;
  bool log_only = false;              // count and log, drop nothing
  unsigned table_size = 65536;        // buckets per UDP thread

  bool enabled() const noexcept {
    return responses_per_second || nxdomains_per_second || errors_per_second;
  }
  bool operator==(const RrlConfig&) const = default;
};

// DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018).
struct CookieConfig {
  bool enabled = true;
  bool require = false;  // BADCOOKIE over UDP for a cookie-aware client without a valid cookie
  // A shared secret (several servers behind one address validate each other's cookies); used
  // as is, never rotated. Without it `master` (random at start) derives one secret per
  // `rotate_seconds` epoch.
  std::optional<std::array<uint8_t, 16>> secret;
  std::array<uint8_t, 16> master{};
  uint32_t rotate_seconds = 3600;
  bool operator==(const CookieConfig&) const = default;
};

struct GuardConfig {
  RrlConfig rrl;
  CookieConfig cookies;
};

}  // namespace gslb::dns
