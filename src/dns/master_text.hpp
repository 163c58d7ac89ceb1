// The text layer of RFC 1035 master files, as BIND reads them: entries split from the text
// (comments, parentheses, quotes and escapes), TTL and class tokens, RFC 3597 generic RDATA and
// $GENERATE's templates. Pure functions of text, used by the zone loader (zone_loader.cpp) on
// the loader thread; nothing here knows record types beyond their names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gslb::dns::master {

// One entry: a directive or a record, with its tokens as written (quoted tokens keep their
// quotes and escapes stay escaped, so that the record parser sees what the file said).
struct Entry {
  int line = 0;              // where the entry starts (1-based)
  bool blank_owner = false;  // the line began with a blank: the previous owner applies
  std::vector<std::string> tokens;
};

// Splits master-file text into entries (RFC 1035 §5.1): `;` starts a comment outside quotes,
// `(` ... `)` continues an entry over lines, `\x` escapes one character, `"..."` is one token.
class EntryReader {
 public:
  explicit EntryReader(std::string_view text) : text_(text) {}
  // The next entry with at least one token; false at the end of the text. A malformed entry
  // (unbalanced parenthesis, unterminated quote) sets `error` and returns true.
  bool next(Entry& out, std::string& error);

 private:
  std::string_view text_;
  size_t at_ = 0;
  int line_ = 1;
};

// A TTL as BIND writes it: seconds ("3600") or units ("1h30m", "2W", "1d", each number with
// its unit: "1h30" is not a TTL), case-insensitive;
// at most 2^32-1. Nothing if the token is not a TTL.
std::optional<uint32_t> parse_ttl(std::string_view token);
// IN, CH, CS, HS or CLASSnnn (RFC 3597 §5), case-insensitive: the class number, else nothing.
std::optional<uint16_t> parse_class(std::string_view token);
// A token without its quotes (escapes kept).
std::string unquote(std::string_view token);

// RFC 3597 §5 generic RDATA, the tokens after `\#`: a length and that many bytes in hex,
// split into any number of tokens. Strict: only hex digits, whole bytes, exactly the length
// given, at most 65535.
core::Result<std::string> parse_generic_rdata(const std::vector<std::string>& tokens, size_t from);

// $GENERATE's range "start-stop[/step]".
struct GenerateRange {
  uint32_t start = 0, stop = 0, step = 1;
};
core::Result<GenerateRange> parse_generate_range(std::string_view text);
// One $GENERATE template with `i` substituted as BIND does: `$` is i, `${offset,width,base}`
// adds offset and pads to width in base d, o, x, X, n or N (nibbles, lowest first, joined by
// dots: `${0,3,n}` of 1024 is "0.0.4"), `$$` is a literal `$`, `\x` is kept as written.
core::Result<std::string> generate_substitute(std::string_view tmpl, int64_t i);

// SVCB/HTTPS (RFC 9460 §7.1, Appendix A.1): an alpn value as written after `alpn=` (quoted or
// not) to its wire form. The value is a char-string (`\DDD`, `\X`) holding a comma-separated
// list in which `\,` is a comma inside an ID: `alpn="h1\,h2"` is the two IDs h1 and h2,
// `alpn="a\\,b"` the one ID "a,b". ldns reads it as one ID with a backslash in it.
// With `generic` (the value was written as key1=...), the char-string's bytes are the wire
// form itself (RFC 9460 §2.1), checked to be a list of length-prefixed IDs.
core::Result<std::string> svcb_alpn_wire(std::string_view value, bool generic = false);
// In SVCB/HTTPS RDATA, gives the parameter keyed `from` the key `to`, keeping the parameters
// in increasing key order (RFC 9460 §2.2). False if the RDATA is not well formed.
bool svcb_rekey(std::string& rdata, uint16_t from, uint16_t to);

// A token of a character-string field split as BIND's lexer splits it: a quote ends the text
// before it and a quoted string ends at its closing quote, so `a"b"c` is a, "b" and c and
// `"a""b"` is "a" and "b". Escapes stay as written.
std::vector<std::string> split_strings(std::string_view token);

// SVCB/HTTPS RDATA (after svcb_rekey) against RFC 9460's rules for its parameters: no key
// twice (§2.2), and the keys `mandatory` lists are present, not `mandatory` itself and none
// twice (§8). Empty if it keeps them, else what is wrong.
std::string svcb_check(std::string_view rdata);

// Base 32 with the extended hex alphabet (RFC 4648 §7), as NSEC3 writes hashed names (RFC 5155
// §3.3): case-insensitive, no padding; a length that cannot end on a whole byte, or bits past
// the last byte that are not zero, are errors.
core::Result<std::string> base32hex_decode(std::string_view text);

// NXT's type bitmap (RFC 2535 §5.2) from type numbers 1-127: a bit per type, bit 0 first,
// trailing zero bytes left out.
std::string nxt_bitmap(const std::vector<uint16_t>& types);

// KEY/DNSKEY flags as RFC 2535 §7.1 lets them be written: a number (decimal, or hex after
// "0x", as BIND also takes), or mnemonics joined by '|' (NOCONF, NOAUTH, NOKEY, FLAG2, EXTEND,
// FLAG4, FLAG5, USER, ZONE, HOST, NTYP3, FLAG8-FLAG11, SIG0-SIG15, and BIND's KSK), each
// adding its bits; case-insensitive.
std::optional<uint16_t> parse_key_flags(std::string_view text);

// LOC's position (RFC 1876 §3) from tokens[from]: degrees, then minutes and seconds if given,
// then N/S, likewise E/W; latitude at most 90°, longitude 180°, minutes and seconds below 60.
// Empty if it keeps to that (the rest is ldns's to read), else what is wrong.
std::string loc_check(const std::vector<std::string>& tokens, size_t from);
// One APL item (RFC 3123 §4): [!]afi:address/prefix; for family 1 (IPv4) a prefix of at most
// 32, for 2 (IPv6) 128. Empty if it keeps to that, else what is wrong.
std::string apl_check(std::string_view item);

// An NSAP address as RFC 1706 §5 writes it: "0x", then an even number (at least two) of hex
// digits, with dots anywhere after the "0x". Its bytes, or what is wrong.
core::Result<std::string> parse_nsap(std::string_view text);

}  // namespace gslb::dns::master
