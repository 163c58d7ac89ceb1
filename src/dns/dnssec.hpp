// DNSSEC signing ahead of time (RFC 4033-4035): a loaded zone and its keys in, a signed zone out
// (DNSKEY, CDS and CDNSKEY at the apex, an RRSIG for every authoritative RRset, an NSEC chain
// over the zone's names and its dynamic names). Runs on the loading thread; the query path only
// copies what compile() built from the result.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

// One key pair: `base` is the BIND base name ("dir/Kexample.test.+013+12345"), read as
// base.key (the DNSKEY) and base.private. Errors about it are reported at (file, line, col),
// where the configuration names it.
struct KeyRef {
  std::string base;
  std::string file;
  int line = 0, col = 0;
};

struct SignSpec {
  std::vector<KeyRef> keys;
  uint32_t validity = 14 * 86400;  // RRSIG lifetime, seconds
  uint32_t now = 0;                // unix time of the signing; inception is an hour before it
  uint32_t jitter = 0;             // taken off the expiration, so reloads do not all expire at once
};

// A dynamic name of the zone and the address types its pools can answer: the NSEC chain lists
// them, so that a validator accepts NODATA for the type it has no pool for.
struct DynamicName {
  std::string name;  // lower-cased wire
  bool a = false, aaaa = false;
};

// Signs RRsets that are made after the zone was signed: the dynamic answers, each time the
// Overlay compiles one. Holds the zone-signing keys (those without the SEP flag, or a CSK);
// shared by the signed Zone (Zone::signer). sign() may be called from any thread.
class Signer {
 public:
  struct Impl;
  explicit Signer(std::unique_ptr<Impl> impl);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // The RDATA (wire) of an RRSIG per zone-signing key over `set` at `owner` (lower-cased
  // wire), valid from an hour before now for the zone's validity. An RRset signed before by
  // this Signer (the same records in any order, the same TTL) gets the signatures made then:
  // a state health returns to, or one signed ahead at load, costs a lookup. The Signer lives
  // for one load, and the zone is signed again (with a new one) before those signatures
  // come within `refresh` of expiring.
  std::vector<std::string> sign(std::string_view owner, const RRset& set) const;

 private:
  std::unique_ptr<Impl> impl_;
};

// The zone signed with the spec's keys; null (and every problem appended to `errors`) if a key
// cannot be read or used. Keys with the SEP flag (257) sign the DNSKEY RRset and, when there is
// no other key of their algorithm, everything else (a CSK); keys without it (256) sign the rest.
// The dynamic names' A/AAAA are not in the result (compile() takes them from the Overlay), but
// the NSEC records at them list those types.
std::shared_ptr<Zone> sign_zone(const Zone& zone, const SignSpec& spec,
                                const std::vector<DynamicName>& dynamic, core::Errors& errors);

// The DS records (SHA-256, RFC 4509) for the zone's SEP keys, one presentation-format line each.
std::vector<std::string> ds_records(const Zone& zone);

// The earliest RRSIG expiration in the zone (unix time), or 0 if it holds none.
uint32_t earliest_expiration(const Zone& zone);

// NSEC RDATA (RFC 4034 §4.1): the next owner name, uncompressed, then the type bitmap's
// windows. Whether `type` is in the bitmap; and the RDATA without it (trailing zero octets and
// an emptied window left out, §4.1.2). Malformed RDATA: false, and returned unchanged.
bool nsec_has_type(std::string_view rdata, uint16_t type);
std::string nsec_without_type(std::string_view rdata, uint16_t type);

// The longest TTL among the RRsets signing `zone` would sign (all but the NS of a delegation and
// what lies below one), and whose it is (owner in lower-cased wire, type). A resolver may keep
// such an RRset and its RRSIG that long, so a signature served must have at least that much
// validity left (RFC 6781 §4.4.2.2; DNSViz: TTL_BEYOND_EXPIRATION). The apex's DNSKEY, CDS and
// CDNSKEY take the SOA's TTL and the NSECs at most that, so they never exceed it.
struct LongestTtl {
  uint32_t ttl = 0;
  std::string owner;
  uint16_t type = 0;
};
LongestTtl longest_signed_ttl(const Zone& zone);

}  // namespace gslb::dns
