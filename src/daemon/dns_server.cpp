#include "daemon/dns_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/log.hpp"
#include "dns/axfr.hpp"

namespace gslb::daemon {

namespace {

constexpr int kBatch = 32;           // datagrams per recvmmsg/sendmmsg
constexpr size_t kUdpBuffer = 4096;
constexpr size_t kTcpMax = 65535;

struct UdpBatch {
  mmsghdr in[kBatch];
  iovec in_iov[kBatch];
  sockaddr_storage addr[kBatch];
  mmsghdr out[kBatch];
  iovec out_iov[kBatch];
  alignas(64) uint8_t in_buf[kBatch][kUdpBuffer];
  alignas(64) uint8_t out_buf[kBatch][kUdpBuffer];
};

core::IpAddress peer_address(const sockaddr_storage& ss) {
  core::IpAddress a;
  if (ss.ss_family == AF_INET) {
    a.family = core::IpAddress::Family::v4;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, 4);
  } else {
    a.family = core::IpAddress::Family::v6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, 16);
  }
  return a;
}

// Only this worker writes its counters.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

size_t qtype_bucket(uint16_t qtype) noexcept {
  switch (qtype) {
    case dns::rrtype::A: return 0;
    case dns::rrtype::NS: return 1;
    case dns::rrtype::CNAME: return 2;
    case dns::rrtype::SOA: return 3;
    case dns::rrtype::PTR: return 4;
    case dns::rrtype::MX: return 5;
    case dns::rrtype::TXT: return 6;
    case dns::rrtype::AAAA: return 7;
    case dns::rrtype::SRV: return 8;
    case dns::rrtype::DS: return 9;
    case 257: return 10;  // CAA
    case dns::rrtype::AXFR: return 11;
    case dns::rrtype::ANY: return 12;
    default: return 13;
  }
}

struct Conn;

struct Worker::Impl {
  Impl(Worker& w, const WorkerOptions& o) : worker(w), opt(o) {}

  Worker& worker;
  WorkerOptions opt;
  uv_loop_t loop{};
  uv_async_t wake{};
  std::mutex mu;
  std::optional<Snapshot> pending;                  // guarded by mu
  bool stopping = false;                            // guarded by mu
  Snapshot current;                                 // loop-owned
  dns::Answers answers;                             // views of `current`
  std::vector<uv_tcp_t*> listeners;
  std::vector<int> udp_fds, tcp_fds;
  std::unordered_set<Conn*> conns;
  uv_timer_t* grace = nullptr;  // while stopping: closes connections that take too long
  dns::Scratch scratch;
  dns::Guard tcp_guard{opt.guard, worker.stats_.guard, false};

  // UDP: one thread per socket, blocked in recvmmsg (no event loop between datagrams). They
  // take a new snapshot when `generation` moves.
  struct Udp {
    int fd;
    WorkerStats stats;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Udp>> udp;
  std::mutex snapshot_mu;
  Snapshot shared;                          // guarded by snapshot_mu
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> udp_stopping{false};
  std::vector<uint8_t> read_buf = std::vector<uint8_t>(64 * 1024);
  std::vector<uint8_t> tcp_out = std::vector<uint8_t>(kTcpMax + 2);
  std::string pending_out;

  void install(Snapshot s) {
    current = std::move(s);
    answers = dns::Answers{current.table.get(), current.overlay.get()};
  }
  void serve_udp(Udp& u);
  void on_connection(uv_stream_t* server);
  void handle_frames(Conn& c, const uint8_t* data, size_t len);
  void shutdown();
};

// One TCP client. Heap-owned; its two handles are closed together and it is freed when the
// second close callback runs.
struct Conn {
  uv_tcp_t tcp{};
  uv_timer_t idle{};
  Worker::Impl* w = nullptr;
  std::string in;       // an incomplete frame carried over between reads
  unsigned writes = 0;  // uv_write requests in flight
  int closed = 0;
  bool closing = false;
  bool eof = false;
  core::IpAddress peer;

