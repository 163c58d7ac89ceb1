// One immutable value handed from a writer to many reader threads: the writer publishes a new
// shared_ptr, each reader keeps its own copy and refreshes it when the generation moved. A read
// that finds nothing new costs one atomic load; a refresh takes a short lock to copy the
// pointer. The DNS workers' UDP threads and TCP loops read their snapshots through it, and so
// does every picking thread of a gslb::route cluster: std only, installed with the library.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace gslb {

template <class T>
class Published {
 public:
  // A reader's own copy; use one per thread.
  struct Reader {
    uint64_t seen = ~uint64_t{0};
    std::shared_ptr<const T> value;
  };

  // Any thread: every read that starts after this returns sees `value` (or a newer one).
  void publish(std::shared_ptr<const T> value) {
    std::lock_guard lock(mu_);
    value_ = std::move(value);
    generation_.fetch_add(1, std::memory_order_release);
  }

  // The value last published (the writer's view, e.g. to build the next one from it).
  std::shared_ptr<const T> current() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  // Brings `r` up to date; true when its value changed. The old value is released here, by
  // the reader, not by the writer.
  bool refresh(Reader& r) const {
    if (generation_.load(std::memory_order_acquire) == r.seen) return false;
    std::lock_guard lock(mu_);
    r.value = value_;
    r.seen = generation_.load(std::memory_order_relaxed);
    return true;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};
};

}  // namespace gslb
