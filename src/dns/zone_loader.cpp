// Master-file loading: entries and directives read here as BIND reads them (master_text.hpp),
// each record's RDATA parsed by ldns, every error with its file and line; then the RRsets
// assembled (duplicates, one TTL a set, CNAME rules) and the zone packed (Loader::finish).
// What a record's data becomes once ldns has read it is in rdata_parse.cpp; type and RDATA
// text for the rest of gslbd in rr_text.cpp.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/duration.hpp"
#include "dns/ldns.hpp"
#include "dns/master_text.hpp"
#include "dns/rdata_parse.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// One record as the loader keeps it until finish() packs the zone: its owner and RDATA are
// in two logs (Loader::names_log_, wire_log_), so a record costs this and its bytes, with no
// heap block of its own (a map of nodes cost about 250 bytes a record at 1M records).
struct LogRec {
  uint64_t name_at;
  uint64_t wire_at;
  uint32_t wire_len;
  uint32_t ttl;
  uint32_t file;  // index into Loader::files_
  int32_t line;
  uint16_t type;
  uint8_t name_len;
  uint8_t compress_count;
  std::array<std::pair<uint16_t, uint16_t>, 2> compress;
  uint16_t target_at, target_len;
  uint32_t spelling;  // the owner as written, if not all lower case: 1 + index into spellings_
  // Consecutive records with the owner spelled alike, as BIND gathers them before adding them
  // to the zone: of two duplicates in one batch the later stays, across batches the earlier.
  uint32_t batch;
};


class Loader {
 public:
  Loader(std::string apex, core::Errors& errors, const LoadOptions& options)
      : apex_(std::move(apex)), errors_(errors), limits_(options.limits), cancel_(options.cancel),
        warnings_(options.warnings), base_dir_(options.base_dir), zone_(std::make_shared<Zone>()) {
    if (!base_dir_.empty() && base_dir_.back() != '/') base_dir_ += '/';
    zone_->apex = apex_;
  }

  void error(const std::string& file, int line, std::string msg) {
    errors_.push_back(core::Error{file, line, 0, std::move(msg)});
    ++count_;
  }
  // A limit was exceeded (or gslbd is stopping): report it once and read nothing more.
  void abort(const std::string& file, int line, std::string msg) {
    error(file, line, std::move(msg));
    stopped_ = true;
  }
  bool stopped() const noexcept { return stopped_; }
  // Something BIND would load with a warning (out-of-zone data, an SOA's TTL taken from its
  // MINIMUM): the zone loads, and the daemon logs it.
  void warning(const std::string& file, int line, std::string msg) {
    if (warnings_) warnings_->push_back(core::Error{file, line, 0, std::move(msg)});
  }

  // Reads a file for the zone, within the byte budget; reports at `from` (the $INCLUDE line,
  // or the zone file itself at line 0).
  std::optional<std::string> open(const std::string& path, const std::string& from_file, int from_line);

  // Reads one file's entries from `origin` (absolute, as written). An included file starts
  // with its includer's current owner, as BIND reads it (a first record with a blank owner
  // belongs to the includer's last owner).
  void read(const std::string& path, const std::string& text, std::string origin, int depth,
            std::string owner = {});
  // Logs one record; finish() sorts, checks and packs them.
  // `written` is the owner as the file spelled it (RFC 4343: kept for the transfer).
  void add(std::string_view owner, std::string_view written, uint16_t type, uint32_t ttl,
           const ParsedRdata& rdata, const std::string& file, int line);
  std::shared_ptr<Zone> finish(const std::string& path);

  std::vector<core::FileStamp> sources_;

 private:
  void include(const std::string& path, int at, const std::vector<std::string>& tokens,
               const std::string& origin, const std::string& owner, int depth);
  void generate(const std::string& path, int at, const std::vector<std::string>& tokens,
                const std::string& origin);
  // One record: `tokens` from `k` are [ttl] [class] type rdata; `owner` is absolute.
  void record(const std::string& path, int at, const std::string& owner,
              const std::vector<std::string>& tokens, size_t k, const std::string& origin);
  std::string include_path(const std::string& file, const std::string& from,
                           std::string* error) const;

