// Loading what gslbd serves: config file -> zones -> AnswerTable, all checked before anything
// is used, so that a bad file at start-up or on reload never replaces a good configuration.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "dns/table.hpp"
#include "dns/tsig.hpp"
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
  std::vector<std::string> dynamic;      // the dynamic names (wire) `table` was compiled with
  std::vector<dns::TsigKey> tsig_keys;   // every key in [tsig] key_files
};

// The key of `keys` named `text_name` (as written in gslbd.toml, any case), or null.
const dns::TsigKey* find_tsig_key(const std::vector<dns::TsigKey>& keys, const std::string& text_name);

// What a reload may take over from the configuration serving now. A copy of immutable
// pieces (shared pointers), so the loader thread never reads the control loop's state.
struct Reuse {
  std::vector<std::shared_ptr<const dns::Zone>> zones;
  std::shared_ptr<const dns::AnswerTable> table;
  std::vector<std::string> dynamic;
  config::Limits limits;
  std::vector<config::Zone> zone_configs;  // what `zones` were loaded with
  static Reuse of(const Loaded& l) {
    return Reuse{l.zones, l.table, l.dynamic, l.config.limits, l.config.zones};
  }
};

struct LoadOptions {
  // Set by a stopping gslbd: a zone load in progress gives up between two records.
  const std::atomic<bool>* cancel = nullptr;
  // A zone whose file and $INCLUDEs all have the same identity (device, inode, size, mtime,
  // ctime: what NSD also compares) as when `reuse` read them is taken over, not re-read; if
  // every zone is, so is the compiled table.
  const Reuse* reuse = nullptr;
  // Unix time that signed zones are signed at; 0: the system clock.
  uint32_t now = 0;
  // At start-up: go on from the serials served before gslbd last stopped, as the control loop
  // wrote them beside control.state_file (served_serials_path), so that secondaries holding
  // a serial gslbd made (a re-signing, a change under the same file serial) follow again.
  bool resume_serials = false;
};

// Where the serials served are kept across restarts: beside the drains' state file.
inline std::string served_serials_path(const config::Config& c) {
  return c.control.state_file.empty() ? std::string() : c.control.state_file + ".serials";
}
// Their text: a line "zone served-serial file-serial" per zone, e.g. "example.test. 8 7".
std::string served_serials_text(const Loaded& loaded);

// Reads and checks everything `path` refers to (the built-in example when empty). On any
// error returns nullopt with every problem appended to `errors`. Touches no shared state: a
// reload runs it on a thread of its own.
std::optional<Loaded> load(const std::string& path, core::Errors& errors,
                           const LoadOptions& options = {});

}  // namespace gslb::daemon
