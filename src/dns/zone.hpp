// Static zone data as loaded from an RFC 1035 master file. Built once on the control thread,
// then compiled into an AnswerTable (compile.hpp); never touched by the query path.
#pragma once

#include <algorithm>
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
#include "dns/tsig.hpp"

namespace gslb::dns {

// One record's RDATA in uncompressed wire form. A zone stores one per static record, so it is
// small (32 bytes) and its bytes live in the zone's storage, not in a heap block of their own.
struct Rdata {
  std::string_view wire;  // the zone's storage (or, for a dynamic answer, the caller's)
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

class Signer;   // dns/dnssec.hpp
struct Journal;  // dns/ixfr.hpp

// A dynamic name as a zone transfer carries it (`transfer_dynamic = "fail_open"`): the
// addresses gslbd answers it with when nothing can be checked, with the name's TTL.
struct TransferName {
  std::string name;  // lower-cased wire
  uint32_t ttl = 0;
  std::vector<core::IpAddress> addresses;
  bool operator==(const TransferName&) const = default;
};

struct RRset {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::span<const Rdata> rdata;  // in the zone's storage (or the caller's)
  // The owner as the zone file spelled it when that was not all lower case (RFC 4343; the
  // node's name is lower-cased): as many bytes as the node's name, in the zone's storage.
  // Zone transfers send it; answers use the question's spelling.
  const char* owner_case = nullptr;
  std::string_view owner(std::string_view lower) const noexcept {
    return owner_case ? std::string_view(owner_case, lower.size()) : lower;
  }
};

// All RRsets of one owner name. An empty node is an empty non-terminal (RFC 4592 §2.2.2).
struct Node {
  std::string_view name;  // lower-cased wire form, in the zone's storage
  std::span<const RRset> rrsets;
  const RRset* find(uint16_t type) const {
    for (const auto& r : rrsets)
      if (r.type == type) return &r;
    return nullptr;
  }
};

// A loaded zone: immutable once load_zone returns it. Names, RRsets, RDATA and their bytes are
// each packed in one array (a std::map of vectors cost about 290 bytes per record at 1M
// records; this about 120), so neither copyable nor movable: the views point into it.
struct Zone {
  Zone() = default;
  Zone(const Zone&) = delete;
  Zone& operator=(const Zone&) = delete;

  std::string apex;                       // lower-cased wire form
  std::string file;                       // where it came from, for messages
  std::vector<Node> nodes;                // every owner name and every empty non-terminal,
                                          // sorted by name (byte order)
  std::vector<core::Prefix> allow_transfer;
  std::vector<TsigKey> transfer_keys;  // a transfer signed with one of these is allowed too
  // Every file read for it (the zone file, then each $INCLUDE), as it was when read: a reload
  // reuses this zone if none of them changed.
  std::vector<core::FileStamp> sources;
  double loaded_at = 0;  // when its files were read, Unix seconds (kept when a reload reuses it)
  // The SOA serial its file holds; serial() may differ (gslbd's serial policy, set_serial).
  uint32_t file_serial = 0;
  // Zone transfers (AXFR/IXFR) served of it, by every worker: a counter on an otherwise
  // immutable zone, so that it follows the zone across reloads that reuse it.
  mutable std::atomic<uint64_t> transfers{0};
  // Set on a signed zone (dns/dnssec.hpp): signs the dynamic answers made in it.
  std::shared_ptr<const Signer> signer;
  // The differences from earlier versions that IXFR answers from (dns/ixfr.hpp); null: none.
  // Set by the loader before the zone is shared.
  std::shared_ptr<const Journal> journal;
  // What secondaries get (dns/axfr.hpp, transfer_source): null for the zone itself, else this
  // zone with its dynamic names' fail-open addresses added (and signed, in a signed zone). The
  // view's records point into this zone's storage, so it lives exactly as long as this zone.
  std::shared_ptr<const Zone> transfer_view;
  // Set on a transfer view: the dynamic names it added, in name order.
  std::vector<TransferName> transfer_names;

  // The node named `name` (lower-cased wire), or null.
  const Node* find(std::string_view name) const noexcept {
    auto it = std::lower_bound(nodes.begin(), nodes.end(), name,
                               [](const Node& n, std::string_view v) { return n.name < v; });
    return it != nodes.end() && it->name == name ? &*it : nullptr;
  }
  const Node& apex_node() const { return *find(apex); }
  const RRset& soa() const { return *apex_node().find(6); }
  // The SOA's SERIAL (RFC 1035 §3.3.13): the 4 bytes after its two names.
  uint32_t serial() const noexcept {
    const Rdata& r = soa().rdata[0];
    const size_t at = size_t(r.compress[1].first) + r.compress[1].second;
    if (r.wire.size() < at + 4) return 0;
    const auto* b = reinterpret_cast<const uint8_t*>(r.wire.data()) + at;
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
  }
  // Makes the SOA's SERIAL `serial`: gslbd's serial policy (daemon/server.cpp), applied by the
  // loader before the zone is signed and shared.
  void set_serial(uint32_t serial) noexcept {
    const std::string_view w = soa().rdata[0].wire;
    if (w.size() < 20 || w.data() < rdata_bytes.data() ||
        w.data() + w.size() > rdata_bytes.data() + rdata_bytes.size())
      return;
    char* b = rdata_bytes.data() + (w.data() - rdata_bytes.data()) + w.size() - 20;
    for (int i = 0; i < 4; ++i) b[i] = char(serial >> (24 - 8 * i));
  }
  // Static records, the SOA and every other.
  size_t records() const noexcept { return rdata_store.size(); }

  // What the views point into; filled once by the loader, each reserved to its final size.
  std::string name_bytes, rdata_bytes;
  std::vector<RRset> rrset_store;
  std::vector<Rdata> rdata_store;
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
  // Where a relative $INCLUDE is also looked for (the config file's folder), besides the
  // including file's; empty: only there.
  std::string base_dir;
  // Receives what BIND would warn about and load anyway (out-of-zone data skipped, ...).
  core::Errors* warnings = nullptr;
};

// A record's RDATA in presentation form ("10 mail.example.test.", "\"some text\""), and type
// names both ways ("MX" <-> 15; TYPE65534 for the nameless, RFC 3597 §5); 0 when unknown.
std::string rdata_to_text(uint16_t type, std::string_view wire);
std::string rrtype_to_text(uint16_t type);
uint16_t rrtype_from_text(std::string_view text);

// Reads a master file (with $ORIGIN, $TTL, $INCLUDE, $GENERATE) for `apex` ("example.test.")
// as BIND reads it.
// Appends every problem to `errors` as `file:line: reason` and returns null if there was any.
// `text`, when given, is parsed instead of reading `path` (the built-in example zone).
// Only regular files are read; a limit that is exceeded stops the load with an error.
std::shared_ptr<Zone> load_zone(std::string_view apex, const std::string& path,
                                core::Errors& errors, const std::string* text = nullptr,
                                const LoadOptions& options = {});

}  // namespace gslb::dns
