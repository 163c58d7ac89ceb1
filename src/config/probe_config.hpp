// probes/*.toml as checked probe::Spec values. Like gslbd.toml, every error is collected with
// its position (`probes/web.toml:4:11: timeout: must be at most interval (1s)`) and unknown keys
// are errors, so a typo never falls back to a default silently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "probe/spec.hpp"

namespace gslb::config {

// Reads every regular *.toml file in `dir`, sorted by name, one probe each (named after the
// file). On any error returns nullopt and appends every problem of every file to `errors`.
// Reads files: call it where blocking I/O is allowed (start-up, reload), never on a hot loop.
std::optional<std::vector<probe::Spec>> load_probes(const std::string& dir, core::Errors& errors);

// The same for one file's text; `path` names it in errors and gives the probe its name.
// `ca_file` is resolved against the directory of `path`.
std::optional<probe::Spec> parse_probe(std::string_view text, const std::string& path,
                                       core::Errors& errors);

}  // namespace gslb::config