  void close() {
    if (closing) return;
    closing = true;
    w->conns.erase(this);
    if (w->conns.empty() && w->grace) {
      uv_close(reinterpret_cast<uv_handle_t*>(w->grace),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      w->grace = nullptr;
    }
    auto done = [](uv_handle_t* h) {
      auto* c = static_cast<Conn*>(h->data);
      if (++c->closed == 2) delete c;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle), done);
  }
  void touch() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(w->opt.tcp_idle_timeout);
    uv_timer_start(&idle, [](uv_timer_t* t) { static_cast<Conn*>(t->data)->close(); },
                   uint64_t(ms.count()), 0);
  }
};

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
  Conn* conn;
};

// Sends what is buffered: directly when the socket takes it all, else through a uv_write that
// owns a copy of the rest.
void flush(Conn& c, std::string& out) {
  if (out.empty() || c.closing) return;
  uv_buf_t b = uv_buf_init(out.data(), unsigned(out.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c.tcp), &b, 1);
  size_t done = n > 0 ? size_t(n) : 0;
  if (n < 0 && n != UV_EAGAIN) {
    c.close();
    return;
  }
  if (done < out.size()) {
    auto* r = new WriteReq{{}, out.substr(done), &c};
    uv_buf_t rb = uv_buf_init(r->data.data(), unsigned(r->data.size()));
    ++c.writes;
    int rc = uv_write(&r->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &rb, 1,
                      [](uv_write_t* req, int status) {
                        auto* wr = reinterpret_cast<WriteReq*>(req);
                        Conn* conn = wr->conn;
                        delete wr;
                        --conn->writes;
                        if (status < 0 || (conn->eof && conn->writes == 0)) conn->close();
                      });
    if (rc != 0) {
      --c.writes;
      delete r;
      c.close();
    }
  }
  out.clear();
}

}  // namespace

// MSG_WAITFORONE: block for the first datagram, then take whatever else is queued, up to a
// batch. One sendmmsg answers the batch. On stop, shutdown(SHUT_RD) wakes the thread, which
// answers what is still queued and leaves.
void Worker::Impl::serve_udp(Udp& u) {
  auto batch = std::make_unique<UdpBatch>();
  UdpBatch& b = *batch;
  WorkerStats& st = u.stats;
  dns::Scratch local;
  local.pick.rng ^= reinterpret_cast<uintptr_t>(&u);  // threads pick independently
  dns::Guard guard(opt.guard, st.guard, true, [](std::string_view line) {
    core::log(core::Level::notice, line);
  });
  Snapshot cur;
  dns::Answers answers;
  uint64_t seen = ~uint64_t{0};
  bool draining = false;
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      b.in_iov[i] = {b.in_buf[i], kUdpBuffer};
      b.in[i].msg_hdr = msghdr{};
      b.in[i].msg_hdr.msg_name = &b.addr[i];
      b.in[i].msg_hdr.msg_namelen = sizeof b.addr[i];
      b.in[i].msg_hdr.msg_iov = &b.in_iov[i];
      b.in[i].msg_hdr.msg_iovlen = 1;
    }
    draining = draining || udp_stopping.load(std::memory_order_relaxed);
    const int n = ::recvmmsg(u.fd, b.in, kBatch, draining ? MSG_DONTWAIT : MSG_WAITFORONE, nullptr);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (draining) return;
      // 0: the socket was shut down for reading (stop); an error: keep serving unless stopping.
      if (n == 0 || udp_stopping.load(std::memory_order_relaxed)) draining = true;
      continue;
    }
    // After the wait, not before it: a query must see every snapshot published before it came.
    if (const uint64_t g = generation.load(std::memory_order_acquire); g != seen) {
      std::lock_guard lock(snapshot_mu);
      cur = shared;
      seen = generation.load(std::memory_order_relaxed);
      answers = dns::Answers{cur.table.get(), cur.overlay.get()};
    }
    int m = 0;
    const dns::Now now = dns::Now::read();
    for (int i = 0; i < n; ++i) {
      if (b.in[i].msg_hdr.msg_flags & MSG_TRUNC) {
        bump(st.dropped);
        continue;
      }
      dns::Outcome outcome;
      const core::IpAddress peer = peer_address(b.addr[i]);
      const dns::Client client{false, &peer, &guard, now};
      const size_t len = dns::answer(answers, opt.handler, {b.in_buf[i], b.in[i].msg_len},
                                     {b.out_buf[m], kUdpBuffer}, client, local, outcome);
      bump(st.udp_queries);
      if (local.q.has_question) bump(st.qtype[qtype_bucket(local.q.qtype)]);
      if (len == 0) {
        bump(st.dropped);
        continue;
      }
      bump(st.rcode[outcome.rcode & 15]);
      if (outcome.truncated) bump(st.truncated);
      b.out_iov[m] = {b.out_buf[m], len};
      b.out[m].msg_hdr = msghdr{};
      b.out[m].msg_hdr.msg_name = &b.addr[i];
      b.out[m].msg_hdr.msg_namelen = b.in[i].msg_hdr.msg_namelen;
      b.out[m].msg_hdr.msg_iov = &b.out_iov[m];
      b.out[m].msg_hdr.msg_iovlen = 1;
      ++m;
    }
    for (int sent = 0; sent < m;) {
      int k = ::sendmmsg(u.fd, b.out + sent, unsigned(m - sent), MSG_DONTWAIT);
      if (k <= 0) {
        // A full send buffer or an unreachable peer: UDP has no back-pressure, drop the rest.
        bump(st.dropped, uint64_t(m - sent));
        break;
      }
      sent += k;
    }
  }
}

