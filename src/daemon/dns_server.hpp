// The DNS workers, each with its own UDP and TCP sockets (SO_REUSEPORT, so the kernel spreads
// clients across workers). A worker runs one libuv loop for TCP, and one thread per UDP socket
// blocked in recvmmsg, which answers a batch of datagrams per system call with no event loop in
// between. A worker owns nothing mutable but its scratch, counters and connections; the
// snapshot it reads is immutable and replaced whole by publish().
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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

struct WorkerOptions {
  dns::HandlerOptions handler;
  core::Duration tcp_idle_timeout = std::chrono::seconds(10);
  unsigned tcp_max_connections = 1024;
  dns::GuardConfig guard;  // [rrl] and [cookies]
};

// Query types counted one by one for the metrics; the rest go to the last bucket.
inline constexpr size_t kQtypeBuckets = 14;
size_t qtype_bucket(uint16_t qtype) noexcept;

// Counters a worker bumps on its own loop; read by anyone (relaxed). One writer each, so an
// increment is a plain load and store, not a locked read-modify-write.
struct WorkerStats {
  std::atomic<uint64_t> udp_queries{0}, tcp_queries{0}, truncated{0}, dropped{0};
  std::atomic<uint64_t> rcode[16] = {};
  std::atomic<uint64_t> qtype[kQtypeBuckets] = {};
  dns::GuardStats guard;  // rate limiting and cookies
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
