#include "daemon/client.hpp"

#include <chrono>

#include "core/log.hpp"

namespace gslb::daemon {

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
};

uint64_t to_ms(core::Duration d) {
  return uint64_t(std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(d).count()));
}

}  // namespace

void count_refusal(uv_loop_t* loop, const char* listener, const char* reason, size_t open,
                   ListenerStats& stats, Burst& burst) {
  ++stats.refused;
  if (uint64_t n = burst.hit(uv_now(loop)))
    core::logf(core::Level::warning, "event=connection-refused listener={} reason={} open={} refused={}",
               listener, reason, open, n);
}

void refuse(uv_stream_t* server, const char* listener, const char* reason, size_t open,
            ListenerStats& stats, Burst& burst) {
  // libuv has already accepted the socket (it holds it until uv_accept): take it into a handle
  // of our own and close that. Leaving it there would stop the listener altogether.
  auto* h = new uv_any_handle;
  if (server->type == UV_TCP)
    uv_tcp_init(server->loop, &h->tcp);
  else
    uv_pipe_init(server->loop, &h->pipe, 0);
  uv_accept(server, reinterpret_cast<uv_stream_t*>(h));
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* c) { delete reinterpret_cast<uv_any_handle*>(c); });
  count_refusal(server->loop, listener, reason, open, stats, burst);
}

void refuse(Client* client, const char* listener, const char* reason, size_t open,
            ListenerStats& stats, Burst& burst) {
  --stats.accepted;
  client->close();
  count_refusal(client->stream()->loop, listener, reason, open, stats, burst);
}

Client::Client(uv_loop_t* loop, bool tcp, const ClientLimits& limits, ListenerStats& stats)
    : stats_(stats), limits_(limits) {
  if (tcp)
    uv_tcp_init(loop, &handle_.tcp);
  else
    uv_pipe_init(loop, &handle_.pipe, 0);
  handle_.tcp.data = this;  // `data` is the first field of every handle
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  open_handles_ = 2;
}

bool Client::accept(uv_stream_t* server) {
  if (uv_accept(server, stream()) != 0) {
    close();
    return false;
  }
  ++stats_.accepted;
  // The deadline runs from connect and reads do not move it: a client that sends one byte a
  // second gets exactly as long as one that sends nothing.
  arm();
  uv_read_start(
      stream(),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
        auto* self = static_cast<Client*>(st->data);
        if (n > 0 && !self->closing_) self->received(buf->base, size_t(n));
        delete[] buf->base;
        if (n < 0) self->close();  // EOF or error: the client went away
      });
  return true;
}

void Client::arm() {
  uv_timer_start(&timer_, [](uv_timer_t* t) {
    auto* self = static_cast<Client*>(t->data);
    ++self->stats_.timed_out;
    self->close();
  }, to_ms(limits_.idle_timeout), 0);
}

void Client::disarm() { uv_timer_stop(&timer_); }

size_t Client::queued() const noexcept {
  return reinterpret_cast<const uv_stream_t*>(&handle_)->write_queue_size;
}

bool Client::send(std::string data, bool then_close) {
  if (closing_) return false;
  auto* w = new WriteReq{{}, std::move(data)};
  w->req.data = this;
  uv_buf_t b = uv_buf_init(w->data.data(), unsigned(w->data.size()));
  ++writes_;
  int rc = uv_write(&w->req, stream(), &b, 1, [](uv_write_t* req, int status) {
    auto* self = static_cast<Client*>(req->data);
    delete reinterpret_cast<WriteReq*>(req);
    --self->writes_;
    if (status < 0 || (self->close_after_writes_ && self->writes_ == 0)) self->close();
  });
  if (rc != 0) {
    --writes_;
    delete w;
    close();
    return false;
  }
  // uv_write sends what the socket takes at once; the rest waits in the queue, in our memory.
  // A stream (a follower) is bounded by max_output; a final reply is one finite piece whose
  // reading the deadline bounds, so a long `status` is not cut off.
  if (!then_close && queued() > limits_.max_output + extra_output_) {
    ++stats_.overflowed;
    overflowed();
    close();
    return false;
  }
  if (then_close && !close_after_writes_) {
    close_after_writes_ = true;
    arm();  // the reply must be read within idle_timeout, like the request had to arrive
  }
  return true;
}

void Client::close() {
  if (closing_) return;
  closing_ = true;
  closed();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void Client::on_close(uv_handle_t* h) {
  auto* self = static_cast<Client*>(h->data);
  if (--self->open_handles_ == 0) delete self;
}

}  // namespace gslb::daemon
