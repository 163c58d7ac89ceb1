// gslbd.toml as checked plain structs. Parsing collects every error with its position
// (`gslbd.toml:14:9: zone[1].file: cannot be empty`); nothing here opens sockets or zones.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/duration.hpp"
#include "core/result.hpp"

namespace gslb::config {

struct Server {
  std::vector<core::Endpoint> listen;
  unsigned workers = 1;                // 0: one per core
  uint16_t edns_size = 1232;           // advertised and used as our UDP payload limit
  core::Duration tcp_idle_timeout = std::chrono::seconds(10);
  unsigned tcp_max_connections = 1024;  // per worker
};

struct Zone {
  std::string name;  // "example.test."
  std::string file;  // resolved against the config file's directory
  std::vector<core::Prefix> allow_transfer;
  int line = 0;      // where it was declared, for messages about its file
  int col = 0;
};

struct Config {
  std::string path;  // the file it came from ("<built-in>" for the default)
  Server server;
  std::vector<Zone> zones;
};

// Parses `text` read from `path`. On any error returns nullopt and appends to `errors`.
std::optional<Config> parse(std::string_view text, const std::string& path, core::Errors& errors);

}  // namespace gslb::config
