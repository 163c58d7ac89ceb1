// Per-thread scratch of the pick path, gathered in one thread_local so a pick pays for one TLS
// lookup (a function call in a shared library) instead of one per piece. Private.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include <gslb/published.hpp>

namespace gslb::route::detail {

using gslb::Published;

struct Snapshot;

struct SnapshotSlot {
  uint64_t uid = 0;
  Published<Snapshot>::Reader reader;
};

struct RoundRobinSlot {
  const void* group = nullptr;
  uint64_t next = 0;
};

struct ThreadState {
  uint32_t shard = 0;  // which ShardedCounter shard this thread writes
  bool random_seeded = false;
  uint64_t random_state = 0;
  // Last snapshot seen per cluster, direct-mapped on the cluster's uid.
  std::array<SnapshotSlot, 8> snapshots;
  // Round robin position per group, direct-mapped on the group's address.
  std::array<RoundRobinSlot, 16> round_robin;
};

ThreadState& this_thread_state() noexcept;

}  // namespace gslb::route::detail
