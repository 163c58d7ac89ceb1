// The parts of gslbd.toml parsed in files of their own, for parse() in config.cpp: the zone
// table with its dnssec and transfer keys (zone_config.cpp), [cluster] (cluster_config.cpp) and
// [[map]] (map_config.cpp). Internal to src/config; the Checker comes from toml_check.hpp.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/toml_check.hpp"

namespace gslb::config {

// Where a node was written, for errors found after parsing; nothing for no node.
inline Position at(const toml::node* n) {
  return n ? Position{int(n->source().begin.line), int(n->source().begin.column)} : Position{};
}

// One [[zone]] table: name, file, transfers and NOTIFY (with their TSIG keys), dnssec.
void parse_zone(Checker& c, const toml::table& t, const std::string& prefix, Zone& z);

// [cluster]: several gslbd sharing verdicts through etcd.
void parse_cluster(Checker& c, const toml::table& t, cluster::Config& cl);

// `[[map]]`: nets are checked as prefixes with no host bits, each listed once.
void parse_map(Checker& c, const toml::table& t, const std::string& prefix,
               const std::unordered_set<std::string>& regions, const std::vector<pool::Pool>& pools,
               geo::MapConfig& m);

}  // namespace gslb::config
