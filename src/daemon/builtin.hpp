// Files built into gslbd (the bundled example config and zone), so that `gslbd` with no
// arguments has something to serve.
#pragma once

#include <string>

namespace gslb::daemon {

struct BuiltinFile {
  const char* path;  // relative to the repository root, e.g. "zones/example.test.zone"
  const char* text;
};

extern const BuiltinFile kBuiltinFiles[];  // ends with {nullptr, nullptr}

inline const char* builtin_file(const std::string& path) {
  for (const BuiltinFile* f = kBuiltinFiles; f->path; ++f)
    if (path == f->path) return f->text;
  return nullptr;
}

// The path a built-in config reports in messages.
inline constexpr const char* kBuiltinConfigPath = "gslbd.toml";

}  // namespace gslb::daemon
