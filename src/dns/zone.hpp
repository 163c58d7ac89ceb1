// Static zone data as loaded from an RFC 1035 master file. Built once on the control thread,
// then compiled into an AnswerTable (compile.hpp); never touched by the query path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/file.hpp"
#include "core/result.hpp"

namespace gslb::dns {

// One record's RDATA in uncompressed wire form. One per static record, so kept small: 48
// bytes, and a heap block only when the RDATA is over 15 bytes (a vector and a second string
// cost 56 more bytes and two heap blocks per record).
struct Rdata {
  std::string wire;
  // Embedded domain names that RFC 3597 §4 lets us compress (NS, CNAME, SOA, PTR, MX, ...):
  // (offset, length) into `wire`. SOA and MINFO hold two, the other types at most one.
  std::array<std::pair<uint16_t, uint16_t>, 2> compress{};
  uint8_t compress_count = 0;
  // Where the name that additional-section processing follows (NS, MX, SRV targets; CNAME
  // target) sits in `wire`; length 0 if none.
  uint16_t target_at = 0, target_len = 0;

  std::span<const std::pair<uint16_t, uint16_t>> compressible() const noexcept {
    return {compress.data(), compress_count};
  }
  // That name, lower-cased; empty if none.
  std::string target() const;
  bool operator==(const Rdata& o) const { return wire == o.wire; }
};

struct RRset {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::vector<Rdata> rdata;
};

// All RRsets of one owner name. An empty node is an empty non-terminal (RFC 4592 §2.2.2).
struct Node {
  // Lower-cased wire form: a view of the key it is stored under in Zone::nodes (std::map nodes
  // never move), not a second copy of every name.
  std::string_view name;
  std::vector<RRset> rrsets;
  const RRset* find(uint16_t type) const {
    for (const auto& r : rrsets)
      if (r.type == type) return &r;
    return nullptr;
  }
};

// Not copyable: its nodes' names are views of its own map's keys.
struct Zone {
  Zone() = default;
  Zone(const Zone&) = delete;
  Zone& operator=(const Zone&) = delete;

  std::string apex;                       // lower-cased wire form
  std::string file;                       // where it came from, for messages
  std::map<std::string, Node, std::less<>> nodes;  // every owner name and every empty non-terminal
  std::vector<core::Prefix> allow_transfer;
  // Every file read for it (the zone file, then each $INCLUDE), as it was when read: a reload
  // reuses this zone if none of them changed.
  std::vector<core::FileStamp> sources;
  const Node& apex_node() const { return nodes.at(apex); }
  const RRset& soa() const { return *apex_node().find(6); }
};

// Bounds on what one zone may make the loader read, so that a hostile or broken zone file
// ($INCLUDE fan-out, /dev/zero, a FIFO, a generated zone gone wrong) ends in an error instead
// of a loader that never finishes or eats the machine's memory. gslbd.toml's [limits].
struct ZoneLimits {
  int include_depth = 10;            // $INCLUDE nesting below the zone file
  uint32_t includes = 1000;          // $INCLUDE directives followed, in all its files together
  uint64_t records = 10'000'000;     // records, over all its files
  uint64_t bytes = uint64_t(1) << 30;  // bytes of master-file text, over all its files
};

struct LoadOptions {
  ZoneLimits limits;
  // Checked between records: when set, the load stops early (with an error) so that a
  // stopping gslbd does not wait for a large zone.
  const std::atomic<bool>* cancel = nullptr;
};

// Reads a master file (with $ORIGIN, $TTL, $INCLUDE) for `apex` ("example.test.").
// Appends every problem to `errors` as `file:line: reason` and returns null if there was any.
// `text`, when given, is parsed instead of reading `path` (the built-in example zone).
// Only regular files are read; a limit that is exceeded stops the load with an error.
std::shared_ptr<Zone> load_zone(std::string_view apex, const std::string& path,
                                core::Errors& errors, const std::string* text = nullptr,
                                const LoadOptions& options = {});

}  // namespace gslb::dns
