// libuv handles owned like C++ objects. libuv may touch a handle until its close callback has
// run, so the handle lives on the heap and is freed there; the owner can go at any time (its
// destructor calls uv_close and forgets the handle). The callback is set once, at construction:
// starting a timer allocates nothing.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <utility>

namespace gslb::io {

template <typename UvHandle>
class Handle {
 public:
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : box_(std::exchange(o.box_, nullptr)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      close();
      box_ = std::exchange(o.box_, nullptr);
    }
    return *this;
  }
  ~Handle() { close(); }

  explicit operator bool() const noexcept { return box_ != nullptr; }
  // Closes the handle now: libuv runs none of its callbacks after uv_close, and frees it (with
  // `fn`) in the close callback, so a handle may close itself from its own callback. Idempotent.
  void close() noexcept {
    if (!box_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&box_->uv),
             [](uv_handle_t* h) { delete static_cast<Box*>(h->data); });
    box_ = nullptr;
  }

 protected:
  struct Box {
    UvHandle uv;
    std::function<void()> fn;
  };
  static void call(UvHandle* h) {
    auto* box = static_cast<Box*>(h->data);
    if (box->fn) box->fn();
  }
  Box* make(std::function<void()> fn) {
    close();
    box_ = new Box{};
    box_->uv.data = box_;
    box_->fn = std::move(fn);
    return box_;
  }
  Box* box_ = nullptr;
};

// A timer; `fn` runs on the loop each time it fires.
class Timer : public Handle<uv_timer_t> {
 public:
  Timer() = default;
  Timer(uv_loop_t* loop, std::function<void()> fn) {
    uv_timer_init(loop, &make(std::move(fn))->uv);
  }
  void start(uint64_t timeout_ms, uint64_t repeat_ms = 0) {
    if (box_) uv_timer_start(&box_->uv, [](uv_timer_t* t) { call(t); }, timeout_ms, repeat_ms);
  }
  void stop() {
    if (box_) uv_timer_stop(&box_->uv);
  }
  bool active() const noexcept {
    return box_ && uv_is_active(reinterpret_cast<const uv_handle_t*>(&box_->uv));
  }
};

// A wake-up from another thread: send() is the one call that is safe off the loop (libuv
// coalesces sends that arrive before `fn` runs).
class Async : public Handle<uv_async_t> {
 public:
  Async() = default;
  Async(uv_loop_t* loop, std::function<void()> fn) {
    uv_async_init(loop, &make(std::move(fn))->uv, [](uv_async_t* a) { call(a); });
  }
  uv_async_t* raw() noexcept { return box_ ? &box_->uv : nullptr; }
};

// A signal watcher; `fn` runs on the loop when `signum` arrives.
class Signal : public Handle<uv_signal_t> {
 public:
  Signal() = default;
  Signal(uv_loop_t* loop, int signum, std::function<void()> fn) {
    uv_signal_init(loop, &make(std::move(fn))->uv);
    uv_signal_start(&box_->uv, [](uv_signal_t* s, int) { call(s); }, signum);
  }
};

}  // namespace gslb::io
