#include "config/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <toml++/toml.h>

namespace gslb::config {

namespace {

// Walks one table, reporting each problem at the node it concerns.
class Checker {
 public:
  Checker(const std::string& path, core::Errors& errors) : path_(path), errors_(errors) {}

  void error(const toml::source_region& at, const std::string& key, const std::string& msg) {
    errors_.push_back(core::Error{path_, int(at.begin.line), int(at.begin.column),
                                  key.empty() ? msg : fmt::format("{}: {}", key, msg)});
  }
  void error(const toml::node& n, const std::string& key, const std::string& msg) {
    error(n.source(), key, msg);
  }

  // Unknown keys are errors: a typo must not silently fall back to a default.
  void only(const toml::table& t, const std::string& prefix, std::set<std::string_view> known) {
    for (auto&& [k, v] : t)
      if (!known.count(k.str())) error(k.source(), join(prefix, k.str()), "unknown key");
  }

  static std::string join(const std::string& prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
  }

  const std::string* string(const toml::table& t, const std::string& prefix, std::string_view k) {
    const toml::node* n = t.get(k);
    if (!n) return nullptr;
    if (!n->is_string()) {
      error(*n, join(prefix, k), "must be a string");
      return nullptr;
    }
    return &n->as_string()->get();
  }

  std::optional<int64_t> integer(const toml::table& t, const std::string& prefix,
                                 std::string_view k, int64_t lo, int64_t hi) {
    const toml::node* n = t.get(k);
    if (!n) return std::nullopt;
    if (!n->is_integer() || n->as_integer()->get() < lo || n->as_integer()->get() > hi) {
      error(*n, join(prefix, k), fmt::format("must be an integer {}..{}", lo, hi));
      return std::nullopt;
    }
    return n->as_integer()->get();
  }

  std::optional<core::Duration> duration(const toml::table& t, const std::string& prefix,
                                         std::string_view k) {
    const std::string* s = string(t, prefix, k);
    if (!s) return std::nullopt;
    auto d = core::parse_duration(*s);
    if (!d || d->count() == 0) {
      error(*t.get(k), join(prefix, k), "must be a duration such as \"250ms\", \"10s\" or \"5m\"");
      return std::nullopt;
    }
    return d;
  }

  // An array of strings; each element is handed to `each` with its node and key path.
  template <class F>
  void strings(const toml::table& t, const std::string& prefix, std::string_view k, F each) {
    const toml::node* n = t.get(k);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) {
      error(*n, join(prefix, k), "must be an array of strings");
      return;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      std::string key = fmt::format("{}[{}]", join(prefix, k), i);
      const toml::node& el = *a->get(i);
      if (!el.is_string())
        error(el, key, "must be a string");
      else
        each(el, key, el.as_string()->get());
    }
  }

  std::string resolve(const std::string& file) const {
    if (file.empty() || file[0] == '/') return file;
    auto slash = path_.rfind('/');
    return slash == std::string::npos ? file : path_.substr(0, slash + 1) + file;
  }

 private:
  const std::string& path_;
  core::Errors& errors_;
};

void parse_server(Checker& c, const toml::table& t, Server& s) {
  c.only(t, "server", {"listen", "workers", "edns_size", "tcp_idle_timeout", "tcp_max_connections"});
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
}

void parse_zone(Checker& c, const toml::table& t, const std::string& prefix, Zone& z) {
  c.only(t, prefix, {"name", "file", "allow_transfer"});
  z.line = int(t.source().begin.line);
  z.col = int(t.source().begin.column);
  if (const std::string* name = c.string(t, prefix, "name")) {
    z.name = *name;
    if (z.name.empty()) c.error(*t.get("name"), Checker::join(prefix, "name"), "cannot be empty");
    else if (z.name.back() != '.') z.name += '.';
  } else if (!t.get("name")) {
    c.error(t.source(), prefix, "needs a name");
  }
  if (const std::string* file = c.string(t, prefix, "file")) {
    if (file->empty()) c.error(*t.get("file"), Checker::join(prefix, "file"), "cannot be empty");
    z.file = c.resolve(*file);
  } else if (!t.get("file")) {
    c.error(t.source(), prefix, "needs a file");
  }
  c.strings(t, prefix, "allow_transfer", [&](const toml::node& n, const std::string& key, const std::string& v) {
    auto p = core::Prefix::parse(v);
    if (!p)
      c.error(n, key, "must be an address or prefix such as \"192.0.2.1\" or \"2001:db8::/32\"");
    else
      z.allow_transfer.push_back(*p);
  });
}

}  // namespace

std::optional<Config> parse(std::string_view text, const std::string& path, core::Errors& errors) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    errors.push_back(core::Error{path, int(e.source().begin.line), int(e.source().begin.column),
                                 std::string(e.description())});
    return std::nullopt;
  }
  const size_t before = errors.size();
  Checker c(path, errors);
  Config cfg;
  cfg.path = path;
  cfg.server.listen = {*core::Endpoint::parse("127.0.0.1:5353")};
  c.only(root, "", {"server", "zone"});
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
  if (cfg.server.listen.empty()) c.error(root.source(), "server.listen", "needs at least one address");
  if (errors.size() == before) return cfg;
  // Tables are walked key by key, not in file order: report top to bottom.
  std::stable_sort(errors.begin() + long(before), errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.col) < std::tie(b.line, b.col);
  });
  return std::nullopt;
}

}  // namespace gslb::config
