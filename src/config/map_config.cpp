// [[map]] tables of gslbd.toml: a source map's nets, GeoIP rules, nearest and default order,
// checked against the pools' regions (geo::MapConfig). Split from config.cpp.
#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "config/sections.hpp"

namespace gslb::config {

namespace {

// A rule's order: `regions` (a list of pool regions) or `weights` ({ region = N }), not both;
// `required`: the default must have one of them.
void parse_order(Checker& c, const toml::table& t, const std::string& prefix, std::string_view key,
                 const std::unordered_set<std::string>& regions, geo::Order& o) {
  auto known = [&](const toml::node& n, const std::string& k, const std::string& region) {
    if (!regions.count(region))
      c.error(n, k, fmt::format("no pool has region \"{}\"", region));
  };
  c.strings(t, prefix, key, [&](const toml::node& n, const std::string& k, const std::string& v) {
    known(n, k, v);
    if (std::find(o.regions.begin(), o.regions.end(), v) != o.regions.end())
      c.error(n, k, fmt::format("region \"{}\" is listed twice", v));
    o.regions.push_back(v);
  });
  if (const toml::node* w = t.get("weights")) {
    const std::string k = Checker::join(prefix, "weights");
    const toml::table* wt = w->as_table();
    if (!wt) {
      c.error(*w, k, "must be a table of region = weight");
      return;
    }
    if (t.get(key)) c.error(*w, k, fmt::format("give {} or weights, not both", key));
    for (auto&& [region, v] : *wt) {
      const std::string rk = Checker::join(k, region.str());
      known(v, rk, std::string(region.str()));
      if (!v.is_integer() || v.as_integer()->get() < 1 || v.as_integer()->get() > 1000)
        c.error(v, rk, "must be an integer 1..1000");
      else
        o.weights.emplace_back(std::string(region.str()), uint32_t(v.as_integer()->get()));
    }
  }
}

}  // namespace

void parse_map(Checker& c, const toml::table& t, const std::string& prefix,
               const std::unordered_set<std::string>& regions, const std::vector<pool::Pool>& pools,
               geo::MapConfig& m) {
  c.only(t, prefix, {"name", "default", "nets", "geoip", "geo", "nearest"});
  if (const std::string* g = c.string(t, prefix, "geoip")) m.geoip = c.resolve(*g);
  if (auto n = c.boolean(t, prefix, "nearest")) {
    m.nearest = *n;
    const std::string k = Checker::join(prefix, "nearest");
    if (m.nearest && m.geoip.empty())
      c.error(*t.get("nearest"), k, "needs geoip = \"PATH\" (a MaxMind City DB) for the clients' coordinates");
    for (const pool::Pool& p : pools)
      if (p.location && std::none_of(m.places.begin(), m.places.end(),
                                     [&](const geo::MapConfig::Place& pl) { return pl.region == p.region; }))
        m.places.push_back({p.region, p.location->first, p.location->second});
    if (m.nearest && m.places.empty())
      c.error(*t.get("nearest"), k, "no pool has a location = { lat = .., lon = .. } to measure from");
    if (m.nearest && m.places.size() > geo::Map::kMaxPlaces)
      c.error(*t.get("nearest"), k, fmt::format("at most {} regions with a location (found {})",
                                                geo::Map::kMaxPlaces, m.places.size()));
  }
  if (const toml::node* g = t.get("geo")) {
    const std::string key = Checker::join(prefix, "geo");
    const toml::array* ga = g->as_array();
    if (!ga) c.error(*g, key, "must be an array of { location = \"...\", regions = [...] }");
    if (ga && m.geoip.empty()) c.error(*g, key, "needs geoip = \"PATH\" (a MaxMind DB) to locate clients");
    for (size_t i = 0; ga && i < ga->size(); ++i) {
      const std::string k = fmt::format("{}[{}]", key, i);
      const toml::table* r = ga->get(i)->as_table();
      if (!r) {
        c.error(*ga->get(i), k, "must be { location = \"...\", regions = [...] }");
        continue;
      }
      c.only(*r, k, {"location", "regions", "weights"});
      geo::GeoRule rule;
      if (const std::string* loc = c.string(*r, k, "location")) rule.location = *loc;
      // AS (continent), JP (ISO 3166-1 alpha-2) or CN-31 (ISO 3166-2: country, '-', 1-3 more).
      const std::string& l = rule.location;
      auto upper_alnum = [](char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'); };
      const bool ok = (l.size() == 2 && upper_alnum(l[0]) && upper_alnum(l[1])) ||
                      (l.size() >= 4 && l.size() <= 6 && l[2] == '-' && upper_alnum(l[0]) &&
                       upper_alnum(l[1]) && std::all_of(l.begin() + 3, l.end(), upper_alnum));
      if (!ok)
        c.error(r->get("location") ? *r->get("location") : static_cast<const toml::node&>(*r),
                Checker::join(k, "location"),
                "must be a continent (\"AS\"), a country (\"JP\") or a subdivision (\"CN-31\")");
      for (const auto& other : m.geo)
        if (ok && other.location == l)
          c.error(*r->get("location"), Checker::join(k, "location"), fmt::format("{} is listed twice", l));
      if (!r->get("regions") && !r->get("weights"))
        c.error(r->source(), k, "needs regions = [...] or weights = { region = N }");
      parse_order(c, *r, k, "regions", regions, rule.order);
      m.geo.push_back(std::move(rule));
    }
  }
  if (const std::string* v = c.string(t, prefix, "name")) m.name = *v;
  if (m.name.empty()) c.error(t.source(), Checker::join(prefix, "name"), "needs a non-empty name");
  if (!t.get("default"))
    c.error(t.source(), Checker::join(prefix, "default"), "needs the regions of clients no rule matches");
  parse_order(c, t, prefix, "default", regions, m.fallback);
  const toml::node* n = t.get("nets");
  if (!n) return;
  const toml::array* a = n->as_array();
  const std::string key = Checker::join(prefix, "nets");
  if (!a) {
    c.error(*n, key, "must be an array of { cidr = \"...\", regions = [...] }");
    return;
  }
  std::set<std::pair<std::array<uint8_t, 17>, unsigned>> seen;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string k = fmt::format("{}[{}]", key, i);
    const toml::table* r = a->get(i)->as_table();
    if (!r) {
      c.error(*a->get(i), k, "must be { cidr = \"...\", regions = [...] }");
      continue;
    }
    c.only(*r, k, {"cidr", "regions", "weights"});
    geo::Rule rule;
    const std::string* cidr = c.string(*r, k, "cidr");
    if (!cidr) {
      if (!r->get("cidr")) c.error(r->source(), Checker::join(k, "cidr"), "needs a prefix");
      continue;
    }
    auto p = core::Prefix::parse(*cidr);
    const toml::node& at = *r->get("cidr");
    if (!p || cidr->find('/') == std::string::npos) {
      c.error(at, Checker::join(k, "cidr"), "must be a prefix such as \"198.51.100.0/24\" or \"2001:db8::/32\"");
      continue;
    }
    core::Prefix base = *p;
    for (unsigned b = p->length; b < base.address.size() * 8; ++b)
      base.address.bytes[b / 8] &= uint8_t(~(0x80 >> (b % 8)));
    if (!(base == *p)) {
      c.error(at, Checker::join(k, "cidr"),
              fmt::format("has bits set beyond /{}: did you mean {}/{}?", p->length,
                          base.address.to_string(), p->length));
      continue;
    }
    std::array<uint8_t, 17> id{};
    id[0] = p->address.is_v4() ? 4 : 6;
    std::copy(p->address.bytes.begin(), p->address.bytes.end(), id.begin() + 1);
    if (!seen.emplace(id, p->length).second)
      c.error(at, Checker::join(k, "cidr"), fmt::format("{} is listed twice", *cidr));
    rule.net = *p;
    if (!r->get("regions") && !r->get("weights"))
      c.error(r->source(), k, "needs regions = [...] or weights = { region = N }");
    parse_order(c, *r, k, "regions", regions, rule.order);
    m.nets.push_back(std::move(rule));
  }
}

}  // namespace gslb::config
