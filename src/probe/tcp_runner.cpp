#include "probe/tcp_runner.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

namespace gslb::probe {

struct TcpRunner::Check {
  TcpRunner* owner = nullptr;  // null once finished or cancelled: late callbacks then do nothing
  CheckId id = 0;
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  uv_connect_t req{};
  int open_handles = 0;
  // A connect() that failed at once (ENETUNREACH, ...) is reported from the timer, so `done`
  // never runs inside start().
  int early_error = 0;
  uint64_t start_ns = 0;
  core::Duration timeout{};
  Done done;
};

core::Result<CheckId> TcpRunner::start(const core::IpAddress& address, const Spec& spec,
                                       Done done) {
  auto owned = std::make_unique<Check>();
  Check* c = owned.get();
  c->owner = this;
  c->id = next_id_++;
  c->timeout = spec.timeout;
  c->done = std::move(done);
  c->start_ns = uv_hrtime();
  if (int r = uv_tcp_init(loop_, &c->tcp); r != 0)
    return core::Error{"", 0, 0, fmt::format("uv_tcp_init: {}", uv_strerror(r))};
  c->tcp.data = c;
  c->open_handles = 1;
  uv_timer_init(loop_, &c->timer);  // cannot fail on Unix
  c->timer.data = c;
  c->open_handles = 2;
  owned.release();  // from here on freed by on_close
  checks_.emplace(c->id, c);

  sockaddr_storage sa{};
  core::Endpoint{address, spec.port}.to_sockaddr(sa);
  c->req.data = c;
  int r = uv_tcp_connect(&c->req, &c->tcp, reinterpret_cast<const sockaddr*>(&sa), on_connect);
  uint64_t ms = uint64_t(std::chrono::ceil<std::chrono::milliseconds>(spec.timeout).count());
  if (r != 0) {
    c->early_error = r;
    ms = 0;
  }
  uv_timer_start(&c->timer, on_timer, ms, 0);
  return c->id;
}

void TcpRunner::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Check*>(req->data);
  if (!c->owner) return;  // UV_ECANCELED from our own uv_close
  c->owner->finish(c, status == 0 ? Result{true, "connected", {}} : socket_failure(status));
}

void TcpRunner::on_timer(uv_timer_t* timer) {
  auto* c = static_cast<Check*>(timer->data);
  if (!c->owner) return;
  // The socket is created inside uv_tcp_connect, so EMFILE shows up here, as a local error.
  c->owner->finish(c, c->early_error ? socket_failure(c->early_error)
                                     : Result{false, timeout_reason(c->timeout), {}});
}

void TcpRunner::finish(Check* c, Result result) {
  result.latency = std::chrono::nanoseconds(uv_hrtime() - c->start_ns);
  Done done = std::move(c->done);
  release(c);
  done(result);
}

void TcpRunner::release(Check* c) {
  checks_.erase(c->id);
  c->owner = nullptr;
  uv_timer_stop(&c->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_close);
}

void TcpRunner::on_close(uv_handle_t* handle) {
  auto* c = static_cast<Check*>(handle->data);
  if (--c->open_handles == 0) delete c;
}

void TcpRunner::cancel(CheckId id) {
  auto it = checks_.find(id);
  if (it != checks_.end()) release(it->second);
}

void TcpRunner::close() {
  while (!checks_.empty()) release(checks_.begin()->second);
}

}  // namespace gslb::probe
