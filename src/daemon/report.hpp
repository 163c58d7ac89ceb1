// What gslbctl shows: the state of names, pools and addresses as text or JSON, and why a name
// answers what it answers. Pure functions of the pool engine; run on the control loop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd.hpp"
#include "core/address.hpp"
#include "daemon/drains.hpp"
#include "dns/zone.hpp"
#include "pool/engine.hpp"

namespace gslb::daemon {

// `gslbctl status`, built a slice at a time: at 100,000 names the text is 7 MB, and built in
// one go it held the control loop (and every publish behind it) for a quarter of a second.
class StatusBuilder {
 public:
  explicit StatusBuilder(bool json) : json_(json) {}
  // Appends rows until about `budget` has passed; true once the report is complete. Each call
  // reads the engine as it is then, so a report built over several loop turns shows every row
  // as it was when written.
  bool step(const pool::Engine& e, health::MonoTime now, const DrainBook& drains,
            std::chrono::nanoseconds budget);
  std::string& text() noexcept { return out_; }

 private:
  bool json_;
  enum class Part { head, names, targets, done } part_ = Part::head;
  size_t next_ = 0;
  std::string out_;
};

// The whole status at once, with the drains: who made each, why, and until when.
std::string status_text(const pool::Engine& engine, health::MonoTime now, const DrainBook& drains);
std::string status_json(const pool::Engine& engine, health::MonoTime now, const DrainBook& drains);

// Who asks, for `explain`: the packet's source and the ECS prefix a resolver would send.
struct ExplainClient {
  std::optional<core::IpAddress> address;
  std::optional<core::Prefix> ecs;
};
// Cluster mode: this node, its link, the live nodes and every target's votes per node.
// Text for `gslbctl status`; JSON as the value of status_json's "cluster" member.
std::string cluster_text(const cluster::Link& link, const pool::Engine& engine);
std::string cluster_json(const cluster::Link& link, const pool::Engine& engine);

// Which pools were considered for `fqdn`, which addresses were skipped and why, and the answer a
// client gets now; for a name with a map, the client's rule, region order and ECS scope (the
// ECS prefix decides when given, as it does for queries). Empty optional when `fqdn` is not a
// dynamic name.
std::optional<std::string> explain(const pool::Engine& engine, const std::string& fqdn,
                                   uint16_t qtype, const ExplainClient& client, bool json);

// `gslbctl zones`: each zone's SOA serial, static records, when its files were read, its file,
// and its transfers (served so far; who may have one).
std::string zones_text(const std::vector<std::shared_ptr<const dns::Zone>>& zones);
std::string zones_json(const std::vector<std::shared_ptr<const dns::Zone>>& zones);

std::string json_string(std::string_view s);

}  // namespace gslb::daemon
