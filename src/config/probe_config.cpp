#include "config/probe_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>
#include <tuple>

#include "config/toml_check.hpp"
#include "core/file.hpp"

namespace gslb::config {

namespace {

using probe::Method;
using probe::Spec;
using probe::StatusRange;
using probe::Type;

// "200", "2xx", "200-299"; codes are 100..599.
std::optional<StatusRange> parse_status(std::string_view s) {
  auto number = [](std::string_view t) -> std::optional<uint16_t> {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size() || t.size() != 3 || v < 100 || v > 599)
      return std::nullopt;
    return uint16_t(v);
  };
  if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
      (s[2] == 'x' || s[2] == 'X')) {
    auto lo = uint16_t((s[0] - '0') * 100);
    return StatusRange{lo, uint16_t(lo + 99)};
  }
  if (auto dash = s.find('-'); dash != std::string_view::npos) {
    auto lo = number(s.substr(0, dash)), hi = number(s.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    return StatusRange{*lo, *hi};
  }
  if (auto v = number(s)) return StatusRange{*v, *v};
  return std::nullopt;
}

// RFC 9110 token characters, for header names.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && !std::strchr("!#$%&'*+-.^_`|~", c)) return false;
  return true;
}

bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string stem_of(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

std::string resolve(const std::string& path, const std::string& file) {
  if (file.empty() || file[0] == '/') return file;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? file : path.substr(0, slash + 1) + file;
}

void parse_table(Checker& c, const toml::table& t, const std::string& path, Spec& s) {
  static const std::set<std::string_view> kKnown = {
      "type", "port", "path", "method", "host", "expect_status", "expect_body", "interval",
      "timeout", "fast_interval", "rise", "fall", "verify", "ca_file", "headers"};
  for (auto&& [k, v] : t)
    if (!kKnown.count(k.str())) c.error(k.source(), k.str(), "unknown key");

  if (const std::string* type = c.string(t, "type")) {
    if (*type == "http") s.type = Type::http;
    else if (*type == "https") s.type = Type::https;
    else if (*type == "tcp") s.type = Type::tcp;
    else c.error(*t.get("type"), "type", "must be \"http\", \"https\" or \"tcp\"");
  }
  if (s.type == Type::https) s.port = 443;
  if (auto port = c.integer(t, "port", 1, 65535)) s.port = uint16_t(*port);
  else if (s.type == Type::tcp && !t.get("port")) c.error(t.source(), "port", "a tcp probe needs a port");

  // Keys that mean nothing to a TCP connect check are errors rather than silently ignored.
  if (s.type == Type::tcp) {
    for (std::string_view k : {"path", "method", "host", "expect_status", "expect_body", "headers",
                               "verify", "ca_file"})
      if (const toml::node* n = t.get(k)) c.error(*n, k, "only for http and https probes");
  } else if (s.type == Type::http) {
    for (std::string_view k : {"verify", "ca_file"})
      if (const toml::node* n = t.get(k)) c.error(*n, k, "only for https probes");
  }

  if (const std::string* p = c.string(t, "path")) {
    if (p->empty() || (*p)[0] != '/' || has_control(*p) || p->find(' ') != std::string::npos)
      c.error(*t.get("path"), "path", "must start with \"/\" and contain no spaces");
    else
      s.path = *p;
  }
  if (const std::string* m = c.string(t, "method")) {
    std::string upper = *m;
    for (auto& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    if (upper == "GET") s.method = Method::get;
    else if (upper == "HEAD") s.method = Method::head;
    else c.error(*t.get("method"), "method", "must be \"GET\" or \"HEAD\"");
  }
  if (const std::string* h = c.string(t, "host")) {
    if (!is_host_name(*h))
      c.error(*t.get("host"), "host", "must be a host name such as \"www.example.com\"");
    else
      s.host = *h;
  }
  if (const toml::node* n = t.get("expect_status")) {
    const toml::array* a = n->as_array();
    if (!a || a->empty()) {
      c.error(*n, "expect_status", "must be a non-empty array such as [200, \"3xx\", \"400-404\"]");
    } else {
      s.expect_status.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        const toml::node& el = *a->get(i);
        std::string key = fmt::format("expect_status[{}]", i);
        std::optional<StatusRange> r;
        if (el.is_integer()) {
          int64_t v = el.as_integer()->get();
          if (v >= 100 && v <= 599) r = StatusRange{uint16_t(v), uint16_t(v)};
        } else if (el.is_string()) {
          r = parse_status(el.as_string()->get());
        }
        if (r)
          s.expect_status.push_back(*r);
        else
          c.error(el, key, "must be a status code 100..599, \"2xx\" or a range \"200-299\"");
      }
    }
  }
  if (const std::string* b = c.string(t, "expect_body")) {
    if (b->empty() || b->size() > probe::kMaxBody)
      c.error(*t.get("expect_body"), "expect_body",
              fmt::format("must be 1..{} bytes", probe::kMaxBody));
    else if (s.method == Method::head)
      c.error(*t.get("expect_body"), "expect_body", "cannot be checked with method HEAD");
    else
      s.expect_body = *b;
  }

  if (auto d = c.duration(t, "interval")) {
    s.interval = *d;
    // The default timeout follows a short interval down rather than making "interval = 200ms"
    // alone an error.
    s.timeout = std::min(s.timeout, s.interval);
  }
  if (auto d = c.duration(t, "timeout")) {
    s.timeout = *d;
    // A check that may outlive its interval would delay the next one and halve the probe rate
    // exactly when a gateway hangs, the moment the rate matters most.
    if (s.timeout > s.interval)
      c.error(*t.get("timeout"), "timeout",
              fmt::format("must be at most interval ({})", core::format_duration(s.interval)));
  }
  if (auto d = c.duration(t, "fast_interval")) {
    if (*d > s.interval)
      c.error(*t.get("fast_interval"), "fast_interval",
              fmt::format("must be at most interval ({})", core::format_duration(s.interval)));
    else
      s.fast_interval = *d;
  }
  if (s.fast_interval.count() == 0) s.fast_interval = probe::effective_fast_interval(s);
  if (auto r = c.integer(t, "rise", 1, 100)) s.rise = unsigned(*r);
  if (auto f = c.integer(t, "fall", 1, 100)) s.fall = unsigned(*f);

  if (auto v = c.boolean(t, "verify")) s.verify = *v;
  if (const std::string* ca = c.string(t, "ca_file")) {
    if (ca->empty())
      c.error(*t.get("ca_file"), "ca_file", "cannot be empty");
    else
      s.ca_file = resolve(path, *ca);
  }

  if (const toml::node* n = t.get("headers")) {
    const toml::table* h = n->as_table();
    if (!h) {
      c.error(*n, "headers", "must be a table such as { \"X-Probe\" = \"gslbd\" }");
    } else {
      for (auto&& [k, v] : *h) {
        std::string key = fmt::format("headers.{}", k.str());
        std::string lower(k.str());
        for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (!is_token(k.str()))
          c.error(k.source(), key, "must be a header name");
        else if (lower == "host")
          c.error(k.source(), key, "set the Host header with the key `host`");
        else if (!v.is_string())
          c.error(v, key, "must be a string");
        else if (has_control(v.as_string()->get()))
          c.error(v, key, "cannot contain control characters");
        else
          s.headers.emplace_back(std::string(k.str()), v.as_string()->get());
      }
    }
  }
}

}  // namespace

