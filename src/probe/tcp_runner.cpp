#include "probe/tcp_runner.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <optional>

#include "probe/http_exchange.hpp"

namespace gslb::probe {

// A plain-HTTP check's exchange on the connection: the request, then the response as it arrives.
struct TcpRunner::Http {
  std::string request;
  HttpResponse response;
  uv_write_t write{};
};

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
  std::unique_ptr<Http> http;  // null: a TCP connect check
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
  if (spec.type == Type::http)
    c->http = std::make_unique<Http>(Http{http_request(address, spec), HttpResponse(spec), {}});
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
  int r = 0;
  if (source_ && source_->family == address.family) {
    sockaddr_storage from{};
    core::Endpoint{*source_, 0}.to_sockaddr(from);
    r = uv_tcp_bind(&c->tcp, reinterpret_cast<const sockaddr*>(&from), 0);
  }
  if (r == 0) r = uv_tcp_connect(&c->req, &c->tcp, reinterpret_cast<const sockaddr*>(&sa), on_connect);
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
  if (status != 0) return c->owner->finish(c, socket_failure(status));
  if (!c->http) return c->owner->finish(c, Result{true, "connected", {}});
  // The request fits the socket buffer of a fresh connection; the response may come in pieces.
  uv_buf_t buf = uv_buf_init(c->http->request.data(), unsigned(c->http->request.size()));
  c->http->write.data = c;
  auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
  int r = uv_write(&c->http->write, stream, &buf, 1, [](uv_write_t* w, int st) {
    auto* c = static_cast<Check*>(w->data);
    if (c->owner && st != 0 && st != UV_ECANCELED) c->owner->finish(c, socket_failure(st));
  });
  if (r == 0) r = uv_read_start(stream, on_alloc, on_read);
  if (r != 0) c->owner->finish(c, socket_failure(r));
}

void TcpRunner::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  // Every read is handled before the next is allocated: one buffer serves every check.
  auto* self = static_cast<Check*>(handle->data)->owner;
  *buf = self ? uv_buf_init(self->read_buf_.data(), unsigned(self->read_buf_.size())) : uv_buf_init(nullptr, 0);
}

void TcpRunner::on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Check*>(stream->data);
  if (!c->owner || n == 0) return;
  if (n == UV_EOF) return c->owner->finish(c, c->http->response.end());
  if (n < 0) return c->owner->finish(c, socket_failure(int(n)));
  if (auto verdict = c->http->response.feed(std::string_view(buf->base, size_t(n))))
    c->owner->finish(c, std::move(*verdict));
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
