// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed
// 64-bit hash, used for RFC 9018 server cookies and to spread rate-limit keys so that clients
// cannot choose colliding buckets. Pure, allocation-free, any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gslb::core {

using SipKey = std::array<uint8_t, 16>;

// The 64-bit result; its little-endian bytes are the 8 output bytes of the reference code.
uint64_t siphash24(const SipKey& key, const uint8_t* data, size_t len) noexcept;

}  // namespace gslb::core
