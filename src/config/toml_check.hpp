// Checking TOML documents against what gslbd expects: every problem becomes an Error at the
// node it concerns (`file:line:col: key.path: reason`), and checking goes on so that all of them
// are reported at once. Shared by gslbd.toml and probes/*.toml.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <toml++/toml.h>

#include "core/duration.hpp"
#include "core/result.hpp"

namespace gslb::config {

// Parses a document; a syntax error is reported with the parser's position.
inline std::optional<toml::table> parse_document(std::string_view text, const std::string& path,
                                                 core::Errors& errors) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    errors.push_back(core::Error{path, int(e.source().begin.line), int(e.source().begin.column),
                                 std::string(e.description())});
    return std::nullopt;
  }
}

// Walks one table, reporting each problem at the node it concerns.
class Checker {
 public:
  Checker(const std::string& path, core::Errors& errors) : path_(path), errors_(errors) {}

  void error(const toml::source_region& at, std::string_view key, const std::string& msg) {
    errors_.push_back(core::Error{path_, int(at.begin.line), int(at.begin.column),
                                  key.empty() ? msg : fmt::format("{}: {}", key, msg)});
  }
  void error(const toml::node& n, std::string_view key, const std::string& msg) {
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
      error(*t.get(k), join(prefix, k), "must be a duration such as \"250ms\", \"1s\" or \"5m\"");
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

  std::optional<bool> boolean(const toml::table& t, const std::string& prefix, std::string_view k) {
    const toml::node* n = t.get(k);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) {
      error(*n, join(prefix, k), "must be true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // The same for keys at the top of a document (no key path prefix).
  const std::string* string(const toml::table& t, std::string_view k) { return string(t, "", k); }
  std::optional<int64_t> integer(const toml::table& t, std::string_view k, int64_t lo, int64_t hi) {
    return integer(t, "", k, lo, hi);
  }
  std::optional<bool> boolean(const toml::table& t, std::string_view k) { return boolean(t, "", k); }
  std::optional<core::Duration> duration(const toml::table& t, std::string_view k) {
    return duration(t, "", k);
  }

 private:
  const std::string& path_;
  core::Errors& errors_;
};

}  // namespace gslb::config
