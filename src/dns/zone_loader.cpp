// Master-file loading with ldns, one record at a time, so that every error has its line.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "dns/ldns.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

namespace {

constexpr int kMaxIncludeDepth = 8;

struct RawRecord {
  std::string owner;
  uint16_t type;
  uint32_t ttl;
  Rdata rdata;
  std::string file;
  int line;
};

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

Rdata make_rdata(const ldns_rr* rr) {
  Rdata d;
  const uint16_t type = ldns_rr_get_type(rr);
  const int tf = target_field(type);
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* f = ldns_rr_rdf(rr, i);
    const auto* bytes = reinterpret_cast<const char*>(ldns_rdf_data(f));
    std::string_view field(bytes, ldns_rdf_size(f));
    if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME) {
      if (compressible_type(type))
        d.compressible.emplace_back(uint16_t(d.wire.size()), uint16_t(field.size()));
      if (int(i) == tf) {
        d.target.assign(field);
        name_lower(d.target);
      }
    }
    d.wire.append(field);
  }
  return d;
}

class Loader {
 public:
  Loader(std::string apex, core::Errors& errors) : apex_(std::move(apex)), errors_(errors) {}

  void error(const std::string& file, int line, std::string msg) {
    errors_.push_back(core::Error{file, line, 0, std::move(msg)});
    ++count_;
  }

  void read(const std::string& path, const std::string& text, const std::string& origin_text,
            int depth);
  std::shared_ptr<const Zone> finish(const std::string& path);

 private:
  std::string apex_;
  core::Errors& errors_;
  int count_ = 0;
  uint32_t default_ttl_ = 3600;
  std::vector<RawRecord> records_;
};

void Loader::read(const std::string& path, const std::string& text,
                  const std::string& origin_text, int depth) {
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  std::unique_ptr<FILE, FileCloser> fp(
      fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!fp || text.empty()) {
    if (text.empty()) error(path, 0, "empty zone file");
    return;
  }
  ldns_rdf* origin = ldns_dname_new_frm_str(origin_text.c_str());
  ldns_rdf* prev = nullptr;
  int line = 0;
  while (!std::feof(fp.get())) {
    int before = line;
    ldns_rr* raw = nullptr;
    ldns_status s = ldns_rr_new_frm_fp_l(&raw, fp.get(), &default_ttl_, &origin, &prev, &line);
    LdnsRr rr(raw);
    // Report the line where the entry starts: the first line after `before` that holds more
    // than blanks or a comment.
    int at = before + 1;
    while (at <= int(lines.size()) && at < line) {
      auto& l = lines[at - 1];
      auto p = l.find_first_not_of(" \t\r");
      if (p != std::string::npos && l[p] != ';') break;
      ++at;
    }
    if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
        s == LDNS_STATUS_SYNTAX_ORIGIN)
      continue;
    if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
      std::istringstream dir(at <= int(lines.size()) ? lines[at - 1] : "");
      std::string keyword, file, inc_origin;
      dir >> keyword >> file >> inc_origin;
      if (file.empty()) {
        error(path, at, "$INCLUDE without a file name");
        continue;
      }
      if (depth >= kMaxIncludeDepth) {
        error(path, at, "$INCLUDE nested too deeply");
        continue;
      }
      std::string inc_path = file[0] == '/' ? file : dir_of(path) + file;
      std::ifstream in(inc_path, std::ios::binary);
      if (!in) {
        error(path, at, fmt::format("$INCLUDE {}: cannot open", inc_path));
        continue;
      }
      std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      char* cur = ldns_rdf2str(origin);
      std::string cur_origin = cur ? cur : origin_text;
      free(cur);
      read(inc_path, body, inc_origin.empty() ? cur_origin : inc_origin, depth + 1);
      continue;
    }
    if (s != LDNS_STATUS_OK) {
      if (std::feof(fp.get()) && !rr && at > int(lines.size())) break;
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
    records_.push_back(RawRecord{std::move(name), uint16_t(ldns_rr_get_type(rr.get())),
                                 ldns_rr_ttl(rr.get()), make_rdata(rr.get()), path, at});
  }
  ldns_rdf_deep_free(origin);
  if (prev) ldns_rdf_deep_free(prev);
}

