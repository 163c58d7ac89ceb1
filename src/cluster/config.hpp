// [cluster] in gslbd.toml as a plain struct: which etcd, which node this is, the key space,
// the rule that makes a target down, and the lease on this node's votes. Filled by src/config.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/result.hpp"

namespace gslb::cluster {

// How many of the nodes that voted on a target must see it down: "any", "majority", "all", a
// count ("2") or a share ("50%").
struct DownWhen {
  enum class Kind { any, majority, all, count, share };
  Kind kind = Kind::majority;
  unsigned n = 0;  // the count, or the share in percent
  bool operator==(const DownWhen&) const = default;

  // The text above; an error message (no position: the caller adds it) otherwise.
  static core::Result<DownWhen> parse(std::string_view text);
  std::string to_string() const;
  // Down votes needed out of `voters` (>= 1). A count larger than the voters asks for all of
  // them, so a lone surviving node can still fail over: "2" with 1 voter needs 1.
  // A share rounds up: "50%" of 3 is 2, of 4 is 2; "1%" of anything is at least 1.
  unsigned needed(unsigned voters) const;
};

struct Config {
  std::vector<std::string> etcd;  // endpoints, "http://127.0.0.1:2379"; empty = no cluster
  std::string node;               // this vantage point's name, unique in the deployment
  std::string prefix = "/gslbd";  // the key space of one deployment, no trailing '/'
  DownWhen down_when;             // default majority
  core::Duration lease = std::chrono::seconds(3);  // whole seconds (etcd's TTL unit)
  std::string ca_file, cert_file, key_file;        // for https endpoints
  bool enabled() const noexcept { return !etcd.empty(); }
  bool operator==(const Config&) const = default;
};

}  // namespace gslb::cluster
