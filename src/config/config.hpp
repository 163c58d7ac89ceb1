// gslbd.toml as checked plain structs. Parsing collects every error with its position
// (`gslbd.toml:14:9: zone[1].file: cannot be empty`); nothing here opens sockets or zones.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/config.hpp"
#include "core/address.hpp"
#include "core/duration.hpp"
#include "core/result.hpp"
#include "dns/guard_config.hpp"
#include "pool/config.hpp"

namespace gslb::config {

struct Server {
  std::vector<core::Endpoint> listen;
  unsigned workers = 1;                // 0: one per core
  uint16_t edns_size = 1232;           // advertised and used as our UDP payload limit
  core::Duration tcp_idle_timeout = std::chrono::seconds(10);   // without a whole query or a write
  core::Duration tcp_frame_timeout = std::chrono::seconds(5);   // first byte to last of a query
  unsigned tcp_max_connections = 1024;  // per worker
  unsigned tcp_max_connections_per_source = 256;  // per client address (IPv6: /64); 0 = no cap
  size_t tcp_max_output = 256 * 1024;   // bytes of unread answers before a client stops being read
  // Checks that may hold a socket at once; 0: one per probe target (every target can be checked
  // at once). Set it when the targets outnumber the descriptors (see DescriptorBudget).
  unsigned max_checks_in_flight = 0;
  std::string probes_dir;               // resolved; default "probes" beside the config file
  std::string user, group;              // drop to these after binding, when started as root
  bool ecs = true;                      // EDNS Client Subnet (RFC 7871) for mapped names
  std::optional<core::IpAddress> probe_source;  // the checks' source address; default: the kernel's choice
};

struct Control {
  std::string socket = "/run/gslbd/control.sock";  // gslbctl's Unix socket; "" = none
  std::string state_file = "/var/lib/gslbd/drains";  // drains kept across restarts; "" = none
  // gslbctl clients at once; more are accepted and closed at once (the backlog never fills).
  unsigned max_connections = 16;
  // A request must arrive whole within this from connect; an `events --follow` client is
  // exempt once following (its bound is the output queue instead).
  core::Duration idle_timeout = std::chrono::seconds(30);
};

struct Metrics {
  std::optional<core::Endpoint> listen;  // Prometheus text at /metrics; off unless set
  unsigned max_connections = 16;             // scrapes at once, all sources together
  unsigned max_connections_per_source = 4;   // scrapes at once from one client address
  core::Duration idle_timeout = std::chrono::seconds(10);  // to send the request, then to read the reply
};

struct Log {
  bool syslog = true;
  bool stderr_ = false;
};

// [limits]: bounds on what loading a zone may read (see dns::ZoneLimits, which these fill).
struct Limits {
  int include_depth = 10;                   // $INCLUDE nesting
  uint32_t includes = 1000;                 // $INCLUDEs followed per zone
  uint64_t zone_records = 10'000'000;       // records per zone
  uint64_t zone_bytes = uint64_t(1) << 30;  // master-file bytes per zone, includes counted
};

struct Position {
  int line = 0, col = 0;
};

// A zone's `dnssec = { keys = [...], validity = "14d", refresh = "7d" }`: the zone is signed
// when it loads (dns/dnssec.hpp). Absent: the zone is served unsigned.
struct Dnssec {
  bool enabled = false;
  std::vector<std::string> keys;       // BIND key pair base names, resolved like every path
  std::vector<Position> key_at;        // where each was written, for errors about its files
  uint32_t validity = 14 * 86400;      // RRSIG lifetime, seconds
  uint32_t refresh = 7 * 86400;        // re-sign when a signature has less than this left
  // Where the table, validity and refresh were written (line 0: not written, the default), for
  // errors found when the zone is signed (a TTL longer than refresh).
  Position at, validity_at, refresh_at;
};

// What a zone's secondaries get at its dynamic names (`transfer_dynamic`): the addresses gslbd
// answers when nothing can be checked (all_down = "fail_open"), or nothing (the zone file only).
enum class TransferDynamic { fail_open, omit };

struct Zone {
  std::string name;  // "example.test."
  std::string file;  // resolved against the config file's directory
  std::vector<core::Prefix> allow_transfer;
  Dnssec dnssec;
  // allow_transfer entries "key NAME": a transfer signed with that TSIG key (from any address).
  std::vector<std::string> transfer_keys;
  std::vector<Position> transfer_key_at;
  // Secondaries told by NOTIFY (RFC 1996) when a reload changes the zone's serial.
  std::vector<core::Endpoint> also_notify;
  // For each also_notify entry, the TSIG key its NOTIFY is signed with ("ADDRESS:PORT key
  // NAME"; empty: unsigned), and where the entry was written.
  std::vector<std::string> notify_keys;
  std::vector<Position> notify_key_at;
  TransferDynamic transfer_dynamic = TransferDynamic::fail_open;
  // Versions kept for IXFR (RFC 1995): the differences to the last this many; 0: none (AXFR).
  unsigned ixfr_history = 16;
  int line = 0;      // where it was declared, for messages about its file
  int col = 0;
};

struct Config {
  std::string path;  // the file it came from ("<built-in>" for the default)
  Server server;
  Log log;
  Control control;
  Metrics metrics;
  Limits limits;
  // [tsig] key_files: BIND key files (tsig-keygen output), resolved against the config's folder.
  std::vector<std::string> tsig_key_files;
  bool unknown_is_up = true;  // [health] unknown: what an unchecked address counts as
  dns::RrlConfig rrl;         // [rrl]
  dns::CookieConfig cookies;  // [cookies]; `master` is left for the daemon to draw
  cluster::Config cluster;    // [cluster]; off unless `etcd` is set
  std::vector<Zone> zones;
  pool::Config gtm;           // pools and dynamic names
  std::vector<Position> pool_probe_at, name_fqdn_at;  // for errors found across files
};

// Parses `text` read from `path`. On any error returns nullopt and appends to `errors`.
std::optional<Config> parse(std::string_view text, const std::string& path, core::Errors& errors);

}  // namespace gslb::config
