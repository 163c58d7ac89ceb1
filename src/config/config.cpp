#include "config/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <toml++/toml.h>

#include "config/sections.hpp"
#include "config/toml_check.hpp"

namespace gslb::config {

namespace {

void parse_server(Checker& c, const toml::table& t, Server& s) {
  c.only(t, "server", {"listen", "workers", "edns_size", "tcp_idle_timeout", "tcp_max_connections",
                       "tcp_frame_timeout", "tcp_max_connections_per_source", "tcp_max_output",
                       "max_checks_in_flight", "probes_dir", "user", "group", "ecs", "probe_source"});
  if (auto e = c.boolean(t, "server", "ecs")) s.ecs = *e;
  if (const std::string* v = c.string(t, "server", "probe_source")) {
    s.probe_source = core::IpAddress::parse(*v);
    if (!s.probe_source)
      c.error(*t.get("probe_source"), "server.probe_source", "must be an IPv4 or IPv6 address such as \"192.0.2.1\"");
  }
  if (const std::string* u = c.string(t, "server", "user")) s.user = *u;
  if (const std::string* g = c.string(t, "server", "group")) s.group = *g;
  // The drop exists to leave root: to user root it would change nothing, and to group root
  // a compromised gslbd could still write every root-group file (/etc/shadow's group on some
  // systems, most of /var). lookup_identity() catches other names for uid or gid 0.
  if (s.user == "root")
    c.error(*t.get("user"), "server.user", "must not be root: leave it out to keep running as root, or name the service's own user");
  if (s.group == "root")
    c.error(*t.get("group"), "server.group", "must not be root: after the drop gslbd would still hold group root; name the service's own group");
  if (const std::string* d = c.string(t, "server", "probes_dir")) s.probes_dir = c.resolve(*d);
  if (t.get("listen")) s.listen.clear();
  c.strings(t, "server", "listen", [&](const toml::node& n, const std::string& key, const std::string& v) {
    auto ep = core::Endpoint::parse(v);
    if (!ep)
      c.error(n, key, "must be an address and port such as \"127.0.0.1:53\" or \"[::1]:53\"");
    else
      s.listen.push_back(*ep);
  });
  if (auto w = c.integer(t, "server", "workers", 0, 256)) s.workers = unsigned(*w);
  if (auto e = c.integer(t, "server", "edns_size", 512, 4096)) s.edns_size = uint16_t(*e);
  if (auto d = c.duration(t, "server", "tcp_idle_timeout")) s.tcp_idle_timeout = *d;
  if (auto m = c.integer(t, "server", "tcp_max_connections", 1, 1000000))
    s.tcp_max_connections = unsigned(*m);
  if (auto d = c.duration(t, "server", "tcp_frame_timeout")) s.tcp_frame_timeout = *d;
  if (auto m = c.integer(t, "server", "tcp_max_connections_per_source", 0, 1000000))
    s.tcp_max_connections_per_source = unsigned(*m);
  // At least one maximal answer (65535 bytes and its length), so any query can be answered.
  if (auto m = c.integer(t, "server", "tcp_max_output", 65537, 64 << 20))
    s.tcp_max_output = size_t(*m);
  if (auto m = c.integer(t, "server", "max_checks_in_flight", 0, 1000000))
    s.max_checks_in_flight = unsigned(*m);
}

// A size: an integer of bytes, or a string with a binary suffix ("64K", "512M", "1G").
std::optional<uint64_t> byte_size(Checker& c, const toml::table& t, const std::string& prefix,
                                  std::string_view k, uint64_t lo, uint64_t hi) {
  const toml::node* n = t.get(k);
  if (!n) return std::nullopt;
  std::optional<uint64_t> v;
  if (const auto* i = n->as_integer(); i && i->get() >= 0) {
    v = uint64_t(i->get());
  } else if (const auto* s = n->as_string(); s && !s->get().empty()) {
    const std::string& text = s->get();
    uint64_t num = 0;
    size_t p = 0;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p])) && num < (uint64_t(1) << 50))
      num = num * 10 + uint64_t(text[p++] - '0');
    const std::string unit = text.substr(p);
    const int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
    if (p > 0 && shift >= 0) v = num << shift;
  }
  if (!v || *v < lo || *v > hi) {
    c.error(*n, Checker::join(prefix, k),
            fmt::format("must be a size in bytes {}..{}, an integer or a string such as \"512M\" "
                        "or \"1G\"", lo, hi));
    return std::nullopt;
  }
  return v;
}

