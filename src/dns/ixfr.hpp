// Incremental zone transfer (RFC 1995) from a bounded history of the differences between the
// versions of a zone that reloads produced. The loader thread computes a version's difference
// and the journal that goes with it; both are immutable once the zone holding them is
// published, and the DNS workers only read them, for allowed clients (this allocates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/axfr.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

// RFC 1982 §3.2: whether serial `a` comes before `b`. Two serials exactly 2^31 apart are
// undefined there; neither comes before the other here.
constexpr bool serial_lt(uint32_t a, uint32_t b) noexcept {
  return a != b && ((a < b && b - a < 0x80000000u) || (a > b && a - b > 0x80000000u));
}

// A record that a journal keeps after the zone it came from has gone: the bytes a transfer
// sends (owner as spelled, TTL as sent, RDATA) and where the RDATA's names are.
struct OwnedRecord {
  std::string owner;  // wire form, as the zone file spelled it
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;  // uncompressed wire form
  Rdata meta;         // compression offsets and target; its `wire` is set by view()

  static OwnedRecord of(const TransferRecord& r);
  TransferRecord view() const;
  // Its size in a message, uncompressed.
  size_t size() const noexcept { return owner.size() + 10 + rdata.size(); }
};

// What changed from one version of a zone to the next (RFC 1995 §4): the old SOA, the records
// deleted, the new SOA, the records added. The SOAs are not among deleted and added. Records
// compare byte for byte (owner as spelled, type, TTL, RDATA): a TTL or case change is the
// old record deleted and the new one added.
struct Delta {
  OwnedRecord old_soa, new_soa;
  std::vector<OwnedRecord> deleted, added;

  uint32_t from() const noexcept;
  uint32_t to() const noexcept;
  size_t bytes() const noexcept;  // every record of it, uncompressed
};

// The difference between two versions of a zone, as transfer_source() gives them.
Delta diff_zones(const Zone& old_zone, const Zone& new_zone);

// Whether the two versions hold the same data but for the SOA's serial and the signatures'
// validity times and bytes: what signing the same data again changes.
bool only_signatures_differ(const Delta& d);

// The wire size of the records a transfer of `zone` sends (uncompressed, the SOA once).
size_t transfer_bytes(const Zone& zone);

// The differences kept for IXFR, oldest first, each starting at the serial the previous one
// ends at; the last ends at the serial of the zone that holds the journal. Shared by the
// versions that keep the same deltas: a new version copies the pointers, not the records.
struct Journal {
  std::vector<std::shared_ptr<const Delta>> deltas;
  size_t bytes = 0;  // of every delta

  // The journal of a new version: `previous` (null: none) and then `delta`, the oldest
  // dropped first while there are more than `max_versions` or they hold more than
  // `max_bytes`. Null when nothing is left (max_versions 0, or `delta` alone is too big).
  static std::shared_ptr<const Journal> extend(const Journal* previous,
                                               std::shared_ptr<const Delta> delta,
                                               size_t max_versions, size_t max_bytes);
};

// How an IXFR from `client_serial` is answered (RFC 1995 §2, §4).
struct IxfrPlan {
  enum class Kind {
    up_to_date,   // the client has this version or a newer one: the current SOA alone
    incremental,  // the deltas from the client's version on
    axfr,         // the history does not reach back to the client's version
  } kind = Kind::axfr;
  size_t first = 0;  // incremental: the delta that starts at the client's serial
};
IxfrPlan plan_ixfr(const Zone& zone, uint32_t client_serial);

// The records of that answer as a TransferStream source: the current SOA alone; or the
// current SOA, then for each delta its old SOA, the deleted records, its new SOA and the added
// records, and the current SOA again; or the AXFR sequence. `zone` (and its journal) must
// outlive the source.
TransferStream::Source ixfr_source(const Zone& zone, const IxfrPlan& plan);

}  // namespace gslb::dns
