#include "dns/cookie.hpp"

#include <cstring>

namespace gslb::dns {

namespace {

constexpr int32_t kMaxAge = 3600;       // RFC 9018 §4.3: older than an hour is invalid
constexpr int32_t kMaxFuture = 300;     // ... and so is more than 5 minutes in the future
constexpr int32_t kRefreshAge = 1800;   // ... and past half an hour a new one is sent

void put_be32(uint8_t* p, uint32_t v) noexcept {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

uint64_t cookie_hash(const core::SipKey& secret, const uint8_t* client_cookie,
                     const uint8_t* head8, const core::IpAddress& client) noexcept {
  uint8_t in[8 + 8 + 16];
  std::memcpy(in, client_cookie, 8);
  std::memcpy(in + 8, head8, 8);
  std::memcpy(in + 16, client.bytes.data(), client.size());
  return core::siphash24(secret, in, 16 + client.size());
}

// The hash goes on the wire in SipHash's output byte order (little-endian), as in the RFC's
// examples.
void put_hash(uint8_t* p, uint64_t h) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(h >> (8 * i));
}

core::SipKey derive(const core::SipKey& master, uint64_t epoch) noexcept {
  uint8_t in[9];
  for (int i = 0; i < 8; ++i) in[i] = uint8_t(epoch >> (8 * i));
  core::SipKey k;
  in[8] = 0;
  put_hash(k.data(), core::siphash24(master, in, 9));
  in[8] = 1;
  put_hash(k.data() + 8, core::siphash24(master, in, 9));
  return k;
}

}  // namespace

CookieSecrets cookie_secrets(const CookieConfig& cfg, uint32_t unix_now) noexcept {
  CookieSecrets s;
  if (cfg.secret) {
    s.current = *cfg.secret;
    return s;
  }
  const uint64_t epoch = unix_now / (cfg.rotate_seconds ? cfg.rotate_seconds : 1);
  s.current = derive(cfg.master, epoch);
  s.previous = derive(cfg.master, epoch - 1);
  s.has_previous = true;
  return s;
}

void make_server_cookie(const core::SipKey& secret, const uint8_t* client_cookie, uint32_t unix_now,
                        const core::IpAddress& client, uint8_t* out) noexcept {
  out[0] = 1;  // version
  out[1] = out[2] = out[3] = 0;
  put_be32(out + 4, unix_now);
  put_hash(out + 8, cookie_hash(secret, client_cookie, out, client));
}

CookieCheck check_server_cookie(const CookieSecrets& secrets, const uint8_t* client_cookie,
                                const uint8_t* server_cookie, size_t len,
                                const core::IpAddress& client, uint32_t unix_now) noexcept {
  if (len != kServerCookieLen || server_cookie[0] != 1) return CookieCheck::invalid;
  const uint32_t ts = uint32_t(server_cookie[4]) << 24 | uint32_t(server_cookie[5]) << 16 |
                      uint32_t(server_cookie[6]) << 8 | server_cookie[7];
  // Serial-number arithmetic (RFC 1982), so the comparison survives 2106.
  const int32_t age = int32_t(unix_now - ts);
  if (age > kMaxAge || age < -kMaxFuture) return CookieCheck::invalid;
  // The reserved bytes are hashed as received (RFC 9018 §4.2, appendix A.3).
  uint8_t want[8];
  put_hash(want, cookie_hash(secrets.current, client_cookie, server_cookie, client));
  if (std::memcmp(want, server_cookie + 8, 8) == 0)
    return age > kRefreshAge ? CookieCheck::refresh : CookieCheck::valid;
  if (!secrets.has_previous) return CookieCheck::invalid;
  put_hash(want, cookie_hash(secrets.previous, client_cookie, server_cookie, client));
  return std::memcmp(want, server_cookie + 8, 8) == 0 ? CookieCheck::refresh : CookieCheck::invalid;
}

}  // namespace gslb::dns
