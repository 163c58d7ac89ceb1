// Static zone data as loaded from an RFC 1035 master file. Built once on the control thread,
// then compiled into an AnswerTable (compile.hpp); never touched by the query path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/result.hpp"

namespace gslb::dns {

// One record's RDATA in uncompressed wire form.
struct Rdata {
  std::string wire;
  // Embedded domain names that RFC 3597 §4 lets us compress (NS, CNAME, SOA, PTR, MX, ...):
  // (offset, length) into `wire`.
  std::vector<std::pair<uint16_t, uint16_t>> compressible;
  // The lower-cased name that additional-section processing follows (NS, MX, SRV targets;
  // CNAME target), empty if none.
  std::string target;
  bool operator==(const Rdata& o) const { return wire == o.wire; }
};

struct RRset {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::vector<Rdata> rdata;
};

// All RRsets of one owner name. An empty node is an empty non-terminal (RFC 4592 §2.2.2).
struct Node {
  std::string name;  // lower-cased wire form
  std::vector<RRset> rrsets;
  const RRset* find(uint16_t type) const {
    for (const auto& r : rrsets)
      if (r.type == type) return &r;
    return nullptr;
  }
};

struct Zone {
  std::string apex;                       // lower-cased wire form
  std::string file;                       // where it came from, for messages
  std::map<std::string, Node> nodes;      // every owner name and every empty non-terminal
  std::vector<core::Prefix> allow_transfer;
  const Node& apex_node() const { return nodes.at(apex); }
  const RRset& soa() const { return *apex_node().find(6); }
};

// Reads a master file (with $ORIGIN, $TTL, $INCLUDE) for `apex` ("example.test.").
// Appends every problem to `errors` as `file:line: reason` and returns null if there was any.
// `text`, when given, is parsed instead of reading `path` (the built-in example zone).
std::shared_ptr<const Zone> load_zone(std::string_view apex, const std::string& path,
                                      core::Errors& errors, const std::string* text = nullptr);

}  // namespace gslb::dns
