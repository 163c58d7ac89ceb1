// Outgoing zone transfers (RFC 5936), for standard secondaries. Runs on a worker's loop but
// only for clients on the zone's allow_transfer list, so it may allocate.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

// The whole zone as DNS messages answering `query` (already parsed into `q`): SOA, every other
// record (glue included), SOA again, packed into messages of at most about 16 KiB.
std::vector<std::string> transfer_messages(const Zone& zone, std::span<const uint8_t> query,
                                           const Query& q);

}  // namespace gslb::dns
