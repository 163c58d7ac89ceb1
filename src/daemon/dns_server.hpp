// The DNS workers, each with its own UDP and TCP sockets (SO_REUSEPORT, so the kernel spreads
// clients across workers). A worker runs one libuv loop for TCP, and one thread per UDP socket
// blocked in recvmmsg, which answers a batch of datagrams per system call with no event loop in
// between. A worker owns nothing mutable but its scratch, counters and connections; the
// snapshot it reads is immutable and replaced whole by publish().
#pragma once

#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/address.hpp"
#include "core/duration.hpp"
#include "dns/handler.hpp"
#include "dns/overlay.hpp"
#include "dns/table.hpp"

namespace gslb::daemon {

// What workers answer from; replaced whole, never modified.
struct Snapshot {
  std::shared_ptr<const dns::AnswerTable> table;
  std::shared_ptr<const dns::Overlay> overlay;
};

// TCP connections per client across every worker: an IPv4 address, or an IPv6 /64 (what one
// host usually has). Taken on accept and released on close, never on the query path.
class SourceLimit {
 public:
  explicit SourceLimit(unsigned max) : max_(max) {}
  // False when `peer` already holds `max` connections (0 = unlimited).
  bool acquire(const core::IpAddress& peer);
  void release(const core::IpAddress& peer);

 private:
  static std::string key(const core::IpAddress& peer);
  std::mutex mu_;
  std::unordered_map<std::string, unsigned> held_;  // guarded by mu_
  const unsigned max_;
};

// The limits a TCP client meets (RFC 7766 §6.2.3 lets a server choose them). Whatever a client
// does, a connection holds at most one read buffer, one partial frame, `tcp_max_output` bytes
// of answers plus the one being added, and a descriptor for at most `tcp_idle_timeout` without
// a complete query or a completed write.
struct WorkerOptions {
  dns::HandlerOptions handler;
  // Closed after this long without a complete query or an answer leaving: a trickle of bytes
  // that never makes a whole frame does not count.
  core::Duration tcp_idle_timeout = std::chrono::seconds(10);
  // From a frame's first byte to its last.
  core::Duration tcp_frame_timeout = std::chrono::seconds(5);
  unsigned tcp_max_connections = 1024;  // per worker; when full, the most stalled one goes
  // Answers waiting for a client that does not read: past this, gslbd stops reading its
  // queries (and stops producing a transfer) until they drain.
  size_t tcp_max_output = 256 * 1024;
  std::shared_ptr<SourceLimit> sources;  // shared by every worker; null = no per-source cap
  dns::GuardConfig guard;  // [rrl] and [cookies]
};

// Query types counted one by one for the metrics; the rest go to the last bucket.
inline constexpr size_t kQtypeBuckets = 14;
size_t qtype_bucket(uint16_t qtype) noexcept;

// Histograms of the query path, in the shape of CoreDNS's request duration and response size
// (a user's dashboards carry over). Bounds are upper bounds; a value above the last goes only
// in the count. Duration: from the query's bytes to its response's, in the handler (the
// socket's queueing is the kernel's). Size: the response's DNS message, without TCP's prefix.
inline constexpr double kDurationBounds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                             0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                             0.1,     0.25,     0.5,     1.0};
inline constexpr uint32_t kSizeBounds[] = {0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291,
                                           16000, 32000, 48000, 64000};
inline constexpr size_t kDurationBuckets = std::size(kDurationBounds) + 1;  // + the overflow
inline constexpr size_t kSizeBuckets = std::size(kSizeBounds) + 1;
enum class Transport : uint8_t { udp = 0, tcp = 1 };

// One histogram's raw buckets (not cumulative) and sum; single writer, relaxed readers.
template <size_t N>
struct RawHistogram {
  std::atomic<uint64_t> bucket[N] = {};
  std::atomic<uint64_t> sum{0};  // nanoseconds or bytes
};

// Counters a worker bumps on its own loop; read by anyone (relaxed). One writer each, so an
// increment is a plain load and store, not a locked read-modify-write.
struct WorkerStats {
  std::atomic<uint64_t> udp_queries{0}, tcp_queries{0}, truncated{0}, dropped{0};
  // TCP connections refused over a cap, closed to make room for a new one, and closed by a
  // deadline (idle, frame, or answers the client would not read).
  std::atomic<uint64_t> tcp_refused{0}, tcp_evicted{0}, tcp_timed_out{0};
  std::atomic<uint64_t> rcode[16] = {};
  std::atomic<uint64_t> qtype[kQtypeBuckets] = {};
  dns::GuardStats guard;  // rate limiting and cookies
  RawHistogram<kDurationBuckets> duration[2];  // by Transport
  RawHistogram<kSizeBuckets> size[2];
};

class Worker {
 public:
  // Takes ownership of the sockets (already bound; TCP ones listening).
  Worker(const WorkerOptions& opt, std::vector<int> udp_fds, std::vector<int> tcp_fds,
         Snapshot snapshot);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // From any thread: the next query this worker handles uses `snapshot`.
  void publish(Snapshot snapshot);
  // From any thread: closes everything and joins the thread.
  void stop();

  // Counters of the TCP loop and of each UDP thread (each has a single writer).
  std::vector<const WorkerStats*> stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  WorkerStats stats_;
  std::thread thread_;
};

}  // namespace gslb::daemon