void Worker::Impl::handle_frames(Conn& c, const uint8_t* data, size_t len) {
  WorkerStats& st = worker.stats_;
  size_t off = 0;
  while (len - off >= 2) {
    const size_t flen = size_t(data[off]) << 8 | data[off + 1];
    if (len - off - 2 < flen) break;
    std::span<const uint8_t> query(data + off + 2, flen);
    off += 2 + flen;
    dns::Outcome outcome;
    const dns::Client client{true, &c.peer, &tcp_guard, dns::Now::read()};
    size_t n = dns::answer(answers, opt.handler, query, {tcp_out.data() + 2, kTcpMax}, client,
                           scratch, outcome);
    bump(st.tcp_queries);
    if (scratch.q.has_question) bump(st.qtype[qtype_bucket(scratch.q.qtype)]);
    if (outcome.transfer_zone >= 0) {
      const dns::Zone& z = *answers.table->zones()[size_t(outcome.transfer_zone)];
      bool allowed = false;
      for (const auto& p : z.allow_transfer) allowed = allowed || p.contains(c.peer);
      if (allowed) {
        core::logf(core::Level::info, "event=axfr zone={} client={}", dns::name_to_text(z.apex),
                   c.peer.to_string());
        for (const auto& m : dns::transfer_messages(z, query, scratch.q)) {
          pending_out.push_back(char(m.size() >> 8));
          pending_out.push_back(char(m.size()));
          pending_out += m;
        }
        continue;
      }
      outcome.rcode = uint8_t(dns::Rcode::refused);
      n = dns::answer_error(query, scratch.q, opt.handler, {tcp_out.data() + 2, kTcpMax},
                            outcome.rcode, true);
    }
    if (n == 0) continue;
    bump(st.rcode[outcome.rcode & 15]);
    tcp_out[0] = uint8_t(n >> 8);
    tcp_out[1] = uint8_t(n);
    pending_out.append(reinterpret_cast<const char*>(tcp_out.data()), n + 2);
  }
  if (off < len) c.in.assign(reinterpret_cast<const char*>(data) + off, len - off);
  flush(c, pending_out);
}

void Worker::Impl::on_connection(uv_stream_t* server) {
  auto* c = new Conn;
  c->w = this;
  uv_tcp_init(&loop, &c->tcp);
  uv_timer_init(&loop, &c->idle);
  c->tcp.data = c;
  c->idle.data = c;
  conns.insert(c);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->close();
    return;
  }
  if (conns.size() > opt.tcp_max_connections) {
    c->close();  // over the limit: accepted only to be closed at once (RFC 7766 §6.2.2)
    return;
  }
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  c->peer = peer_address(ss);
  uv_tcp_nodelay(&c->tcp, 1);
  c->touch();
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(reinterpret_cast<char*>(conn->w->read_buf.data()),
                           unsigned(conn->w->read_buf.size()));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(s->data);
        if (nread < 0) {
          if (nread == UV_EOF && conn->writes > 0) {
            conn->eof = true;  // answer what is in flight, then close
            uv_read_stop(s);
          } else {
            conn->close();
          }
          return;
        }
        if (nread == 0) return;
        conn->touch();
        const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
        if (conn->in.empty()) {
          conn->w->handle_frames(*conn, data, size_t(nread));
        } else {
          std::string joined = std::move(conn->in);
          conn->in.clear();
          joined.append(buf->base, size_t(nread));
          conn->w->handle_frames(*conn, reinterpret_cast<const uint8_t*>(joined.data()),
                                 joined.size());
        }
      });
}