  std::string apex_;
  core::Errors& errors_;
  ZoneLimits limits_;
  const std::atomic<bool>* cancel_;
  int count_ = 0;
  bool stopped_ = false;
  uint32_t includes_ = 0;
  uint64_t bytes_ = 0;
  core::Errors* warnings_;
  std::string base_dir_;
  uint32_t default_ttl_ = 0;
  bool default_ttl_known_ = false;  // $TTL, or an SOA's MINIMUM standing in for it
  bool rfc1035_ttl_ = false;        // no $TTL: default_ttl_ is the last explicit TTL
  uint64_t records_ = 0;
  std::shared_ptr<Zone> zone_;
  std::vector<std::string> files_;  // every file read, for the records' positions
  std::vector<LogRec> log_;
  std::string names_log_, wire_log_;
  std::vector<std::string> spellings_;
  std::string_view name_of(const LogRec& r) const {
    return std::string_view(names_log_).substr(r.name_at, r.name_len);
  }
  std::string_view wire_of(const LogRec& r) const {
    return std::string_view(wire_log_).substr(r.wire_at, r.wire_len);
  }
  std::string last_written_;
  uint32_t batch_ = 0;
  bool generating_ = false;  // in $GENERATE
  uint32_t generated_ = 0;
  // RDATA with names in lower case, by index into log_, where that differs from the wire.
  std::unordered_map<uint32_t, std::string> folded_;
  // The RDATA that duplicates are compared by.
  std::string_view compared_of(uint32_t i) const {
    const auto f = folded_.find(i);
    return f == folded_.end() ? wire_of(log_[i]) : std::string_view(f->second);
  }
  // Which RRset a record belongs to at its owner: its type, and for an RRSIG the type it
  // covers (RFC 4034 §3.1.1), so that each covered type's signatures keep their own TTL as
  // BIND keeps them (one RRSIG query still answers them all: compile.cpp).
  uint16_t covered(const LogRec& r) const {
    if (r.type != rrtype::RRSIG || r.wire_len < 2) return 0;
    const std::string_view w = wire_of(r);
    return uint16_t(uint8_t(w[0]) << 8 | uint8_t(w[1]));
  }
  bool same_set(const LogRec& a, const LogRec& b) const {
    return a.type == b.type && covered(a) == covered(b) && name_of(a) == name_of(b);
  }
};

constexpr size_t kScanLimit = 16;

uint64_t record_hash(std::string_view owner, uint16_t type, std::string_view wire) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  };
  mix(owner);
  h = (h ^ type) * 0x100000001b3ull;
  mix(wire);
  return h;
}

void Loader::add(std::string_view owner, std::string_view written, uint16_t type, uint32_t ttl,
                 const ParsedRdata& rdata, const std::string& file, int line) {
  if (type == rrtype::SOA && owner != apex_) return error(file, line, "SOA record below the zone apex");
  if (type == rrtype::OPT || type == rrtype::ANY || type == rrtype::AXFR || type == rrtype::IXFR)
    return error(file, line, fmt::format("type {} cannot appear in a zone", type));
  if (files_.empty() || files_.back() != file) files_.push_back(file);
  const Rdata& m = rdata.meta;
  // $GENERATE's records are added one by one and leave the batch around them whole, as BIND
  // adds them (a "x" record, a $GENERATE, then "x" again is one batch).
  uint32_t batch = 0;
  if (generating_) {
    batch = 0x80000000u | generated_++;
  } else {
    if (written != last_written_) {
      last_written_ = written;
      ++batch_;
    }
    batch = batch_;
  }
  log_.push_back(LogRec{names_log_.size(), wire_log_.size(), uint32_t(rdata.wire.size()), ttl,
                        uint32_t(files_.size() - 1), line, type, uint8_t(owner.size()),
                        m.compress_count, m.compress, m.target_at, m.target_len, 0, batch});
  if (std::string folded = folded_names(rdata); !folded.empty())
    folded_.emplace(uint32_t(log_.size() - 1), std::move(folded));
  if (written != owner) {
    spellings_.emplace_back(written);
    log_.back().spelling = uint32_t(spellings_.size());
  }
  names_log_ += owner;
  wire_log_ += rdata.wire;
}

std::optional<std::string> Loader::open(const std::string& path, const std::string& from_file,
                                        int from_line) {
  const uint64_t left = limits_.bytes - std::min(bytes_, limits_.bytes);
  core::FileStamp stamp;
  auto text = core::read_regular_file(path, left, &stamp);
  if (!text) {
    std::string why = text.error().message;
    if (from_line > 0) why = fmt::format("{}: {}", path, why);
    if (why.find("over the limit") != std::string::npos)
      abort(from_file, from_line,
            fmt::format("{} (limits.zone_bytes = {} for all of the zone's files together)", why,
                        limits_.bytes));
    else
      error(from_file, from_line, std::move(why));
    return std::nullopt;
  }
  bytes_ += text->size();
  sources_.push_back(std::move(stamp));
  return std::move(*text);
}

namespace {

// Whether a name as written is absolute: it ends in a dot that is not escaped.
bool absolute(std::string_view name) {
  if (name.empty() || name.back() != '.') return false;
  size_t slashes = 0;
  for (size_t i = name.size() - 1; i > 0 && name[i - 1] == '\\'; --i) ++slashes;
  return slashes % 2 == 0;
}

// A name as written, made absolute against `origin` (RFC 1035 §5.1: "@" is the origin).
std::string absolute_name(std::string_view name, const std::string& origin) {
  if (name == "@") return origin;
  if (absolute(name)) return std::string(name);
  return origin == "." ? std::string(name) + "." : std::string(name) + "." + origin;
}

bool is_regular(const std::string& path, struct stat* st) {
  return ::stat(path.c_str(), st) == 0 && S_ISREG(st->st_mode);
}

}  // namespace