std::optional<probe::Spec> parse_probe(std::string_view text, const std::string& path,
                                       core::Errors& errors) {
  auto doc = parse_document(text, path, errors);
  if (!doc) return std::nullopt;
  const toml::table& root = *doc;
  const size_t before = errors.size();
  Checker c(path, errors);
  Spec spec;
  spec.name = stem_of(path);
  if (spec.name.empty()) c.error(root.source(), "", "a probe file needs a name");
  parse_table(c, root, path, spec);
  if (errors.size() == before) return spec;
  // Tables are walked key by key, not in file order: report top to bottom.
  std::stable_sort(errors.begin() + long(before), errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.col) < std::tie(b.line, b.col);
  });
  return std::nullopt;
}

// A probe definition is a few lines; this only stops a stray large file from being read whole.
constexpr uint64_t kMaxProbeFile = 1 << 20;

std::optional<std::vector<probe::Spec>> load_probes(const std::string& dir, core::Errors& errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    errors.push_back(core::Error{dir, 0, 0, fmt::format("cannot read directory: {}", ec.message())});
    return std::nullopt;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    if (p.extension() == ".toml" && it->is_regular_file(ec)) files.push_back(p.string());
  }
  if (ec) {
    errors.push_back(core::Error{dir, 0, 0, fmt::format("cannot read directory: {}", ec.message())});
    return std::nullopt;
  }
  std::sort(files.begin(), files.end());
  const size_t before = errors.size();
  std::vector<probe::Spec> specs;
  for (const std::string& file : files) {
    // Checked again on the open file: it may have been swapped for a FIFO since the listing.
    auto text = core::read_regular_file(file, kMaxProbeFile);
    if (!text) {
      errors.push_back(text.error());
      continue;
    }
    if (auto spec = parse_probe(*text, file, errors)) specs.push_back(std::move(*spec));
  }
  if (errors.size() != before) return std::nullopt;
  return specs;
}

}  // namespace gslb::config
