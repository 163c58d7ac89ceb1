// Loading what gslbd serves: config file -> zones -> AnswerTable, all checked before anything
// is used, so that a bad file at start-up or on reload never replaces a good configuration.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "dns/table.hpp"
#include "pool/engine.hpp"
#include "probe/spec.hpp"

namespace gslb::daemon {

// A path under this prefix names a file built into the binary (see builtin.hpp).
inline constexpr std::string_view kBuiltinPrefix = "(built-in)/";

struct Loaded {
  config::Config config;
  std::vector<std::shared_ptr<const dns::Zone>> zones;
  std::shared_ptr<const dns::AnswerTable> table;
  std::map<std::string, std::shared_ptr<const probe::Spec>> probes;  // by name
  std::unique_ptr<pool::Engine> engine;  // pools, dynamic names and their health
};

// Reads and checks everything `path` refers to (the built-in example when empty). On any
// error returns nullopt with every problem appended to `errors`.
std::optional<Loaded> load(const std::string& path, core::Errors& errors);

}  // namespace gslb::daemon
