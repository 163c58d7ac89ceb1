// What gslbctl shows: the state of names, pools and addresses as text or JSON, and why a name
// answers what it answers. Pure functions of the pool engine; run on the control loop.
#pragma once

#include <optional>
#include <string>

#include "cluster/etcd.hpp"
#include "core/address.hpp"
#include "pool/engine.hpp"

namespace gslb::daemon {

std::string status_text(const pool::Engine& engine, health::MonoTime now);
std::string status_json(const pool::Engine& engine, health::MonoTime now);
// Cluster mode: this node, its link, the live nodes and every target's votes per node.
// Text for `gslbctl status`; JSON as the value of status_json's "cluster" member.
std::string cluster_text(const cluster::Link& link, const pool::Engine& engine);
std::string cluster_json(const cluster::Link& link, const pool::Engine& engine);

// Which pools were considered for `fqdn`, which addresses were skipped and why, and the answer a
// client gets now. Empty optional when `fqdn` is not a dynamic name.
std::optional<std::string> explain(const pool::Engine& engine, const std::string& fqdn,
                                   uint16_t qtype, const std::optional<core::IpAddress>& client,
                                   bool json);

std::string json_string(std::string_view s);

}  // namespace gslb::daemon