// SIGTERM (TCP side; the UDP threads drain their queues in stop()): stop accepting, let
// connections finish what they are writing (for up to kGrace), then close everything so the
// loop runs dry.
void Worker::Impl::shutdown() {
  constexpr uint64_t kGraceMs = 2000;
  auto free_handle = [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); };
  for (auto* l : listeners) uv_close(reinterpret_cast<uv_handle_t*>(l), free_handle);
  listeners.clear();
  for (Conn* c : std::vector<Conn*>(conns.begin(), conns.end())) {
    if (c->writes == 0) {
      c->close();
    } else {
      c->eof = true;  // closes itself when its last write completes
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    }
  }
  if (!conns.empty()) {
    grace = new uv_timer_t;
    uv_timer_init(&loop, grace);
    grace->data = this;
    uv_timer_start(grace, [](uv_timer_t* t) {
      auto* self = static_cast<Impl*>(t->data);
      for (Conn* c : std::vector<Conn*>(self->conns.begin(), self->conns.end())) c->close();
    }, kGraceMs, 0);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
}

Worker::Worker(const WorkerOptions& opt, std::vector<int> udp_fds, std::vector<int> tcp_fds,
               Snapshot snapshot)
    : impl_(std::make_unique<Impl>(*this, opt)) {
  impl_->udp_fds = std::move(udp_fds);
  impl_->tcp_fds = std::move(tcp_fds);
  impl_->shared = snapshot;
  impl_->install(std::move(snapshot));
  impl_->scratch.pick.rng ^= reinterpret_cast<uintptr_t>(this);  // workers pick independently
}

Worker::~Worker() {
  stop();
  for (int fd : impl_->udp_fds) ::close(fd);
}

void Worker::start() {
  Impl& w = *impl_;
  uv_loop_init(&w.loop);
  w.wake.data = &w;
  uv_async_init(&w.loop, &w.wake, [](uv_async_t* a) {
    auto* self = static_cast<Impl*>(a->data);
    std::lock_guard lock(self->mu);
    if (self->pending) self->install(std::move(*self->pending));
    self->pending.reset();
    if (self->stopping) self->shutdown();
  });
  for (int fd : w.udp_fds) {
    auto u = std::make_unique<Impl::Udp>();
    u->fd = fd;
    Impl::Udp* raw = u.get();
    // Blocking now: the thread waits in recvmmsg instead of in an event loop.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    raw->thread = std::thread([&w, raw] { w.serve_udp(*raw); });
    w.udp.push_back(std::move(u));
  }
  for (int fd : w.tcp_fds) {
    auto* t = new uv_tcp_t;
    uv_tcp_init(&w.loop, t);
    uv_tcp_open(t, fd);  // libuv owns the descriptor from here
    t->data = &w;
    uv_listen(reinterpret_cast<uv_stream_t*>(t), 1024, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<Impl*>(s->data)->on_connection(s);
    });
    w.listeners.push_back(t);
  }
  w.tcp_fds.clear();
  thread_ = std::thread([&w] {
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
  });
}

std::vector<const WorkerStats*> Worker::stats() const {
  std::vector<const WorkerStats*> out{&stats_};
  for (const auto& u : impl_->udp) out.push_back(&u->stats);
  return out;
}

void Worker::publish(Snapshot snapshot) {
  {
    std::lock_guard lock(impl_->snapshot_mu);
    impl_->shared = snapshot;
    impl_->generation.fetch_add(1, std::memory_order_release);
  }
  if (!thread_.joinable()) {  // not started: nothing reads it yet
    impl_->install(std::move(snapshot));
    return;
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->pending = std::move(snapshot);
  }
  uv_async_send(&impl_->wake);
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  // UDP first: each thread answers what is queued, then leaves.
  impl_->udp_stopping.store(true);
  for (auto& u : impl_->udp) ::shutdown(u->fd, SHUT_RD);
  for (auto& u : impl_->udp) u->thread.join();
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  uv_async_send(&impl_->wake);
  thread_.join();
}

}  // namespace gslb::daemon
