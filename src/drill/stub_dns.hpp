// The stub-resolver half of gslb-drill: one A query in wire form and the parse of its answer.
// Pure functions over bytes (no sockets), so the drill's loop owns all I/O and timing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"

namespace gslb::drill {

// A query for `name` A IN with RD set, as a stub resolver sends it. Empty if the name is bad.
std::vector<uint8_t> make_a_query(std::string_view name, uint16_t id);

struct AAnswer {
  uint8_t rcode = 0;
  std::vector<core::IpAddress> addresses;  // in answer order
  uint32_t ttl = 0;                        // the smallest TTL in the answer section
};

// Parses a response to make_a_query(…, id). nullopt when it is not one (wrong id, not a
// response, truncated or malformed): the caller keeps waiting, as a stub would.
std::optional<AAnswer> parse_a_answer(std::span<const uint8_t> packet, uint16_t id);

}  // namespace gslb::drill
