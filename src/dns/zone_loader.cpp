// Master-file loading with ldns, one record at a time, so that every error has its line.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <sstream>

#include "core/duration.hpp"
#include "dns/ldns.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

namespace {

// RFC 1035 §3.2.1: RDLENGTH is 16 bits.
constexpr size_t kMaxRdata = 65535;
// ldns reads one entry into a buffer of this many characters and silently drops the rest (a
// 102 KB TXT came out as 65016 bytes of RDATA). Longer entries are refused before that.
constexpr size_t kMaxEntryText = 65535;

struct FileCloser {
  void operator()(FILE* f) const noexcept { std::fclose(f); }
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// Types whose embedded names may be compressed (RFC 3597 §4: the RFC 1035 types only).
bool compressible_type(uint16_t t) {
  switch (t) {
    case rrtype::NS: case 3: case 4: case rrtype::CNAME: case rrtype::SOA: case 7: case 8:
    case 9: case rrtype::PTR: case 14: case rrtype::MX:
      return true;
    default:
      return false;
  }
}

// Which RDATA field holds the name that additional-section processing follows.
int target_field(uint16_t t) {
  switch (t) {
    case rrtype::NS: case rrtype::CNAME: return 0;
    case rrtype::MX: return 1;
    case rrtype::SRV: return 3;
    default: return -1;
  }
}

// One record's RDATA as ldns gave it.
struct ParsedRdata {
  std::string wire;
  Rdata meta;  // everything but the wire view
};
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
};

ParsedRdata make_rdata(const ldns_rr* rr) {
  ParsedRdata b;
  std::string& wire = b.wire;
  Rdata& d = b.meta;
  const uint16_t type = ldns_rr_get_type(rr);
  const int tf = target_field(type);
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* f = ldns_rr_rdf(rr, i);
    const auto* bytes = reinterpret_cast<const char*>(ldns_rdf_data(f));
    std::string_view field(bytes, ldns_rdf_size(f));
    if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME) {
      // Offsets past 65535 only occur in RDATA that is refused as too long anyway.
      if (compressible_type(type) && d.compress_count < d.compress.size())
        d.compress[d.compress_count++] = {uint16_t(wire.size()), uint16_t(field.size())};
      if (int(i) == tf) {
        d.target_at = uint16_t(wire.size());
        d.target_len = uint16_t(field.size());
      }
    }
    wire.append(field);
  }
  return b;
}

}  // namespace

std::string Rdata::target() const {
  std::string t(wire.substr(target_at, target_len));
  name_lower(t);
  return t;
}