// [limits]: what one zone may make the loader read.
void parse_limits(Checker& c, const toml::table& t, Limits& l) {
  c.only(t, "limits", {"include_depth", "includes", "zone_records", "zone_bytes"});
  if (auto v = c.integer(t, "limits", "include_depth", 0, 100)) l.include_depth = int(*v);
  if (auto v = c.integer(t, "limits", "includes", 0, 1'000'000)) l.includes = uint32_t(*v);
  if (auto v = c.integer(t, "limits", "zone_records", 1, 1'000'000'000)) l.zone_records = uint64_t(*v);
  if (auto v = byte_size(c, t, "limits", "zone_bytes", 1, uint64_t(1) << 40)) l.zone_bytes = *v;
}

// Names people type on gslbctl's command line and read in events and labels: no control
// characters anywhere, and for identifiers no space, quote, '=' or backslash either.
const char* bad_text(std::string_view v, bool identifier) {
  for (unsigned char ch : v) {
    if (ch < ' ' || ch == 0x7f) return "must not contain control characters";
    if (identifier && (ch == ' ' || ch == '"' || ch == '=' || ch == '\\'))
      return "must not contain spaces, '\"', '=' or '\\'";
  }
  return nullptr;
}

void parse_pool(Checker& c, const toml::table& t, const std::string& prefix, pool::Pool& p,
                Position& probe_at) {
  c.only(t, prefix, {"name", "region", "probe", "min_healthy", "addresses", "location"});
  if (const toml::node* l = t.get("location")) {
    // { lat = 31.23, lon = 121.47 }: degrees, for maps that order regions by distance.
    const std::string k = Checker::join(prefix, "location");
    const toml::table* lt = l->as_table();
    auto degrees = [&](const char* key, double limit) -> std::optional<double> {
      const toml::node* v = lt ? lt->get(key) : nullptr;
      const std::optional<double> d = v ? v->value<double>() : std::nullopt;
      if (!d || *d < -limit || *d > limit) {
        c.error(v ? *v : *l, Checker::join(k, key), fmt::format("must be a number of degrees, -{0}..{0}", limit));
        return std::nullopt;
      }
      return d;
    };
    if (!lt) {
      c.error(*l, k, "must be { lat = 31.23, lon = 121.47 }");
    } else {
      c.only(*lt, k, {"lat", "lon"});
      const auto lat = degrees("lat", 90), lon = degrees("lon", 180);
      if (lat && lon) p.location = std::make_pair(*lat, *lon);
    }
  }
  if (const std::string* v = c.string(t, prefix, "name")) p.name = *v;
  if (p.name.empty()) c.error(t.source(), Checker::join(prefix, "name"), "needs a non-empty name");
  else if (const char* why = bad_text(p.name, true)) c.error(*t.get("name"), Checker::join(prefix, "name"), why);
  if (const std::string* v = c.string(t, prefix, "region")) {
    p.region = *v;
    if (const char* why = bad_text(p.region, false)) c.error(*t.get("region"), Checker::join(prefix, "region"), why);
  }
  if (const std::string* v = c.string(t, prefix, "probe")) p.probe = *v;
  if (p.probe.empty()) c.error(t.source(), Checker::join(prefix, "probe"), "needs a probe name");
  probe_at = at(t.get("probe") ? t.get("probe") : &t);
  if (auto m = c.integer(t, prefix, "min_healthy", 1, 1000)) p.min_healthy = unsigned(*m);
  const std::string key = Checker::join(prefix, "addresses");
  const toml::node* n = t.get("addresses");
  const toml::array* arr = n ? n->as_array() : nullptr;
  if (!arr || arr->empty()) {
    c.error(n ? n->source() : t.source(), key, "needs an array of { ip = \"...\", weight = N }");
    return;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string k = fmt::format("{}[{}]", key, i);
    const toml::node& el = *arr->get(i);
    pool::Address a;
    if (const auto* s = el.as_string()) {  // a bare "192.0.2.1" means weight 1
      auto ip = core::IpAddress::parse(s->get());
      if (!ip) c.error(el, k, "must be an IPv4 or IPv6 address");
      else a.ip = *ip;
    } else if (const auto* tbl = el.as_table()) {
      c.only(*tbl, k, {"ip", "weight"});
      const std::string* ip_text = c.string(*tbl, k, "ip");
      auto ip = ip_text ? core::IpAddress::parse(*ip_text) : std::nullopt;
      if (!ip) c.error(tbl->get("ip") ? *tbl->get("ip") : el, k + ".ip", "must be an IPv4 or IPv6 address");
      else a.ip = *ip;
      if (auto w = c.integer(*tbl, k, "weight", 1, 1000)) a.weight = uint32_t(*w);
    } else {
      c.error(el, k, "must be { ip = \"...\", weight = N } or an address string");
      continue;
    }
    for (const auto& b : p.addresses)
      if (b.ip == a.ip) c.error(el, k, fmt::format("{} is listed twice", a.ip.to_string()));
    p.addresses.push_back(a);
  }
}

// `pools`: each pool's index by name (the first declaration of a name); `maps`: by name.
void parse_name(Checker& c, const toml::table& t, const std::string& prefix, pool::Name& n,
                const std::unordered_map<std::string, size_t>& pools,
                const std::unordered_map<std::string, geo::MapPtr>& maps, Position& fqdn_at) {
  c.only(t, prefix, {"fqdn", "ttl", "mode", "pools", "return", "all_down", "map", "sticky"});
  if (auto st = c.boolean(t, prefix, "sticky")) n.sticky = *st;
  if (const std::string* m = c.string(t, prefix, "map")) {
    auto it = maps.find(*m);
    if (it == maps.end()) c.error(*t.get("map"), Checker::join(prefix, "map"), fmt::format("no map named \"{}\"", *m));
    else n.map = it->second;
  }
  if (const std::string* v = c.string(t, prefix, "fqdn")) n.fqdn = *v;
  if (n.fqdn.empty()) c.error(t.source(), Checker::join(prefix, "fqdn"), "needs a name");
  else if (n.fqdn.back() != '.') n.fqdn += '.';
  fqdn_at = at(t.get("fqdn") ? t.get("fqdn") : &t);
  if (auto ttl = c.integer(t, prefix, "ttl", 0, 86400)) n.ttl = uint32_t(*ttl);
  if (const std::string* m = c.string(t, prefix, "mode")) {
    if (*m == "failover") n.mode = pool::Mode::failover;
    else if (*m == "weighted") n.mode = pool::Mode::weighted;
    else c.error(*t.get("mode"), Checker::join(prefix, "mode"), "must be \"failover\" or \"weighted\"");
  }
  if (const toml::node* r = t.get("return")) {
    const std::string key = Checker::join(prefix, "return");
    if (r->is_integer() && r->as_integer()->get() >= 1 && r->as_integer()->get() <= 64) {
      n.ret = pool::Return::some;
      n.count = unsigned(r->as_integer()->get());
    } else if (r->is_string() && r->as_string()->get() == "all") {
      n.ret = pool::Return::all;
    } else if (r->is_string() && r->as_string()->get() == "one") {
      n.ret = pool::Return::one;
    } else {
      c.error(*r, key, "must be \"all\", \"one\" or a number 1..64");
    }
  }
  if (n.sticky && n.ret != pool::Return::one)
    c.error(*t.get("sticky"), Checker::join(prefix, "sticky"), "needs return = \"one\"");
  if (const std::string* a = c.string(t, prefix, "all_down")) {
    if (*a == "fail_open") n.all_down = pool::AllDown::fail_open;
    else if (*a == "empty") n.all_down = pool::AllDown::empty;
    else if (*a == "servfail") n.all_down = pool::AllDown::servfail;
    else c.error(*t.get("all_down"), Checker::join(prefix, "all_down"),
                 "must be \"fail_open\", \"empty\" or \"servfail\"");
  }
  const std::string key = Checker::join(prefix, "pools");
  const toml::node* pn = t.get("pools");
  const toml::array* arr = pn ? pn->as_array() : nullptr;
  if (!arr || arr->empty()) {
    c.error(pn ? pn->source() : t.source(), key, "needs a list of pools");
    return;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string k = fmt::format("{}[{}]", key, i);
    const toml::node& el = *arr->get(i);
    std::string pool_name;
    pool::Member m{0, 1};
    if (const auto* s = el.as_string()) {
      pool_name = s->get();
    } else if (const auto* tbl = el.as_table()) {
      c.only(*tbl, k, {"pool", "weight"});
      if (const std::string* v = c.string(*tbl, k, "pool")) pool_name = *v;
      if (auto w = c.integer(*tbl, k, "weight", 1, 1000)) m.weight = uint32_t(*w);
    } else {
      c.error(el, k, "must be a pool name or { pool = \"...\", weight = N }");
      continue;
    }
    auto it = pools.find(pool_name);
    if (it == pools.end()) {
      c.error(el, k, fmt::format("no pool named \"{}\"", pool_name));
      continue;
    }
    m.pool = it->second;
    n.pools.push_back(m);
  }
}

// An array of addresses and CIDR prefixes (ACLs).
void prefixes(Checker& c, const toml::table& t, const std::string& prefix, std::string_view k,
              std::vector<core::Prefix>& out) {
  c.strings(t, prefix, k, [&](const toml::node& n, const std::string& key, const std::string& v) {
    auto p = core::Prefix::parse(v);
    if (!p)
      c.error(n, key, "must be an address or prefix such as \"192.0.2.1\" or \"2001:db8::/32\"");
    else
      out.push_back(*p);
  });
}

// [rrl]: BIND's response-rate-limit, with its defaults.
void parse_rrl(Checker& c, const toml::table& t, dns::RrlConfig& r) {
  c.only(t, "rrl", {"responses_per_second", "nxdomains_per_second", "errors_per_second", "window",
                    "slip", "ipv4_prefix", "ipv6_prefix", "exempt", "log_only", "table_size"});
  constexpr int64_t kMaxRate = 1000000;
  if (auto v = c.integer(t, "rrl", "responses_per_second", 0, kMaxRate)) r.responses_per_second = unsigned(*v);
  r.nxdomains_per_second = r.errors_per_second = r.responses_per_second;
  if (auto v = c.integer(t, "rrl", "nxdomains_per_second", 0, kMaxRate)) r.nxdomains_per_second = unsigned(*v);
  if (auto v = c.integer(t, "rrl", "errors_per_second", 0, kMaxRate)) r.errors_per_second = unsigned(*v);
  if (auto d = c.duration(t, "rrl", "window")) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
    if (s < 1 || s > 3600 || *d != std::chrono::seconds(s))
      c.error(*t.get("window"), "rrl.window", "must be whole seconds from \"1s\" to \"1h\"");
    else
      r.window = unsigned(s);
  }
  if (auto v = c.integer(t, "rrl", "slip", 0, 10)) r.slip = unsigned(*v);
  if (auto v = c.integer(t, "rrl", "ipv4_prefix", 1, 32)) r.ipv4_prefix = unsigned(*v);
  if (auto v = c.integer(t, "rrl", "ipv6_prefix", 1, 128)) r.ipv6_prefix = unsigned(*v);
  if (auto v = c.boolean(t, "rrl", "log_only")) r.log_only = *v;
  if (auto v = c.integer(t, "rrl", "table_size", 64, 1 << 24)) r.table_size = unsigned(*v);
  prefixes(c, t, "rrl", "exempt", r.exempt);
}

// [cookies]: RFC 7873 / RFC 9018.
void parse_cookies(Checker& c, const toml::table& t, dns::CookieConfig& k) {
  c.only(t, "cookies", {"enabled", "secret", "rotate", "require"});
  if (auto v = c.boolean(t, "cookies", "enabled")) k.enabled = *v;
  if (auto v = c.boolean(t, "cookies", "require")) k.require = *v;
  if (const std::string* s = c.string(t, "cookies", "secret")) {
    std::array<uint8_t, 16> key{};
    bool ok = s->size() == 32;
    for (size_t i = 0; ok && i < 32; ++i) {
      const char ch = char(std::tolower(static_cast<unsigned char>((*s)[i])));
      const int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
      if (d < 0) ok = false;
      else key[i / 2] = uint8_t(key[i / 2] << 4 | d);
    }
    if (!ok) c.error(*t.get("secret"), "cookies.secret", "must be 32 hex digits (16 bytes)");
    else k.secret = key;
  }
  if (auto d = c.duration(t, "cookies", "rotate")) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
    // A cookie lives an hour (RFC 9018 §4.3) and only the previous secret is kept.
    if (s < 60 || s > 86400)
      c.error(*t.get("rotate"), "cookies.rotate", "must be from \"1m\" to \"24h\"");
    else
      k.rotate_seconds = uint32_t(s);
  }
}

}  // namespace