std::shared_ptr<const Zone> Loader::finish(const std::string& path) {
  auto zone = std::make_shared<Zone>();
  zone->apex = apex_;
  zone->file = path;
  for (auto& r : records_) {
    if (r.type == rrtype::DNAME) {
      error(r.file, r.line, "DNAME is not supported");
      continue;
    }
    if (r.type == rrtype::SOA && r.owner != apex_) {
      error(r.file, r.line, "SOA record below the zone apex");
      continue;
    }
    if (r.type == rrtype::OPT || r.type == rrtype::ANY || r.type == rrtype::AXFR ||
        r.type == rrtype::IXFR) {
      error(r.file, r.line, fmt::format("type {} cannot appear in a zone", r.type));
      continue;
    }
    Node& node = zone->nodes[r.owner];
    node.name = r.owner;
    RRset* set = nullptr;
    for (auto& s : node.rrsets)
      if (s.type == r.type) set = &s;
    if (!set) {
      node.rrsets.push_back(RRset{r.type, r.ttl, {}});
      set = &node.rrsets.back();
    } else if (r.type == rrtype::SOA || r.type == rrtype::CNAME) {
      error(r.file, r.line,
            fmt::format("more than one {} record at {}", r.type == rrtype::SOA ? "SOA" : "CNAME",
                        name_to_text(r.owner)));
      continue;
    }
    // RFC 2181 §5: an RRset holds no duplicates, and its records share one TTL (the first's).
    bool dup = false;
    for (auto& d : set->rdata) dup = dup || d == r.rdata;
    if (!dup) set->rdata.push_back(std::move(r.rdata));
  }
  for (auto& [name, node] : zone->nodes) {
    if (node.find(rrtype::CNAME) && node.rrsets.size() > 1) {
      int line = 0;
      std::string file = path;
      for (auto& r : records_)
        if (r.owner == name && r.type == rrtype::CNAME) {
          line = r.line;
          file = r.file;
        }
      error(file, line, fmt::format("CNAME and other data at {}", name_to_text(name)));
    }
  }
  auto apex_it = zone->nodes.find(apex_);
  if (apex_it == zone->nodes.end() || !apex_it->second.find(rrtype::SOA))
    error(path, 0, fmt::format("no SOA record at the zone apex {}", name_to_text(apex_)));
  if (apex_it == zone->nodes.end() || !apex_it->second.find(rrtype::NS))
    error(path, 0, fmt::format("no NS records at the zone apex {}", name_to_text(apex_)));
  if (count_ > 0) return nullptr;
  // Every name between an owner and the apex exists, as an empty non-terminal if nothing else.
  std::vector<std::string> owners;
  for (auto& [name, node] : zone->nodes) owners.push_back(name);
  for (auto& n : owners) {
    for (std::string_view p = name_parent(n); p.size() >= apex_.size(); p = name_parent(p)) {
      auto [it, inserted] = zone->nodes.try_emplace(std::string(p));
      if (!inserted) break;
      it->second.name = std::string(p);
      if (p == apex_) break;
    }
  }
  return zone;
}

}  // namespace

std::shared_ptr<const Zone> load_zone(std::string_view apex_text, const std::string& path,
                                      core::Errors& errors, const std::string* text) {
  std::string apex = name_from_text(apex_text);
  if (apex.empty()) {
    errors.push_back(core::Error{path, 0, 0, fmt::format("bad zone name {}", apex_text)});
    return nullptr;
  }
  std::string body;
  if (text) {
    body = *text;
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      errors.push_back(core::Error{path, 0, 0, "cannot open zone file"});
      return nullptr;
    }
    body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  Loader loader(apex, errors);
  std::string origin(apex_text);
  if (origin.empty() || origin.back() != '.') origin += '.';
  loader.read(path, body, origin, 0);
  return loader.finish(path);
}

}  // namespace gslb::dns
