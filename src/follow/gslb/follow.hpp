// gslb-route-follow: applies gslbd's verdict stream (`gslbctl verdicts --follow`, format v1 in
// the README) to a gslb::route Cluster through set_health, so an application routes away from a
// gateway gslbd saw die without probing it itself.
//
// Two layers: the pure part (parse_line, VerdictTable, apply) turns lines into set_health calls
// and is tested without sockets; Follower runs it on its own thread against gslbd's control
// socket and reconnects, resyncing from the snapshot, when gslbd restarts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gslb/route.hpp>

namespace gslb::follow {

// The verdict stream's format version this library reads ("v":1).
constexpr int kStreamVersion = 1;

enum class State : uint8_t { kUnknown, kUp, kDown, kDrained };
const char* to_string(State s) noexcept;

// One target's verdict: gslbd checks (address, probe) pairs.
struct Verdict {
  std::string address;
  std::string probe;
  State state = State::kUnknown;
  std::string reason;
  std::string time;  // RFC 3339, as gslbd wrote it
};

// One line of the stream. Lines of a type this version does not know are kOther (ignored, so
// gslbd may add types within v1).
struct Line {
  enum class Type : uint8_t { kState, kSynced, kOther };
  Type type = Type::kOther;
  Verdict verdict;  // kState
};

// Parses one line (without its newline). On a malformed line or another format version, returns
// nothing and says why in `error`. Fields it does not know are ignored.
std::optional<Line> parse_line(std::string_view line, std::string* error = nullptr);

// What one address should be in the cluster now.
struct HealthChange {
  std::string address;
  route::Health health;
};

// The verdicts seen so far, folded per address. An address is unhealthy while any of its
// targets is down or drained, healthy once its targets are up. `unknown` (gslbd has no result
// yet, e.g. just after it restarted) is no opinion: the address keeps what it had. Owned by one
// thread (the Follower's).
class VerdictTable {
 public:
  // Only this probe's verdicts count; empty: every probe's.
  explicit VerdictTable(std::string probe = {}) : probe_(std::move(probe)) {}

  // A new connection: the snapshot that follows replaces what is known.
  void begin_snapshot();
  // One verdict; returns the address's new health when it changed.
  std::optional<HealthChange> record(const Verdict& v);
  // The snapshot is complete: targets it did not mention are no longer checked by gslbd, so
  // they are forgotten, and an address left with no verdict returns to healthy.
  std::vector<HealthChange> end_snapshot();

  // The health last decided for `address`, if any.
  std::optional<route::Health> health(const std::string& address) const;

 private:
  struct Target {
    State state = State::kUnknown;
    bool seen = true;  // mentioned since begin_snapshot()
  };
  std::optional<route::Health> fold(const std::string& address) const;
  std::optional<HealthChange> settle(const std::string& address);

  std::string probe_;
  std::map<std::pair<std::string, std::string>, Target> targets_;  // (address, probe)
  std::map<std::string, route::Health> decided_;                  // per address
};

// Sets `health` on every endpoint of `cluster` with this address (any port); returns how many.
size_t apply(route::Cluster& cluster, const HealthChange& change);

// What the Follower tells the application, on the Follower's thread.
struct Notice {
  enum class Kind : uint8_t { kConnected, kSynced, kDisconnected, kHealth, kBadLine };
  Kind kind = Kind::kConnected;
  std::string text;         // why (disconnected, bad line), or the verdict's reason (health)
  std::string address;      // kHealth
  route::Health health = route::Health::kHealthy;  // kHealth
  size_t endpoints = 0;     // kHealth: how many endpoints it set
};
const char* to_string(Notice::Kind k) noexcept;

struct FollowOptions {
  std::string socket_path = "/run/gslbd/control.sock";
  std::string probe;  // only this probe's verdicts; empty: every probe's
  // Reconnects wait min_backoff, doubling up to max_backoff; a connection that synced resets it.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::function<void(const Notice&)> on_notice;  // optional; must not destroy the Follower
};

struct FollowStats {
  uint64_t connects = 0;       // connections that got gslbd's first line
  uint64_t syncs = 0;          // snapshots completed
  uint64_t verdicts = 0;       // state lines read
  uint64_t bad_lines = 0;
  uint64_t health_changes = 0; // set_health rounds applied
  bool synced = false;         // connected now and past the snapshot
};

// Follows gslbd's verdicts for `cluster` (or a Sink) on a thread of its own, from construction
// until destruction. The cluster must outlive it. While gslbd is away the last verdicts stay in force
// (a restart is not a reason to change routing); the next snapshot corrects them.
class Follower {
 public:
  // Where changes go: sets an address's health, returns how many endpoints it set. Called on
  // the Follower's thread.
  using Sink = std::function<size_t(const HealthChange&)>;

  // Start the thread; throw std::system_error if it (or its wake-up pipe) cannot be had.
  Follower(route::Cluster& cluster, FollowOptions options);  // apply() to this cluster
  Follower(Sink sink, FollowOptions options);
  ~Follower();  // stops the thread (wakes it from any wait) and joins it
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  FollowStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gslb::follow
