// Hashing for ring hash, Maglev and label keys. Private to the library.
#pragma once

#include <cstdint>
#include <string_view>

namespace gslb::route::detail {

// Stafford's mix 13: a bijection on 64 bits with good avalanche, so nearby inputs (an endpoint
// name with replica suffix 0, 1, 2, ...) land far apart on the ring.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a over the bytes, finished with mix64 because FNV alone clusters short keys.
inline uint64_t hash64(std::string_view s, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

// Uniform value in [0, n) from 64 random bits without a division (Lemire's multiply-shift).
inline uint64_t bounded(uint64_t random, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

}  // namespace gslb::route::detail
