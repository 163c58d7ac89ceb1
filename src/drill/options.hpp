// gslb-drill's command line, parsed into checked values (no I/O).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/duration.hpp"
#include "core/result.hpp"

namespace gslb::drill {

// A command to run through /bin/sh -c at a time from the start (`--at 20s='kill 1234'`).
struct AtCommand {
  core::Duration at{};
  std::string command;
};

struct Options {
  core::Endpoint server;                 // the gslbd to resolve through
  double qps = 8;                        // fortio's default
  core::Duration duration = std::chrono::seconds(5);
  core::Duration timeout = std::chrono::seconds(1);      // per HTTP request
  core::Duration dns_timeout = std::chrono::milliseconds(500);
  bool rotate = false;                   // round-robin over the answer instead of the first
  std::vector<AtCommand> at;             // sorted by time
  std::string json;                      // -json FILE: fortio's JSON result there ("-": stdout)
  std::string url;
  std::string host;                      // from the URL
  uint16_t port = 80;                    // from the URL
  bool help = false;
};

extern const char* const kUsage;

// Everything after argv[0]. Errors name the offending argument.
core::Result<Options> parse_options(const std::vector<std::string_view>& args);

}  // namespace gslb::drill
