// `gslbctl explain` for every name: which zone holds it, and the RFC rule that produced the
// answer at each step — an exact match, a CNAME restarting the lookup at its target, a
// delegation (referral), a wildcard synthesis, no data, no such name — down to a dynamic name,
// whose pools and addresses report.cpp's explain() details. A pure function of the loaded
// zones and the pool engine; runs on the control loop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "dns/zone.hpp"
#include "pool/engine.hpp"

namespace gslb::daemon {

std::string explain_any(const std::vector<std::shared_ptr<const dns::Zone>>& zones,
                        const pool::Engine& engine, const std::string& fqdn, uint16_t qtype,
                        const std::optional<core::IpAddress>& client, bool json);

}  // namespace gslb::daemon