std::string Loader::include_path(const std::string& file, const std::string& from,
                                 std::string* error) const {
  if (file[0] == '/') return file;
  // Relative to the including file's folder (NSD, Knot) or to the config's (BIND's
  // `directory`): whichever holds the file; both only if they are the same file.
  const std::string here = dir_of(from) + file;
  if (base_dir_.empty()) return here;
  const std::string there = base_dir_ + file;
  struct stat a {}, b {};
  const bool in_here = is_regular(here, &a), in_there = is_regular(there, &b);
  if (in_here && in_there && (a.st_dev != b.st_dev || a.st_ino != b.st_ino))
    *error = fmt::format("$INCLUDE {}: ambiguous: both {} and {} exist; write the path from one "
                         "of them", file, here, there);
  return in_there && !in_here ? there : here;
}

void Loader::read(const std::string& path, const std::string& text, std::string origin,
                  int depth, std::string owner) {
  if (text.empty()) {
    // An empty included file adds nothing, as in BIND; an empty zone file is an error.
    if (depth == 0) error(path, 0, "empty zone file");
    return;
  }
  master::EntryReader reader(text);
  master::Entry entry;
  std::string why;
  // `owner` is the previous record's, absolute, as written.
  while (!stopped_ && reader.next(entry, why)) {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) {
      abort(path, entry.line, "load abandoned: gslbd is stopping");
      break;
    }
    const int at = entry.line;
    if (!why.empty()) {
      error(path, at, why);
      continue;
    }
    const auto& t = entry.tokens;
    if (t[0][0] == '$') {
      if (iequals(t[0], "$TTL")) {
        auto ttl = t.size() == 2 ? master::parse_ttl(t[1]) : std::nullopt;
        if (!ttl) {
          error(path, at, "$TTL needs one TTL (seconds, or units such as 1h30m)");
          continue;
        }
        default_ttl_ = *ttl;
        default_ttl_known_ = true;
      } else if (iequals(t[0], "$ORIGIN")) {
        if (t.size() != 2) {
          error(path, at, "$ORIGIN needs one domain name");
          continue;
        }
        // A relative $ORIGIN is relative to the current one (as BIND and NSD read it).
        origin = absolute_name(t[1], origin);
      } else if (iequals(t[0], "$INCLUDE")) {
        include(path, at, t, origin, owner, depth);
      } else if (iequals(t[0], "$GENERATE")) {
        generate(path, at, t, origin);
      } else {
        error(path, at, fmt::format("unknown directive {}", t[0]));
      }
      continue;
    }
    size_t k = 0;
    if (!entry.blank_owner) {
      owner = absolute_name(t[k++], origin);
    } else if (owner.empty()) {
      error(path, at, "a record without an owner name, and no previous one");
      continue;
    }
    record(path, at, owner, t, k, origin);
  }
}

void Loader::include(const std::string& path, int at, const std::vector<std::string>& t,
                     const std::string& origin, const std::string& owner, int depth) {
  // $INCLUDE file [origin] (RFC 1035 §5.1); the file name may be quoted.
  if (t.size() < 2 || t.size() > 3) {
    error(path, at, "$INCLUDE needs a file name and, optionally, an origin");
    return;
  }
  const std::string file = master::unquote(t[1]);
  if (file.empty()) {
    error(path, at, "$INCLUDE without a file name");
    return;
  }
  if (depth >= limits_.include_depth) {
    abort(path, at, fmt::format("$INCLUDE {}: nested more than {} deep (limits.include_depth)",
                                file, limits_.include_depth));
    return;
  }
  if (++includes_ > limits_.includes) {
    abort(path, at, fmt::format("$INCLUDE {}: more than {} includes in the zone (limits.includes)",
                                file, limits_.includes));
    return;
  }
  std::string why;
  const std::string inc_path = include_path(file, path, &why);
  if (!why.empty()) {
    error(path, at, why);
    return;
  }
  auto body = open(inc_path, path, at);
  if (!body) return;
  // The origin the included file starts from, and the owner it inherits; the including
  // file's own are unchanged after it (RFC 1035 §5.1).
  // An $INCLUDE ends the batch of records before it, and its own ends with it (as BIND
  // commits them).
  last_written_.clear();
  read(inc_path, *body, t.size() == 3 ? absolute_name(t[2], origin) : origin, depth + 1, owner);
  last_written_.clear();
}

