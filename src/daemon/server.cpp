#include "daemon/server.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

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
  Loaded out{std::move(*cfg), {}, {}};
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
  if (!ok) return std::nullopt;
  out.table = dns::compile(out.zones);
  return out;
}

}  // namespace gslb::daemon