std::optional<Config> parse(std::string_view text, const std::string& path, core::Errors& errors) {
  auto doc = parse_document(text, path, errors);
  if (!doc) return std::nullopt;
  const toml::table& root = *doc;
  const size_t before = errors.size();
  Checker c(path, errors);
  Config cfg;
  cfg.path = path;
  cfg.server.listen = {*core::Endpoint::parse("127.0.0.1:5353")};
  c.only(root, "", {"server", "zone", "log", "health", "pool", "name", "map", "control", "metrics", "rrl",
                    "cookies", "limits", "tsig", "cluster"});
  if (const toml::node* n = root.get("server")) {
    if (const toml::table* t = n->as_table())
      parse_server(c, *t, cfg.server);
    else
      c.error(*n, "server", "must be a table");
  }
  if (const toml::node* n = root.get("zone")) {
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) {
      c.error(*n, "zone", "must be an array of tables ([[zone]])");
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < a->size(); ++i) {
        std::string prefix = fmt::format("zone[{}]", i);
        Zone z;
        parse_zone(c, *a->get(i)->as_table(), prefix, z);
        std::string lower = z.name;
        for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (!z.name.empty() && !seen.insert(lower).second)
          c.error(*a->get(i)->as_table()->get("name"), prefix + ".name",
                  fmt::format("zone {} is declared twice", z.name));
        cfg.zones.push_back(std::move(z));
      }
    }
  }
  if (const toml::node* n = root.get("tsig")) {
    if (const toml::table* t = n->as_table()) {
      c.only(*t, "tsig", {"key_files"});
      c.strings(*t, "tsig", "key_files", [&](const toml::node&, const std::string&, const std::string& v) {
        cfg.tsig_key_files.push_back(c.resolve(v));
      });
    } else {
      c.error(*n, "tsig", "must be a table");
    }
  }
  if (const toml::node* n = root.get("limits")) {
    if (const toml::table* t = n->as_table()) parse_limits(c, *t, cfg.limits);
    else c.error(*n, "limits", "must be a table");
  }
  if (const toml::node* n = root.get("log")) {
    if (const toml::table* t = n->as_table()) {
      c.only(*t, "log", {"targets"});
      if (t->get("targets")) cfg.log = Log{false, false};
      c.strings(*t, "log", "targets", [&](const toml::node& el, const std::string& key, const std::string& v) {
        if (v == "syslog") cfg.log.syslog = true;
        else if (v == "stderr") cfg.log.stderr_ = true;
        else c.error(el, key, "must be \"syslog\" or \"stderr\"");
      });
    } else {
      c.error(*n, "log", "must be a table");
    }
  }
  if (const toml::node* n = root.get("control")) {
    if (const toml::table* t = n->as_table()) {
      c.only(*t, "control", {"socket", "state_file", "max_connections", "idle_timeout"});
      if (const std::string* v = c.string(*t, "control", "socket")) cfg.control.socket = v->empty() ? *v : c.resolve(*v);
      if (const std::string* v = c.string(*t, "control", "state_file"))
        cfg.control.state_file = v->empty() ? *v : c.resolve(*v);
      if (auto m = c.integer(*t, "control", "max_connections", 1, 4096)) cfg.control.max_connections = unsigned(*m);
      if (auto d = c.duration(*t, "control", "idle_timeout")) cfg.control.idle_timeout = *d;
    } else {
      c.error(*n, "control", "must be a table");
    }
  }
  if (const toml::node* n = root.get("metrics")) {
    if (const toml::table* t = n->as_table()) {
      c.only(*t, "metrics", {"listen", "max_connections", "max_connections_per_source", "idle_timeout"});
      if (const std::string* v = c.string(*t, "metrics", "listen")) {
        cfg.metrics.listen = core::Endpoint::parse(*v);
        if (!cfg.metrics.listen)
          c.error(*t->get("listen"), "metrics.listen", "must be an address and port such as \"127.0.0.1:9153\"");
      }
      if (auto m = c.integer(*t, "metrics", "max_connections", 1, 4096)) cfg.metrics.max_connections = unsigned(*m);
      if (auto m = c.integer(*t, "metrics", "max_connections_per_source", 1, 4096))
        cfg.metrics.max_connections_per_source = unsigned(*m);
      if (auto d = c.duration(*t, "metrics", "idle_timeout")) cfg.metrics.idle_timeout = *d;
    } else {
      c.error(*n, "metrics", "must be a table");
    }
  }
  if (const toml::node* n = root.get("health")) {
    if (const toml::table* t = n->as_table()) {
      c.only(*t, "health", {"unknown"});
      if (const std::string* u = c.string(*t, "health", "unknown")) {
        if (*u == "up" || *u == "down") cfg.unknown_is_up = *u == "up";
        else c.error(*t->get("unknown"), "health.unknown", "must be \"up\" or \"down\"");
      }
    } else {
      c.error(*n, "health", "must be a table");
    }
  }
  if (const toml::node* n = root.get("rrl")) {
    if (const toml::table* t = n->as_table()) parse_rrl(c, *t, cfg.rrl);
    else c.error(*n, "rrl", "must be a table");
  }
  if (const toml::node* n = root.get("cluster")) {
    if (const toml::table* t = n->as_table()) parse_cluster(c, *t, cfg.cluster);
    else c.error(*n, "cluster", "must be a table");
  }
  if (const toml::node* n = root.get("cookies")) {
    if (const toml::table* t = n->as_table()) parse_cookies(c, *t, cfg.cookies);
    else c.error(*n, "cookies", "must be a table");
  }
  auto tables = [&](const char* key, auto each) {
    const toml::node* n = root.get(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) {
      c.error(*n, key, fmt::format("must be an array of tables ([[{}]])", key));
      return;
    }
    for (size_t i = 0; i < a->size(); ++i)
      each(*a->get(i)->as_table(), fmt::format("{}[{}]", key, i));
  };
  // Indexes by name, so 100,000 names over 20,000 pools read in linear time.
  std::unordered_map<std::string, size_t> pool_index;
  std::unordered_set<std::string> fqdns;
  tables("pool", [&](const toml::table& t, const std::string& prefix) {
    pool::Pool p;
    Position pos;
    parse_pool(c, t, prefix, p, pos);
    if (!p.name.empty() && !pool_index.try_emplace(p.name, cfg.gtm.pools.size()).second)
      c.error(*t.get("name"), prefix + ".name", fmt::format("pool {} is declared twice", p.name));
    cfg.gtm.pools.push_back(std::move(p));
    cfg.pool_probe_at.push_back(pos);
  });
  std::unordered_set<std::string> regions;
  for (const pool::Pool& p : cfg.gtm.pools) regions.insert(p.region);
  std::unordered_map<std::string, geo::MapPtr> maps;
  tables("map", [&](const toml::table& t, const std::string& prefix) {
    geo::MapConfig m;
    const size_t errors_before = errors.size();
    parse_map(c, t, prefix, regions, cfg.gtm.pools, m);
    if (!m.name.empty() && maps.count(m.name))
      c.error(*t.get("name"), prefix + ".name", fmt::format("map {} is declared twice", m.name));
    else if (errors.size() == errors_before) {
      std::string name = m.name;
      auto map = std::make_shared<const geo::Map>(std::move(m));
      if (!map->error().empty()) {
        c.error(*t.get("geoip"), prefix + ".geoip", fmt::format("cannot read {}: {}", map->config().geoip, map->error()));
        map = nullptr;
      }
      maps.emplace(std::move(name), std::move(map));
    }
    else
      maps.emplace(m.name, nullptr);  // reported; names that use it are not reported again
  });
  tables("name", [&](const toml::table& t, const std::string& prefix) {
    pool::Name n;
    Position pos;
    parse_name(c, t, prefix, n, pool_index, maps, pos);
    if (!n.fqdn.empty() && !fqdns.insert(n.fqdn).second)
      c.error(*t.get("fqdn"), prefix + ".fqdn", fmt::format("name {} is declared twice", n.fqdn));
    cfg.gtm.names.push_back(std::move(n));
    cfg.name_fqdn_at.push_back(pos);
  });
  if (cfg.server.probes_dir.empty()) cfg.server.probes_dir = c.resolve("probes");
  if (cfg.server.listen.empty()) c.error(root.source(), "server.listen", "needs at least one address");
  if (errors.size() == before) return cfg;
  // Tables are walked key by key, not in file order: report top to bottom.
  std::stable_sort(errors.begin() + long(before), errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.col) < std::tie(b.line, b.col);
  });
  return std::nullopt;
}

}  // namespace gslb::config