namespace {

class Loader {
 public:
  Loader(std::string apex, core::Errors& errors, const LoadOptions& options)
      : apex_(std::move(apex)), errors_(errors), limits_(options.limits), cancel_(options.cancel),
        zone_(std::make_shared<Zone>()) {
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

  // Reads a file for the zone, within the byte budget; reports at `from` (the $INCLUDE line,
  // or the zone file itself at line 0).
  std::optional<std::string> open(const std::string& path, const std::string& from_file, int from_line);

  void read(const std::string& path, const std::string& text, const std::string& origin_text,
            int depth);
  // Logs one record; finish() sorts, checks and packs them.
  void add(std::string_view owner, uint16_t type, uint32_t ttl, const ParsedRdata& rdata,
           const std::string& file, int line);
  std::shared_ptr<Zone> finish(const std::string& path);

  std::vector<core::FileStamp> sources_;

 private:
  std::string apex_;
  core::Errors& errors_;
  ZoneLimits limits_;
  const std::atomic<bool>* cancel_;
  int count_ = 0;
  bool stopped_ = false;
  uint32_t includes_ = 0;
  uint64_t bytes_ = 0;
  uint32_t default_ttl_ = 3600;
  uint64_t records_ = 0;
  std::shared_ptr<Zone> zone_;
  std::vector<std::string> files_;  // every file read, for the records' positions
  std::vector<LogRec> log_;
  std::string names_log_, wire_log_;
  std::string_view name_of(const LogRec& r) const {
    return std::string_view(names_log_).substr(r.name_at, r.name_len);
  }
  std::string_view wire_of(const LogRec& r) const {
    return std::string_view(wire_log_).substr(r.wire_at, r.wire_len);
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

void Loader::add(std::string_view owner, uint16_t type, uint32_t ttl, const ParsedRdata& rdata,
                 const std::string& file, int line) {
  if (type == rrtype::DNAME) return error(file, line, "DNAME is not supported");
  if (type == rrtype::SOA && owner != apex_) return error(file, line, "SOA record below the zone apex");
  if (type == rrtype::OPT || type == rrtype::ANY || type == rrtype::AXFR || type == rrtype::IXFR)
    return error(file, line, fmt::format("type {} cannot appear in a zone", type));
  if (files_.empty() || files_.back() != file) files_.push_back(file);
  const Rdata& m = rdata.meta;
  log_.push_back(LogRec{names_log_.size(), wire_log_.size(), uint32_t(rdata.wire.size()), ttl,
                        uint32_t(files_.size() - 1), line, type, uint8_t(owner.size()),
                        m.compress_count, m.compress, m.target_at, m.target_len});
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

void Loader::read(const std::string& path, const std::string& text,
                  const std::string& origin_text, int depth) {
  // Where each line starts, to find the line an entry begins on (offsets, not copies: a large
  // zone's text is not duplicated line by line).
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n' && i + 1 < text.size()) starts.push_back(i + 1);
  auto line_text = [&](int n) -> std::string_view {
    if (n < 1 || size_t(n) > starts.size()) return {};
    size_t b = starts[size_t(n) - 1];
    size_t e = text.find('\n', b);
    return std::string_view(text).substr(b, e == std::string::npos ? std::string::npos : e - b);
  };
  const int nlines = text.empty() ? 0 : int(starts.size());
  std::unique_ptr<FILE, FileCloser> fp(
      fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!fp || text.empty()) {
    if (text.empty()) error(path, 0, "empty zone file");
    return;
  }
  ldns_rdf* origin = ldns_dname_new_frm_str(origin_text.c_str());
  ldns_rdf* prev = nullptr;
  int line = 0;
  while (!stopped_ && !std::feof(fp.get())) {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) {
      abort(path, line, "load abandoned: gslbd is stopping");
      break;
    }
    int before = line;
    ldns_rr* raw = nullptr;
    ldns_status s = ldns_rr_new_frm_fp_l(&raw, fp.get(), &default_ttl_, &origin, &prev, &line);
    LdnsRr rr(raw);
    // Report the line where the entry starts: the first line after `before` that holds more
    // than blanks or a comment.
    int at = before + 1;
    while (at <= nlines && at < line) {
      auto l = line_text(at);
      auto p = l.find_first_not_of(" \t\r");
      if (p != std::string::npos && l[p] != ';') break;
      ++at;
    }
    if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
        s == LDNS_STATUS_SYNTAX_ORIGIN)
      continue;
    if (const long end = std::ftell(fp.get()); at <= nlines && end > 0 &&
                                               size_t(end) - starts[size_t(at) - 1] > kMaxEntryText) {
      error(path, at, fmt::format("record is {} characters long; an entry may have at most {} "
                                  "(longer ones would be cut, and a record's RDATA cannot exceed "
                                  "{} bytes, RFC 1035 3.2.1)",
                                  size_t(end) - starts[size_t(at) - 1], kMaxEntryText, kMaxRdata));
      continue;
    }
    if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
      std::istringstream dir(std::string(line_text(at)));
      std::string keyword, file, inc_origin;
      dir >> keyword >> file >> inc_origin;
      if (file.empty()) {
        error(path, at, "$INCLUDE without a file name");
        continue;
      }
      if (depth >= limits_.include_depth) {
        abort(path, at, fmt::format("$INCLUDE {}: nested more than {} deep (limits.include_depth)",
                                    file, limits_.include_depth));
        continue;
      }
      if (++includes_ > limits_.includes) {
        abort(path, at, fmt::format("$INCLUDE {}: more than {} includes in the zone (limits.includes)",
                                    file, limits_.includes));
        continue;
      }
      std::string inc_path = file[0] == '/' ? file : dir_of(path) + file;
      auto body = open(inc_path, path, at);
      if (!body) continue;
      char* cur = ldns_rdf2str(origin);
      std::string cur_origin = cur ? cur : origin_text;
      free(cur);
      read(inc_path, *body, inc_origin.empty() ? cur_origin : inc_origin, depth + 1);
      continue;
    }
    if (s != LDNS_STATUS_OK) {
      if (std::feof(fp.get()) && !rr && at > nlines) break;
      error(path, at, ldns_get_errorstr_by_id(s));
      continue;
    }
    if (!rr) continue;
    if (ldns_rr_get_class(rr.get()) != LDNS_RR_CLASS_IN) {
      error(path, at, "only class IN is served");
      continue;
    }
    const ldns_rdf* owner = ldns_rr_owner(rr.get());
    std::string name(reinterpret_cast<const char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner));
    name_lower(name);
    if (!name_is_subdomain(name, apex_)) {
      error(path, at, fmt::format("{} is outside the zone {}", name_to_text(name),
                                  name_to_text(apex_)));
      continue;
    }
    ParsedRdata rdata = make_rdata(rr.get());
    if (rdata.wire.size() > kMaxRdata) {
      error(path, at, fmt::format("record data is {} bytes; a record's RDATA cannot exceed {} "
                                  "(RFC 1035 3.2.1)", rdata.wire.size(), kMaxRdata));
      continue;
    }
    if (records_++ >= limits_.records) {
      abort(path, at, fmt::format("more than {} records in the zone (limits.zone_records)",
                                  limits_.records));
      break;
    }
    add(name, uint16_t(ldns_rr_get_type(rr.get())), ldns_rr_ttl(rr.get()), rdata, path, at);
  }
  ldns_rdf_deep_free(origin);
  if (prev) ldns_rdf_deep_free(prev);
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
      if (rank.size() > 1)
        std::stable_sort(order.begin() + long(b), order.begin() + long(e), [&](uint32_t x, uint32_t y) {
          return rank[log_[x].type] < rank[log_[y].type];
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
      // RFC 4035 §2.5: a CNAME may have RRSIG and NSEC records beside it.
      if (type != rrtype::RRSIG && type != rrtype::NSEC) ++types;
      std::vector<uint32_t> kept;
      seen.clear();
      for (; i < order.size() && log_[order[i]].type == type && name_of(log_[order[i]]) == name; ++i) {
        const LogRec& r = log_[order[i]];
        if (!kept.empty() && (type == rrtype::SOA || type == rrtype::CNAME)) {
          error(files_[r.file], r.line, fmt::format("more than one {} record at {}",
                                                    type == rrtype::SOA ? "SOA" : "CNAME",
                                                    name_to_text(name)));
          continue;
        }
        const std::string_view wire = wire_of(r);
        bool dup = false;
        if (kept.size() < kScanLimit) {
          for (uint32_t k : kept) dup = dup || wire_of(log_[k]) == wire;
        } else {
          if (kept.size() == kScanLimit)
            for (uint32_t k : kept) seen.insert(record_hash(name, type, wire_of(log_[k])));
          // A new hash cannot be a duplicate; a known one is checked (a duplicate, or a collision).
          if (!seen.insert(record_hash(name, type, wire)).second)
            for (uint32_t k : kept) dup = dup || wire_of(log_[k]) == wire;
        }
        if (dup) continue;
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
    if (i == 0 || r.type != log_[order[i - 1]].type || name_of(r) != name_of(log_[order[i - 1]])) ++sets;
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
      const uint32_t ttl = log_[order[i]].ttl;  // the first's (RFC 2181 §5.2)
      const size_t rdata_at = zone.rdata_store.size();
      for (; i < order.size() && log_[order[i]].type == type && name_of(log_[order[i]]) == name; ++i) {
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
                                                                         zone.rdata_store.size() - rdata_at)});
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

std::string rdata_to_text(uint16_t type, std::string_view wire) {
  // ldns prints whole records: make one (root owner, class IN, TTL 0) and keep what follows
  // its type, which is the RDATA in presentation form.
  std::string rr(1, '\0');
  const uint8_t head[] = {uint8_t(type >> 8), uint8_t(type), 0, 1, 0, 0, 0, 0,
                          uint8_t(wire.size() >> 8), uint8_t(wire.size())};
  rr.append(reinterpret_cast<const char*>(head), sizeof head);
  rr.append(wire);
  ldns_rr* parsed = nullptr;
  size_t pos = 0;
  if (ldns_wire2rr(&parsed, reinterpret_cast<const uint8_t*>(rr.data()), rr.size(), &pos,
                   LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
    return fmt::format("\\# {}", wire.size());
  std::unique_ptr<ldns_rr, LdnsRrFree> own(parsed);
  std::string out;
  for (size_t i = 0; i < ldns_rr_rd_count(parsed); ++i) {
    char* t = ldns_rdf2str(ldns_rr_rdf(parsed, i));
    if (!t) continue;
    out += (out.empty() ? "" : " ") + std::string(t);
    std::free(t);
  }
  return out;
}

std::string rrtype_to_text(uint16_t type) {
  char* t = ldns_rr_type2str(ldns_rr_type(type));
  std::string out = t ? t : fmt::format("TYPE{}", type);
  std::free(t);
  return out;
}

uint16_t rrtype_from_text(std::string_view text) {
  const std::string s(text);
  return uint16_t(ldns_get_rr_type_by_name(s.c_str()));
}

}  // namespace gslb::dns
