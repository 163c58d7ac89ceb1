// The [[zone]] tables of gslbd.toml: name and file, allow_transfer (addresses, or TSIG keys
// by name), also_notify, ixfr_history, transfer_dynamic, and the dnssec table with its
// signature lifetimes. Split from config.cpp so that the zone part of the file reads alone.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "config/sections.hpp"

namespace gslb::config {

namespace {

// "14d", "12h", "90m", "3600s": a signature lifetime, in whole seconds, 1 hour to 365 days.
std::optional<uint32_t> sig_duration(std::string_view text) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data() || end + 1 != text.data() + text.size()) return std::nullopt;
  uint64_t unit = 0;
  switch (*end) {
    case 'd': unit = 86400; break;
    case 'h': unit = 3600; break;
    case 'm': unit = 60; break;
    case 's': unit = 1; break;
    default: return std::nullopt;
  }
  if (n > 365 * 86400 / unit) return std::nullopt;
  return uint32_t(n * unit);
}

void parse_dnssec(Checker& c, const toml::node& n, const std::string& prefix, Dnssec& d) {
  const toml::table* t = n.as_table();
  if (!t) {
    c.error(n, prefix, "must be a table such as { keys = [\"Kexample.test.+013+12345\"] }");
    return;
  }
  c.only(*t, prefix, {"keys", "validity", "refresh"});
  d.enabled = true;
  d.at = Position{int(t->source().begin.line), int(t->source().begin.column)};
  d.validity_at = at(t->get("validity"));
  d.refresh_at = at(t->get("refresh"));
  c.strings(*t, prefix, "keys", [&](const toml::node& el, const std::string& key, const std::string& v) {
    if (v.empty()) {
      c.error(el, key, "cannot be empty");
      return;
    }
    d.keys.push_back(c.resolve(v));
    d.key_at.push_back(Position{int(el.source().begin.line), int(el.source().begin.column)});
  });
  if (!t->get("keys")) c.error(t->source(), prefix, "needs keys");
  else if (d.keys.empty() && t->get("keys")->is_array() && t->get("keys")->as_array()->empty())
    c.error(*t->get("keys"), Checker::join(prefix, "keys"), "needs at least one key");
  for (auto [k, out] : {std::pair<std::string_view, uint32_t*>{"validity", &d.validity},
                        {"refresh", &d.refresh}}) {
    if (const std::string* s = c.string(*t, prefix, k)) {
      // A validity under an hour would expire before a resolver's clock skew allows for.
      const uint32_t least = k == "validity" ? 3600 : 60;
      auto v = sig_duration(*s);
      if (!v || *v < least)
        c.error(*t->get(k), Checker::join(prefix, k),
                fmt::format("must be a duration from \"{}\" to \"365d\" such as \"{}\"",
                            k == "validity" ? "1h" : "1m", k == "validity" ? "14d" : "7d"));
      else
        *out = *v;
    }
  }
  if (!t->get("refresh")) d.refresh = d.validity / 2;
  if (d.refresh >= d.validity && t->get("refresh"))
    c.error(*t->get("refresh"), Checker::join(prefix, "refresh"), "must be shorter than validity");
}

}  // namespace

void parse_zone(Checker& c, const toml::table& t, const std::string& prefix, Zone& z) {
  c.only(t, prefix, {"name", "file", "allow_transfer", "also_notify", "ixfr_history", "transfer_dynamic",
                     "dnssec"});
  if (const toml::node* d = t.get("dnssec")) parse_dnssec(c, *d, Checker::join(prefix, "dnssec"), z.dnssec);
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
    if (v.rfind("key ", 0) == 0) {
      z.transfer_keys.push_back(v.substr(4));
      z.transfer_key_at.push_back(Position{int(n.source().begin.line), int(n.source().begin.column)});
    } else if (auto p = core::Prefix::parse(v)) {
      z.allow_transfer.push_back(*p);
    } else {
      c.error(n, key, "must be an address or prefix such as \"192.0.2.1\" or \"2001:db8::/32\", "
                      "or \"key NAME\" for a TSIG key");
    }
  });
  c.strings(t, prefix, "also_notify", [&](const toml::node& n, const std::string& key, const std::string& v) {
    // "ADDRESS:PORT" or "ADDRESS:PORT key NAME": the NOTIFY is then TSIG-signed with that key.
    std::vector<std::string> words;
    for (size_t i = v.find_first_not_of(' '); i != std::string::npos; i = v.find_first_not_of(' ', i)) {
      const size_t end = std::min(v.find(' ', i), v.size());
      words.push_back(v.substr(i, end - i));
      i = end;
    }
    const bool key_ok = words.size() == 1 || (words.size() == 3 && words[1] == "key");
    const std::string key_name = words.size() == 3 ? words[2] : std::string();
    auto e = words.empty() ? std::nullopt : core::Endpoint::parse(words[0]);
    if (!e || e->port == 0 || !key_ok) {
      c.error(n, key, "must be an address and port such as \"192.0.2.53:53\" or \"[2001:db8::53]:53\", "
                      "optionally followed by \"key NAME\" for a TSIG key");
    } else {
      z.also_notify.push_back(*e);
      z.notify_keys.push_back(key_name);
      z.notify_key_at.push_back(Position{int(n.source().begin.line), int(n.source().begin.column)});
    }
  });
  if (auto v = c.integer(t, prefix, "ixfr_history", 0, 1000)) z.ixfr_history = unsigned(*v);
  if (const std::string* v = c.string(t, prefix, "transfer_dynamic")) {
    if (*v == "fail_open") z.transfer_dynamic = TransferDynamic::fail_open;
    else if (*v == "omit") z.transfer_dynamic = TransferDynamic::omit;
    else c.error(*t.get("transfer_dynamic"), Checker::join(prefix, "transfer_dynamic"),
                 "must be \"fail_open\" or \"omit\"");
  }
}

}  // namespace gslb::config