void Loader::generate(const std::string& path, int at, const std::vector<std::string>& t,
                      const std::string& origin) {
  // $GENERATE range lhs [ttl] [class] type rhs (BIND's extension).
  if (t.size() < 5) {
    error(path, at, "$GENERATE needs a range, an owner, a type and data");
    return;
  }
  auto range = master::parse_generate_range(t[1]);
  if (!range) {
    error(path, at, range.error().message);
    return;
  }
  size_t k = 3;
  std::vector<std::string> head;  // [ttl] [class] type
  while (k < t.size() && (master::parse_ttl(t[k]) || master::parse_class(t[k])) && head.size() < 2)
    head.push_back(t[k++]);
  if (k + 1 >= t.size()) {
    error(path, at, "$GENERATE needs a type and data after the owner");
    return;
  }
  head.push_back(t[k++]);
  std::string rhs;
  for (; k < t.size(); ++k) rhs += (rhs.empty() ? "" : " ") + master::unquote(t[k]);
  const uint64_t count = (uint64_t(range->stop) - range->start) / range->step + 1;
  if (records_ + count > limits_.records) {
    abort(path, at, fmt::format("$GENERATE makes {} records: more than {} records in the zone "
                                "(limits.zone_records)", count, limits_.records));
    return;
  }
  for (uint64_t i = range->start; i <= range->stop && !stopped_; i += range->step) {
    auto owner = master::generate_substitute(t[2], int64_t(i));
    auto data = owner ? master::generate_substitute(rhs, int64_t(i)) : owner;
    if (!owner || !data) {
      error(path, at, (owner ? data : owner).error().message);
      return;
    }
    std::vector<std::string> tokens = head;
    master::EntryReader split(*data);
    master::Entry e;
    std::string why;
    while (split.next(e, why) && why.empty())
      tokens.insert(tokens.end(), e.tokens.begin(), e.tokens.end());
    if (!why.empty()) {
      error(path, at, fmt::format("$GENERATE data {}: {}", *data, why));
      return;
    }
    generating_ = true;
    record(path, at, absolute_name(*owner, origin), tokens, 0, origin);
    generating_ = false;
  }
}

