// Response rate limiting, after BIND's response-rate-limit: each (client netblock, kind of
// response, query type, name) earns `rate` responses a second; a flood runs the balance into
// debt, at most `window` seconds of it, so a source that keeps flooding stays limited until it
// has been quiet for that long. Limited responses are dropped, except every `slip`th, which goes
// out truncated (TC=1, no records) so a real client behind a spoofed flood retries over TCP.
//
// One Rrl per UDP thread: no locks. The table is allocated once, at construction; a bucket set
// that is full evicts its least recently used bucket, so memory stays bounded under a flood of
// distinct keys and account() never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/address.hpp"
#include "core/siphash.hpp"
#include "dns/guard_config.hpp"

namespace gslb::dns {

// The kind of response, as BIND classes them; each kind has its own buckets.
enum class RrlKind : uint8_t { answer, nodata, referral, nxdomain, error };
enum class RrlAction : uint8_t { send, drop, slip, log_only };

const char* rrl_kind_name(RrlKind k) noexcept;

class Rrl {
 public:
  // Called for the first limited response of a bucket, at most kLogsPerSecond times a second
  // per thread. Never called with a null sink.
  using LogSink = void (*)(std::string_view line);
  static constexpr unsigned kLogsPerSecond = 5;

  // `hash_key` keys the bucket hash (random in production: clients cannot aim at a bucket).
  Rrl(const RrlConfig& cfg, const core::SipKey& hash_key, LogSink sink = nullptr);

  bool enabled() const noexcept { return cfg_.enabled(); }
  size_t capacity() const noexcept { return nsets_ * kWays; }
  // Buckets in use (for tests).
  size_t used() const noexcept;

  // Accounts one response to `client` and says what to do with it. `name` (lower-case wire) is
  // the closest encloser for answers, NODATA, referrals and NXDOMAIN; errors are keyed by
  // netblock only, so random names cannot spread them over many buckets. `now` is monotonic
  // seconds.
  RrlAction account(const core::IpAddress& client, RrlKind kind, uint16_t qtype, bool wildcard,
                    const uint8_t* name, size_t name_len, uint32_t now) noexcept;

 private:
  static constexpr size_t kWays = 8;
  struct Bucket {
    uint64_t key = 0;  // 0: empty
    int32_t balance = 0;
    uint32_t last = 0;
    uint16_t slip = 0;
    bool limited = false;
  };
  static_assert(sizeof(Bucket) == 24, "the documented memory: 24 bytes a bucket");

  unsigned rate(RrlKind k) const noexcept;
  void log_start(const core::IpAddress& client, RrlKind kind, uint16_t qtype, const uint8_t* name,
                 size_t name_len, unsigned rate, uint32_t now) noexcept;

  RrlConfig cfg_;
  core::SipKey hash_key_;
  LogSink sink_;
  size_t nsets_ = 0;
  std::unique_ptr<Bucket[]> table_;
  uint32_t log_second_ = 0;
  unsigned logs_this_second_ = 0;
  uint64_t logs_suppressed_ = 0;
};

}  // namespace gslb::dns
