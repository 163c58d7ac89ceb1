// Record data as the zone loader reads it (RFC 1035 §3.3 and the later types): the types and
// limits it treats specially, the checks ldns leaves out, and ldns's parsed record turned into
// our Rdata with where its names are. Kept apart from zone_loader.cpp, which reads entries and
// directives and assembles RRsets, so that each holds one job. Private to src/dns (it includes
// ldns, through dns/ldns.hpp): shared by zone_loader.cpp and rdata_parse.cpp only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/ldns.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

// RFC 1035 §3.2.1: RDLENGTH is 16 bits.
constexpr size_t kMaxRdata = 65535;
// ldns parses within buffers of this many characters and silently drops the rest (a 102 KB TXT
// came out as 65016 bytes of RDATA). Longer records in presentation form are refused before
// they reach it; RFC 3597 data is read here and may be longer.
constexpr size_t kMaxEntryText = 65535;
constexpr uint16_t kSvcb = 64, kHttps = 65;
constexpr uint16_t kSig = 24, kKey = 25, kNxt = 30, kNsap = 22, kNsec3 = 50, kAmtrelay = 260;
constexpr uint16_t kX25 = 19, kIsdn = 20, kSpf = 99, kCaa = 257, kTa = 32768, kDlv = 32769;
constexpr uint16_t kLoc = 29, kApl = 42;

// Types BIND 9.18 reads that this ldns does not know, and the type whose presentation and
// wire form they share (0: read here).
struct KnownElsewhere {
  std::string_view name;
  uint16_t type, read_as;
};
constexpr KnownElsewhere kKnownElsewhere[] = {
    {"NINFO", 56, rrtype::TXT},   {"AVC", 258, rrtype::TXT},   {"RESINFO", 261, rrtype::TXT},
    {"WALLET", 262, rrtype::TXT}, {"TA", 32768, rrtype::DS}, {"AMTRELAY", kAmtrelay, 0},
};

// ldns reads a number into an 8, 16 or 32-bit field without a range check ("MX 65536 a" gave
// preference 0). The leading fields written as one token each are checked here: an error, or
// empty.
std::string int_field_error(uint16_t type, const std::vector<std::string>& t, size_t k);

// A number from 0 to `max`, in decimal.
std::optional<unsigned> small_number(std::string_view t, unsigned max);

// The private-use key (RFC 9460 §14.3.2) an alpn value passes through ldns as.
constexpr uint16_t kAlpnStandIn = 65534;

// One record's RDATA as ldns gave it.
struct ParsedRdata {
  std::string wire;
  Rdata meta;  // everything but the wire view
  // Where the domain names in `wire` are: a duplicate is found with them in lower case.
  std::vector<std::pair<uint16_t, uint16_t>> names;
};

// The RDATA with its domain names in lower case, if that changes it: two records that differ
// only in the case of a name are one record (RFC 4343 §3, RFC 2181 §5), as BIND compares them.
std::string folded_names(const ParsedRdata& r);

// The RDATA of an ldns record, with where its names are (compression, additional section).
ParsedRdata make_rdata(const ldns_rr* rr);

}  // namespace gslb::dns