void Loader::record(const std::string& path, int at, const std::string& owner,
                    const std::vector<std::string>& t, size_t k, const std::string& origin) {
  // [ttl] [class] in either order (RFC 1035 §5.1), then the type.
  std::optional<uint32_t> ttl;
  std::optional<uint16_t> cls;
  const size_t first = k;
  for (int n = 0; n < 2 && k < t.size(); ++n) {
    if (!ttl && (ttl = master::parse_ttl(t[k]))) {
      ++k;
    } else if (!cls && (cls = master::parse_class(t[k]))) {
      ++k;
    }
  }
  if (k >= t.size()) return error(path, at, "a record without a type");
  if (const size_t q = t[k].find('"'); q != std::string::npos && q > 0) {
    // A quote ends the type, as BIND's lexer has it: `TXT"a"` is TXT and "a".
    std::vector<std::string> split(t);
    split[k] = t[k].substr(0, q);
    split.insert(split.begin() + long(k) + 1, t[k].substr(q));
    return record(path, at, owner, split, first, origin);
  }
  const std::string& type_text = t[k++];
  uint16_t type = uint16_t(ldns_get_rr_type_by_name(type_text.c_str()));
  uint16_t read_as = type;
  for (const KnownElsewhere& e : kKnownElsewhere)
    if (type == 0 ? iequals(type_text, e.name) : type == e.type) type = e.type, read_as = e.read_as;
  if (type == 0) return error(path, at, fmt::format("unknown type {}", type_text));
  if (cls && *cls != 1) return error(path, at, "only class IN is served");
  LdnsRdf owner_rdf(ldns_dname_new_frm_str(owner.c_str()));
  if (!owner_rdf) return error(path, at, fmt::format("bad owner name {}", owner));
  std::string name(reinterpret_cast<const char*>(ldns_rdf_data(owner_rdf.get())),
                   ldns_rdf_size(owner_rdf.get()));
  std::string written = name;
  name_lower(name);
  ldns_rr* raw = nullptr;
  // RDATA read here rather than by ldns: RFC 3597 data, NXT and AMTRELAY (which this ldns
  // cannot read) and NSAP (which it reads too leniently).
  std::optional<std::string> own;
  std::optional<std::string> next_hash;  // NSEC3's, see below
  if (k < t.size() && t[k] == "\\#") {
    // RFC 3597 §5: parsed here, strictly, and up to 65535 bytes; ldns takes the record
    // from wire form, so a known type's RDATA is still checked against its format.
    auto rdata = master::parse_generic_rdata(t, k + 1);
    if (!rdata) return error(path, at, rdata.error().message);
    own = std::move(*rdata);
  } else if (type == kNxt) {
    // RFC 2535 §5.2: the next name, then the types present (1-127) as a bitmap.
    if (k >= t.size()) return error(path, at, "NXT needs a next domain name and types");
    LdnsRdf next(ldns_dname_new_frm_str(absolute_name(t[k], origin).c_str()));
    if (!next) return error(path, at, fmt::format("NXT: bad domain name {}", t[k]));
    std::vector<uint16_t> types;
    for (size_t i = k + 1; i < t.size(); ++i) {
      const auto n = uint16_t(ldns_get_rr_type_by_name(t[i].c_str()));
      if (n == 0 || n > 127)
        return error(path, at, fmt::format("NXT: {} is not a type from 1 to 127 (RFC 2535 5.2)", t[i]));
      types.push_back(n);
    }
    own = std::string(reinterpret_cast<const char*>(ldns_rdf_data(next.get())),
                      ldns_rdf_size(next.get())) + master::nxt_bitmap(types);
  } else if (type == kAmtrelay) {
    // RFC 8777 §4.3: precedence, the discovery-optional bit, the relay type, the relay (none:
    // ".", IPv4, IPv6 or a domain name).
    if (k + 4 != t.size()) return error(path, at, "AMTRELAY needs precedence, D bit, type and relay");
    const auto prec = small_number(t[k], 255), d = small_number(t[k + 1], 1),
               kind = small_number(t[k + 2], 3);
    if (!prec || !d || !kind)
      return error(path, at, "AMTRELAY: precedence 0-255, D bit 0 or 1, type 0-3 (RFC 8777 4.3)");
    std::string relay;
    const std::string& r = t[k + 3];
    if (*kind == 0) {
      if (r != ".") return error(path, at, "AMTRELAY type 0 has no relay: write \".\"");
    } else if (*kind == 1 || *kind == 2) {
      uint8_t addr[16];
      if (inet_pton(*kind == 1 ? AF_INET : AF_INET6, r.c_str(), addr) != 1)
        return error(path, at, fmt::format("AMTRELAY: {} is not an IPv{} address", r, *kind == 1 ? 4 : 6));
      relay.assign(reinterpret_cast<const char*>(addr), *kind == 1 ? 4 : 16);
    } else {
      LdnsRdf name(ldns_dname_new_frm_str(absolute_name(r, origin).c_str()));
      if (!name) return error(path, at, fmt::format("AMTRELAY: bad domain name {}", r));
      relay.assign(reinterpret_cast<const char*>(ldns_rdf_data(name.get())), ldns_rdf_size(name.get()));
    }
    own = std::string{char(*prec), char(*d << 7 | *kind)} + relay;
  } else if (type == kNsap) {
    if (k + 1 != t.size()) return error(path, at, "NSAP needs one address (RFC 1706 5)");
    auto nsap = master::parse_nsap(t[k]);
    if (!nsap) return error(path, at, nsap.error().message);
    own = std::move(*nsap);
  }
  if (own) {
    std::string wire = written;
    uint8_t fixed[10];
    put16(fixed, type);
    put16(fixed + 2, 1);
    put16(fixed + 4, 0);
    put16(fixed + 6, 0);
    put16(fixed + 8, uint16_t(own->size()));
    wire.append(reinterpret_cast<const char*>(fixed), sizeof fixed);
    wire += *own;
    size_t pos = 0;
    const ldns_status s = ldns_wire2rr(&raw, reinterpret_cast<const uint8_t*>(wire.data()),
                                       wire.size(), &pos, LDNS_SECTION_ANSWER);
    // ldns stops at the end of short RDATA without a word: a known type needs its fields.
    const ldns_rr_descriptor* d = ldns_rr_descript(type);
    const bool short_rdata = s == LDNS_STATUS_OK && d && d->_type == type &&
                             ldns_rr_rd_count(raw) < ldns_rr_descriptor_minimum(d);
    if (s != LDNS_STATUS_OK || pos != wire.size() || short_rdata) {
      ldns_rr_free(raw);
      return error(path, at, fmt::format("\\# data is not valid {} RDATA", type_text));
    }
  } else {
    if (std::string why = int_field_error(read_as, t, k); !why.empty())
      return error(path, at, fmt::format("{}: {}", type_text, why));
    if (read_as == kLoc)
      if (std::string why = master::loc_check(t, k); !why.empty()) return error(path, at, why);
    if (read_as == kApl)
      for (size_t i = k; i < t.size(); ++i)
        if (std::string why = master::apl_check(t[i]); !why.empty()) return error(path, at, why);
    std::string text = owner + " 0 IN " + (read_as == type ? type_text : rrtype_to_text(read_as));
    // ldns reads an SVCB/HTTPS alpn value as one ID (RFC 9460 Appendix A.1 has two levels of
    // escapes): gslbd encodes it and hands it to ldns as a private key, renamed back below.
    bool alpn = false;
    // NSEC3's next hashed owner name is base32hex without padding, of any length (RFC 5155
    // §3.3); ldns wants whole 5-byte groups and takes padding. It is read here, and ldns
    // gets a stand-in of 5 bytes that is replaced after.
    if (type == kNsec3 && k + 4 < t.size()) {
      auto hash = master::base32hex_decode(t[k + 4]);
      if (!hash) return error(path, at, "NSEC3 next hashed owner name " + hash.error().message);
      if (t[k] == "1" && hash->size() != 20)
        return error(path, at, fmt::format("NSEC3 next hashed owner name is {} bytes; SHA-1 "
                                           "(algorithm 1) makes 20 (RFC 5155 3.1.7)", hash->size()));
      if (hash->empty() || hash->size() > 255)
        return error(path, at, "NSEC3 next hashed owner name must be 1 to 255 bytes");
      next_hash = std::move(*hash);
    }
    const size_t hash_at = k + 4;
    // CAA's value may be written without quotes (RFC 8659 4.1.1: a character-string or a
    // contiguous set of characters); ldns wants the quotes.
    const size_t caa_value_at = read_as == kCaa ? k + 2 : t.size();
    // KEY/DNSKEY flags may be mnemonics (RFC 2535 §7.1) or hex, as BIND reads them.
    const size_t key_flags_at =
        read_as == kKey || read_as == rrtype::DNSKEY || read_as == rrtype::CDNSKEY ? k : t.size();
    // Types made of character-strings: a quote inside a token starts a new string, as BIND
    // reads `a"b"c` (three strings), where ldns would keep the quotes as text.
    const bool strings = read_as == rrtype::TXT || read_as == rrtype::HINFO || read_as == kSpf ||
                         read_as == kIsdn || read_as == kX25;
    for (; k < t.size(); ++k) {
      const std::string& tok = t[k];
      if (next_hash && k == hash_at) {
        text += " 00000000";
        continue;
      }
      if (k == key_flags_at && !tok.empty() &&
          !std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        const auto flags = master::parse_key_flags(tok);
        if (!flags) return error(path, at, fmt::format("{}: bad key flags {}", type_text, tok));
        text += fmt::format(" {}", *flags);
        continue;
      }
      if (k == caa_value_at && k + 1 == t.size() && tok[0] != '"') {
        text += " \"" + tok + '"';
        continue;
      }
      if (strings && tok.find('"', 1) != std::string::npos) {
        for (const std::string& part : master::split_strings(tok)) (text += ' ') += part;
        continue;
      }
      const bool svcb = type == kSvcb || type == kHttps;
      const size_t eq = tok.find('=');
      if (svcb && !alpn && eq != std::string::npos &&
          (iequals(tok.substr(0, eq), "alpn") || iequals(tok.substr(0, eq), "key1"))) {
        auto wire = master::svcb_alpn_wire(std::string_view(tok).substr(eq + 1),
                                           iequals(tok.substr(0, eq), "key1"));
        if (!wire) return error(path, at, wire.error().message);
        text += fmt::format(" key{}=\"", kAlpnStandIn);
        for (unsigned char c : *wire) text += fmt::format("\\{:03d}", c);
        text += '"';
        alpn = true;
        continue;
      }
      (text += ' ') += tok;
    }
    if (text.size() > kMaxEntryText)
      return error(path, at, fmt::format("record is {} characters long; an entry may have at most {} "
                                         "(longer ones would be cut, and a record's RDATA cannot "
                                         "exceed {} bytes, RFC 1035 3.2.1; RFC 3597 \\# data may be "
                                         "longer)", text.size(), kMaxEntryText, kMaxRdata));
    LdnsRdf origin_rdf(ldns_dname_new_frm_str(origin.c_str()));
    const ldns_status s = ldns_rr_new_frm_str(&raw, text.c_str(), 0, origin_rdf.get(), nullptr);
    if (s != LDNS_STATUS_OK) {
      ldns_rr_free(raw);
      return error(path, at, ldns_get_errorstr_by_id(s));
    }
  }
  LdnsRr rr(raw);
  // TTLs as BIND gives them (RFC 1035 §5.1, RFC 2308 §4): $TTL when set; without it the last
  // explicit TTL; an SOA before any TTL takes its MINIMUM, which then serves as $TTL would.
  uint32_t use = 0;
  if (ttl) {
    use = *ttl;
    if (!default_ttl_known_) default_ttl_ = *ttl, rfc1035_ttl_ = true;
  } else if (default_ttl_known_ || rfc1035_ttl_) {
    use = default_ttl_;
  } else if (type == rrtype::SOA && ldns_rr_rd_count(rr.get()) == 7) {
    use = ldns_rdf2native_int32(ldns_rr_rdf(rr.get(), 6));
    default_ttl_ = use;
    default_ttl_known_ = true;
    warning(path, at, "no TTL specified; using SOA MINTTL instead");
  } else {
    return error(path, at, "no TTL specified, and no $TTL or earlier TTL to use");
  }
  if (!name_is_subdomain(name, apex_)) {
    // As BIND does: skipped, with a warning.
    warning(path, at, fmt::format("ignoring out-of-zone data ({})", name_to_text(written)));
    return;
  }
  ParsedRdata rdata = make_rdata(rr.get());
  if (type == kSvcb || type == kHttps) {
    if (!master::svcb_rekey(rdata.wire, kAlpnStandIn, 1))
      return error(path, at, "SVCB/HTTPS parameters are not well formed");
    if (std::string why = master::svcb_check(rdata.wire); !why.empty()) return error(path, at, why);
  }
  if (type == rrtype::DS || type == rrtype::CDS || type == kTa || type == kDlv) {
    // The digest's length follows from its type (RFC 4034 5.1.4, RFC 4509, RFC 6605); a
    // CDS/CDNSKEY-style delete record (digest type 0) is left alone.
    const size_t want = rdata.wire.size() < 4 ? 0
                        : std::array<size_t, 5>{0, 20, 32, 0, 48}[std::min<size_t>(uint8_t(rdata.wire[3]), 4)];
    if (want != 0 && rdata.wire.size() - 4 != want)
      return error(path, at, fmt::format("{}: a digest of type {} is {} bytes, not {}", type_text,
                                         uint8_t(rdata.wire[3]), want, rdata.wire.size() - 4));
  }
  if (next_hash) {
    // Algorithm, flags, iterations, salt (length first), then the hash (length first).
    const size_t hash_len_at = rdata.wire.size() > 4 ? 5 + uint8_t(rdata.wire[4]) : 0;
    if (hash_len_at == 0 || hash_len_at + 6 > rdata.wire.size() || rdata.wire[hash_len_at] != 5)
      return error(path, at, "NSEC3 RDATA is not well formed");
    rdata.wire.replace(hash_len_at, 6, char(next_hash->size()) + *next_hash);
  }
  if (rdata.wire.size() > kMaxRdata)
    return error(path, at, fmt::format("record data is {} bytes; a record's RDATA cannot exceed {} "
                                       "(RFC 1035 3.2.1)", rdata.wire.size(), kMaxRdata));
  if (records_++ >= limits_.records)
    return abort(path, at, fmt::format("more than {} records in the zone (limits.zone_records)",
                                       limits_.records));
  add(name, written, type, use, rdata, path, at);
}

