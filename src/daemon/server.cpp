#include "daemon/server.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "config/probe_config.hpp"
#include "daemon/builtin.hpp"
#include "dns/zone.hpp"

namespace gslb::daemon {

namespace {

std::optional<std::string> read_file(const std::string& path, std::string* text_out) {
  if (path.starts_with(kBuiltinPrefix)) {
    const char* t = builtin_file(path.substr(kBuiltinPrefix.size()));
    if (!t) return std::nullopt;
    *text_out = t;
    return *text_out;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  *text_out = ss.str();
  return *text_out;
}

// probes/*.toml from disk, or the built-in ones for the built-in config.
std::optional<std::vector<probe::Spec>> read_probes(const std::string& dir, core::Errors& errors) {
  if (!dir.starts_with(kBuiltinPrefix)) return config::load_probes(dir, errors);
  std::vector<probe::Spec> specs;
  const std::string rel = dir.substr(kBuiltinPrefix.size()) + "/";
  bool ok = true;
  for (const BuiltinFile* f = kBuiltinFiles; f->path; ++f) {
    std::string path = f->path;
    if (!path.starts_with(rel) || !path.ends_with(".toml")) continue;
    auto spec = config::parse_probe(f->text, std::string(kBuiltinPrefix) + path, errors);
    if (spec) specs.push_back(std::move(*spec));
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return specs;
}

}  // namespace

std::optional<Loaded> load(const std::string& path_in, core::Errors& errors) {
  const std::string path =
      path_in.empty() ? std::string(kBuiltinPrefix) + kBuiltinConfigPath : path_in;
  std::string text;
  if (!read_file(path, &text)) {
    errors.push_back(core::Error{path, 0, 0, "cannot read the config file"});
    return std::nullopt;
  }
  auto cfg = config::parse(text, path, errors);
  if (!cfg) return std::nullopt;
  Loaded out;
  out.config = std::move(*cfg);
  bool ok = true;
  for (const auto& zc : out.config.zones) {
    std::string zone_text;
    if (!read_file(zc.file, &zone_text)) {
      errors.push_back(core::Error{path, zc.line, zc.col,
                                   fmt::format("zone {}: cannot read {}", zc.name, zc.file)});
      ok = false;
      continue;
    }
    auto zone = dns::load_zone(zc.name, zc.file, errors, &zone_text);
    if (!zone) {
      ok = false;
      continue;
    }
    auto z = std::make_shared<dns::Zone>(*zone);
    z->allow_transfer = zc.allow_transfer;
    out.zones.push_back(std::move(z));
  }
  const auto& gtm = out.config.gtm;
  if (!gtm.pools.empty()) {
    auto specs = read_probes(out.config.server.probes_dir, errors);
    if (!specs) {
      ok = false;
    } else {
      for (auto& spec : *specs) {
        std::string name = spec.name;
        out.probes[name] = std::make_shared<const probe::Spec>(std::move(spec));
      }
    }
    for (size_t i = 0; specs && i < gtm.pools.size(); ++i) {
      if (out.probes.count(gtm.pools[i].probe)) continue;
      const auto& at = out.config.pool_probe_at[i];
      errors.push_back(core::Error{path, at.line, at.col,
                                   fmt::format("pool[{}].probe: no probe named \"{}\" in {}", i,
                                               gtm.pools[i].probe, out.config.server.probes_dir)});
      ok = false;
    }
  }
  std::vector<std::string> dynamic;
  for (size_t i = 0; i < gtm.names.size() && ok; ++i) {
    std::string wire = dns::name_from_text(gtm.names[i].fqdn);
    std::string why = wire.empty() ? "is not a valid domain name" : dns::check_dynamic_name(out.zones, wire);
    if (!why.empty()) {
      const auto& at = out.config.name_fqdn_at[i];
      errors.push_back(core::Error{path, at.line, at.col,
                                   fmt::format("name[{}].fqdn: {} {}", i, gtm.names[i].fqdn, why)});
      ok = false;
    }
    dynamic.push_back(std::move(wire));
  }
  if (!ok) return std::nullopt;
  std::map<std::string, health::Thresholds> thresholds;
  for (const auto& [name, spec] : out.probes) thresholds[name] = {spec->rise, spec->fall};
  out.engine = std::make_unique<pool::Engine>(gtm, thresholds, out.config.unknown_is_up);
  out.table = dns::compile(out.zones, dynamic);
  return out;
}

}  // namespace gslb::daemon
