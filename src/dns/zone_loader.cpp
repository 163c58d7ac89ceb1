// Master-file loading with ldns, one record at a time, so that every error has its line.
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <optional>
#include <unordered_set>
#include <sstream>

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
// What the loader keeps of a zone until finish() packs it into the Zone's arrays. RDATA bytes
// go to one log (Loader::wire_log_), not a heap block per record.
struct BuildRdata {
  uint64_t at;
  uint32_t len;
  Rdata meta;
};
struct BuildSet {
  uint16_t type;
  uint32_t ttl;
  std::vector<BuildRdata> rdata;
};
struct BuildNode {
  std::vector<BuildSet> sets;
  const BuildSet* find(uint16_t type) const {
    for (const auto& s : sets)
      if (s.type == type) return &s;
    return nullptr;
  }
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
  // Puts one record into the zone as it is read: no list of every record is kept meanwhile.
  void add(std::string owner, uint16_t type, uint32_t ttl, const ParsedRdata& rdata,
           const std::string& file, int line);
  std::string_view wire_of(const BuildRdata& d) const {
    return std::string_view(wire_log_).substr(d.at, d.len);
  }
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
  std::map<std::string, BuildNode, std::less<>> build_;  // by owner (lower-cased wire)
  std::string wire_log_;                                 // every kept record's RDATA
  // Where each CNAME was, for "CNAME and other data" found once everything is read.
  std::map<std::string, std::pair<std::string, int>, std::less<>> cname_at_;
  // Hashes of (owner, type, RDATA) of records in RRsets of kScanLimit or more, so that finding
  // duplicates in a large RRset is not quadratic (1M records at one name: 5e11 compares).
  std::unordered_set<uint64_t> seen_;
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

void Loader::add(std::string owner, uint16_t type, uint32_t ttl, const ParsedRdata& rdata,
                 const std::string& file, int line) {
  if (type == rrtype::DNAME) return error(file, line, "DNAME is not supported");
  if (type == rrtype::SOA && owner != apex_) return error(file, line, "SOA record below the zone apex");
  if (type == rrtype::OPT || type == rrtype::ANY || type == rrtype::AXFR || type == rrtype::IXFR)
    return error(file, line, fmt::format("type {} cannot appear in a zone", type));
  auto [node_it, fresh_node] = build_.try_emplace(std::move(owner));
  const std::string& name = node_it->first;
  BuildNode& node = node_it->second;
  BuildSet* set = nullptr;
  for (auto& s : node.sets)
    if (s.type == type) set = &s;
  if (!set) {
    node.sets.push_back(BuildSet{type, ttl, {}});
    set = &node.sets.back();
  } else if (type == rrtype::SOA || type == rrtype::CNAME) {
    return error(file, line, fmt::format("more than one {} record at {}",
                                         type == rrtype::SOA ? "SOA" : "CNAME", name_to_text(name)));
  }
  if (type == rrtype::CNAME) cname_at_.insert_or_assign(name, std::pair{file, line});
  // RFC 2181 §5: an RRset holds no duplicates, and its records share one TTL (the first's).
  auto& all = set->rdata;
  const std::string_view wire = rdata.wire;
  bool dup = false;
  if (all.size() < kScanLimit) {
    for (auto& d : all) dup = dup || wire_of(d) == wire;
  } else {
    if (all.size() == kScanLimit)
      for (auto& d : all) seen_.insert(record_hash(name, type, wire_of(d)));
    // A new hash cannot be a duplicate; a known one is checked (a duplicate, or a collision).
    if (!seen_.insert(record_hash(name, type, wire)).second)
      for (auto& d : all) dup = dup || wire_of(d) == wire;
  }
  if (dup) return;
  all.push_back(BuildRdata{wire_log_.size(), uint32_t(wire.size()), rdata.meta});
  wire_log_ += wire;
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
    add(std::move(name), uint16_t(ldns_rr_get_type(rr.get())), ldns_rr_ttl(rr.get()), rdata,
        path, at);
  }
  ldns_rdf_deep_free(origin);
  if (prev) ldns_rdf_deep_free(prev);
}

std::shared_ptr<Zone> Loader::finish(const std::string& path) {
  seen_ = {};
  for (auto& [name, node] : build_) {
    if (node.find(rrtype::CNAME) && node.sets.size() > 1) {
      auto at = cname_at_.find(name);
      error(at == cname_at_.end() ? path : at->second.first, at == cname_at_.end() ? 0 : at->second.second,
            fmt::format("CNAME and other data at {}", name_to_text(name)));
    }
  }
  auto apex_it = build_.find(apex_);
  if (apex_it == build_.end() || !apex_it->second.find(rrtype::SOA))
    error(path, 0, fmt::format("no SOA record at the zone apex {}", name_to_text(apex_)));
  if (apex_it == build_.end() || !apex_it->second.find(rrtype::NS))
    error(path, 0, fmt::format("no NS records at the zone apex {}", name_to_text(apex_)));
  if (count_ > 0) return nullptr;
  // Every name between an owner and the apex exists, as an empty non-terminal if nothing else.
  // (Inserting into a std::map does not invalidate the iterator; a name inserted ahead of it
  // is visited later and finds its parent there.)
  for (auto& [name, node] : build_) {
    for (std::string_view p = name_parent(name); p.size() >= apex_.size(); p = name_parent(p)) {
      auto [it, inserted] = build_.try_emplace(std::string(p));
      if (!inserted) break;
      if (p == apex_) break;
    }
  }
  // Pack: each array is reserved to its final size first, so the views taken while filling
  // stay valid; each built node is freed as soon as it is copied.
  Zone& zone = *zone_;
  zone.file = path;
  size_t name_bytes = 0, sets = 0, rdatas = 0, rdata_bytes = 0;
  for (const auto& [name, node] : build_) {
    name_bytes += name.size();
    sets += node.sets.size();
    for (const auto& s : node.sets) {
      rdatas += s.rdata.size();
      for (const auto& d : s.rdata) rdata_bytes += d.len;
    }
  }
  zone.name_bytes.reserve(name_bytes);
  zone.rdata_bytes.reserve(rdata_bytes);
  zone.rrset_store.reserve(sets);
  zone.rdata_store.reserve(rdatas);
  zone.nodes.reserve(build_.size());
  for (auto it = build_.begin(); it != build_.end(); it = build_.erase(it)) {
    const size_t name_at = zone.name_bytes.size();
    zone.name_bytes += it->first;
    const size_t sets_at = zone.rrset_store.size();
    for (const auto& s : it->second.sets) {
      const size_t rdata_at = zone.rdata_store.size();
      for (const auto& d : s.rdata) {
        Rdata r = d.meta;
        r.wire = std::string_view(zone.rdata_bytes.data() + zone.rdata_bytes.size(), d.len);
        zone.rdata_bytes += wire_of(d);
        zone.rdata_store.push_back(r);
      }
      zone.rrset_store.push_back(
          RRset{s.type, s.ttl, std::span<const Rdata>(zone.rdata_store.data() + rdata_at, s.rdata.size())});
    }
    zone.nodes.push_back(Node{std::string_view(zone.name_bytes.data() + name_at, it->first.size()),
                              std::span<const RRset>(zone.rrset_store.data() + sets_at, it->second.sets.size())});
  }
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
  if (zone) zone->sources = std::move(loader.sources_);
  return zone;
}

}  // namespace gslb::dns