std::shared_ptr<Zone> Loader::finish(const std::string& path) {
  // Records by owner; at each owner, RRsets in the order their types first appear in the file
  // (that order is kept: ANY over UDP answers the first, RFC 8482), each in file order.
  std::vector<uint32_t> order(log_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
    return name_of(log_[a]) < name_of(log_[b]);
  });
  for (size_t b = 0; b < order.size();) {
    size_t e = b + 1;
    while (e < order.size() && name_of(log_[order[e]]) == name_of(log_[order[b]])) ++e;
    if (e - b > 1) {
      std::unordered_map<uint16_t, uint32_t> rank;  // type -> order of first appearance
      for (size_t i = b; i < e; ++i) rank.try_emplace(log_[order[i]].type, uint32_t(rank.size()));
      if (rank.size() > 1 || log_[order[b]].type == rrtype::RRSIG)
        std::stable_sort(order.begin() + long(b), order.begin() + long(e), [&](uint32_t x, uint32_t y) {
          const uint32_t rx = rank[log_[x].type], ry = rank[log_[y].type];
          return rx < ry || (rx == ry && covered(log_[x]) < covered(log_[y]));
        });
    }
    b = e;
  }
  // Which records stay: RFC 2181 §5, an RRset holds no duplicates and its records share one
  // TTL (the first's). Past kScanLimit records an RRset's RDATA is hashed, so that a million
  // records at one name are not compared pairwise (5e11 compares).
  std::vector<bool> keep(log_.size(), false);
  std::unordered_set<uint64_t> seen;
  std::vector<std::string_view> names;  // distinct owners, sorted
  bool apex_soa = false, apex_ns = false;
  for (size_t i = 0; i < order.size();) {
    const std::string_view name = name_of(log_[order[i]]);
    names.push_back(name);
    const LogRec* cname = nullptr;
    size_t types = 0;
    for (; i < order.size() && name_of(log_[order[i]]) == name;) {
      const uint16_t type = log_[order[i]].type;
      const LogRec& first = log_[order[i]];
      // RFC 4035 §2.5: a signed CNAME has its RRSIG and NSEC beside it; BIND also allows the
      // KEY and SIG of RFC 2535 §2.3.5 there.
      if (type != rrtype::RRSIG && type != rrtype::NSEC && type != kKey && type != kSig) ++types;
      std::vector<uint32_t> kept;
      seen.clear();
      for (; i < order.size() && same_set(log_[order[i]], first); ++i) {
        const LogRec& r = log_[order[i]];
        const std::string_view wire = compared_of(order[i]);
        uint32_t* dup = nullptr;
        auto find = [&] {
          for (uint32_t& k : kept)
            if (compared_of(k) == wire) return dup = &k, void();
        };
        if (kept.size() < kScanLimit) {
          find();
        } else {
          if (kept.size() == kScanLimit)
            for (uint32_t k : kept) seen.insert(record_hash(name, type, compared_of(k)));
          // A new hash cannot be a duplicate; a known one is checked (a duplicate, or a collision).
          if (!seen.insert(record_hash(name, type, wire)).second) find();
        }
        if (dup) {
          // As BIND: within one batch of records the later one stays (with its spelling of
          // the names in its RDATA), across batches the one loaded first.
          if (log_[*dup].batch == r.batch) {
            keep[*dup] = false;
            keep[order[i]] = true;
            *dup = order[i];
          }
          continue;
        }
        if (!kept.empty() && (type == rrtype::SOA || type == rrtype::CNAME || type == rrtype::DNAME)) {
          error(files_[r.file], r.line, fmt::format("more than one {} record at {}",
                                                    type == rrtype::SOA     ? "SOA"
                                                    : type == rrtype::CNAME ? "CNAME"
                                                                            : "DNAME",
                                                    name_to_text(name)));
          continue;
        }
        kept.push_back(order[i]);
        keep[order[i]] = true;
      }
      if (type == rrtype::CNAME) cname = &log_[kept.front()];
      if (name == apex_) {
        apex_soa = apex_soa || type == rrtype::SOA;
        apex_ns = apex_ns || type == rrtype::NS;
      }
    }
    if (cname && types > 1)
      error(files_[cname->file], cname->line, fmt::format("CNAME and other data at {}", name_to_text(name)));
  }
  if (!apex_soa) error(path, 0, fmt::format("no SOA record at the zone apex {}", name_to_text(apex_)));
  if (!apex_ns) error(path, 0, fmt::format("no NS records at the zone apex {}", name_to_text(apex_)));
  if (count_ > 0) return nullptr;
  // Every name between an owner and the apex exists, as an empty non-terminal if nothing else.
  std::set<std::string, std::less<>> ents;
  auto exists = [&](std::string_view n) {
    return std::binary_search(names.begin(), names.end(), n) || ents.count(n);
  };
  for (const std::string_view n : names)
    for (std::string_view p = name_parent(n); p.size() >= apex_.size() && !exists(p); p = name_parent(p))
      ents.emplace(p);
  // Pack: each array is reserved to its exact final size first (one RRset per (owner, type)
  // group), so the views taken while filling stay valid.
  Zone& zone = *zone_;
  zone.file = path;
  size_t name_bytes = 0, sets = 0, rdatas = 0, rdata_bytes = 0;
  for (const std::string_view n : names) name_bytes += n.size();
  for (const auto& n : ents) name_bytes += n.size();
  for (size_t i = 0; i < order.size(); ++i) {
    const LogRec& r = log_[order[i]];
    if (i == 0 || !same_set(r, log_[order[i - 1]])) {
      ++sets;
      if (r.spelling) name_bytes += r.name_len;
    }
    if (!keep[order[i]]) continue;
    ++rdatas;
    rdata_bytes += r.wire_len;
  }
  zone.name_bytes.reserve(name_bytes);
  zone.rdata_bytes.reserve(rdata_bytes);
  zone.rrset_store.reserve(sets);
  zone.rdata_store.reserve(rdatas);
  zone.nodes.reserve(names.size() + ents.size());
  auto add_node = [&zone](std::string_view name, size_t sets_at) {
    const size_t at = zone.name_bytes.size();
    zone.name_bytes += name;
    zone.nodes.push_back(Node{std::string_view(zone.name_bytes.data() + at, name.size()),
                              std::span<const RRset>(zone.rrset_store.data() + sets_at,
                                                     zone.rrset_store.size() - sets_at)});
  };
  auto ent = ents.begin();
  size_t i = 0;
  for (const std::string_view name : names) {
    for (; ent != ents.end() && *ent < name; ++ent) add_node(*ent, zone.rrset_store.size());
    const size_t sets_at = zone.rrset_store.size();
    while (i < order.size() && name_of(log_[order[i]]) == name) {
      const uint16_t type = log_[order[i]].type;
      // One TTL for the set (RFC 2181 §5.2), as BIND gives it: the first record's of the last
      // batch that holds records of the set (a batch adds its records with its first one's
      // TTL, and a later batch's TTL replaces the set's).
      uint32_t ttl = log_[order[i]].ttl;
      for (size_t j = i + 1; j < order.size() && same_set(log_[order[j]], log_[order[i]]); ++j)
        if (log_[order[j]].batch != log_[order[j - 1]].batch) ttl = log_[order[j]].ttl;
      // The owner as the set's first record spelled it (as BIND keeps it, per RRset).
      const char* spelled = nullptr;
      if (const uint32_t sp = log_[order[i]].spelling) {
        spelled = zone.name_bytes.data() + zone.name_bytes.size();
        zone.name_bytes += spellings_[sp - 1];
      }
      const size_t rdata_at = zone.rdata_store.size();
      const LogRec& first = log_[order[i]];
      for (; i < order.size() && same_set(log_[order[i]], first); ++i) {
        if (!keep[order[i]]) continue;
        const LogRec& r = log_[order[i]];
        Rdata d;
        d.wire = std::string_view(zone.rdata_bytes.data() + zone.rdata_bytes.size(), r.wire_len);
        zone.rdata_bytes += wire_of(r);
        d.compress = r.compress;
        d.compress_count = r.compress_count;
        d.target_at = r.target_at;
        d.target_len = r.target_len;
        zone.rdata_store.push_back(d);
      }
      zone.rrset_store.push_back(RRset{type, ttl, std::span<const Rdata>(zone.rdata_store.data() + rdata_at,
                                                                         zone.rdata_store.size() - rdata_at),
                                       spelled});
    }
    add_node(name, sets_at);
  }
  for (; ent != ents.end(); ++ent) add_node(*ent, zone.rrset_store.size());
  return std::move(zone_);
}

}  // namespace

std::shared_ptr<Zone> load_zone(std::string_view apex_text, const std::string& path,
                                      core::Errors& errors, const std::string* text,
                                      const LoadOptions& options) {
  std::string apex = name_from_text(apex_text);
  if (apex.empty()) {
    errors.push_back(core::Error{path, 0, 0, fmt::format("bad zone name {}", apex_text)});
    return nullptr;
  }
  Loader loader(apex, errors, options);
  std::string body;
  if (text) {
    body = *text;
  } else {
    auto read = loader.open(path, path, 0);
    if (!read) return nullptr;
    body = std::move(*read);
  }
  std::string origin(apex_text);
  if (origin.empty() || origin.back() != '.') origin += '.';
  loader.read(path, body, origin, 0);
  std::string().swap(body);
  auto zone = loader.finish(path);
  if (zone) {
    zone->sources = std::move(loader.sources_);
    zone->loaded_at = core::unix_now();
  }
  return zone;
}

}  // namespace gslb::dns

