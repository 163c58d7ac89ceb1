// DNS cookies: RFC 7873 with the interoperable server cookie of RFC 9018 (version 1):
//   server cookie = version(1) | reserved(3, zero) | timestamp(4, Unix seconds) | hash(8)
//   hash = SipHash-2-4(secret, client cookie | version | reserved | timestamp | client IP)
// Pure functions of their inputs: no clock, no allocation.
#pragma once

#include <cstdint>

#include "core/address.hpp"
#include "core/siphash.hpp"
#include "dns/guard_config.hpp"

namespace gslb::dns {

inline constexpr size_t kClientCookieLen = 8;
inline constexpr size_t kServerCookieLen = 16;   // what we issue
inline constexpr uint16_t kBadCookie = 23;       // extended RCODE, RFC 7873 §8


// The secrets a server cookie may have been made with at a given time.
struct CookieSecrets {
  core::SipKey current{};
  core::SipKey previous{};
  bool has_previous = false;
};

// RFC 9018 §4.4 leaves rotation to the operator; without a shared secret we derive the secret
// of each epoch (unix_now / rotate_seconds) from the random master with SipHash, so every
// thread agrees on it without talking to the others, and the previous epoch's secret still
// validates cookies issued just before a rotation.
CookieSecrets cookie_secrets(const CookieConfig& cfg, uint32_t unix_now) noexcept;

// Writes a fresh 16-byte version 1 server cookie for `client_cookie` (8 bytes).
void make_server_cookie(const core::SipKey& secret, const uint8_t* client_cookie, uint32_t unix_now,
                        const core::IpAddress& client, uint8_t* out) noexcept;

enum class CookieCheck : uint8_t {
  valid,    // ours, made with the current secret, and young enough to keep
  refresh,  // ours and valid, but older than half an hour (RFC 9018 §4.3) or made with the
            // previous secret (appendix A.4): issue a new one
  invalid,  // not ours, wrong version or length, expired or from the future
};

// Checks a received server cookie (`len` bytes after the 8-byte client cookie).
CookieCheck check_server_cookie(const CookieSecrets& secrets, const uint8_t* client_cookie,
                                const uint8_t* server_cookie, size_t len,
                                const core::IpAddress& client, uint32_t unix_now) noexcept;

}  // namespace gslb::dns
