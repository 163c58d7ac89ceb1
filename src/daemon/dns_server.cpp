#include "daemon/dns_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>


#include <gslb/published.hpp>

#include "core/log.hpp"
#include "daemon/transfers.hpp"
#include "dns/table.hpp"

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

// One answered query in the duration and size histograms.
void observe(WorkerStats& st, Transport t, std::chrono::steady_clock::duration took, size_t bytes) noexcept {
  const auto ns = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
  const double secs = double(ns) / 1e9;
  size_t d = 0;
  while (d < std::size(kDurationBounds) && secs > kDurationBounds[d]) ++d;
  auto& dh = st.duration[size_t(t)];
  bump(dh.bucket[d]);
  bump(dh.sum, ns);
  size_t z = 0;
  while (z < std::size(kSizeBounds) && bytes > kSizeBounds[z]) ++z;
  auto& sh = st.size[size_t(t)];
  bump(sh.bucket[z]);
  bump(sh.sum, bytes);
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
  bool stopping = false;                            // guarded by mu
  gslb::Published<Snapshot> published;              // what every thread of this worker reads
  gslb::Published<Snapshot>::Reader current;        // the TCP loop's copy
  dns::Answers answers;                             // views of `current`
  std::vector<uv_tcp_t*> listeners;
  std::vector<int> udp_fds, tcp_fds;
  std::unordered_set<Conn*> conns;
  uv_timer_t* grace = nullptr;  // while stopping: closes connections that take too long
  uint64_t accepted = 0;
  dns::Scratch scratch;
  // Per refusal reason: uv_now of its last "tcp-refused" line, and refusals since then.
  std::unordered_map<std::string_view, std::pair<uint64_t, uint64_t>> refusals;
  dns::Guard tcp_guard{opt.guard, worker.stats_.guard, false};

  // UDP: one thread per socket, blocked in recvmmsg (no event loop between datagrams). Each
  // refreshes its own copy of `published` after each wait.
  struct Udp {
    int fd;
    WorkerStats stats;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Udp>> udp;
  std::atomic<bool> udp_stopping{false};
  std::vector<uint8_t> read_buf = std::vector<uint8_t>(64 * 1024);
  std::vector<uint8_t> tcp_out = std::vector<uint8_t>(kTcpMax + 2);

  WorkerStats& tcp_stats() { return worker.stats_; }  // written by this loop only
  // The TCP loop's answers follow `published`: checked per query, and on the async nudge that
  // publish() sends, so an old snapshot is let go promptly even without TCP traffic.
  void refresh() {
    if (published.refresh(current))
      answers = dns::Answers{current.value->table.get(), current.value->overlay.get()};
  }
  void serve_udp(Udp& u);
  void on_connection(uv_stream_t* server);
  void refused(const core::IpAddress* peer, const char* why);
  Conn* least_progress() const;
  void answer_frame(Conn& c, std::span<const uint8_t> query);
  void shutdown();
};

// One TCP client, owned by its worker's loop. Everything queued for it lives here, so it dies
// with the connection: nothing a client asked for can reach another. Heap-owned; its two
// handles are closed together and it is freed when the second close callback runs (libuv
// cancels a write in flight before that).
struct Conn {
  uv_tcp_t tcp{};
  uv_timer_t timer{};      // the nearest of the idle and frame deadlines
  uv_write_t write_req{};  // at most one write in flight, of `sending`
  Worker::Impl* w = nullptr;
  core::IpAddress peer;
  bool holds_source = false;  // counted in opt.sources
  std::string in;       // received, not yet answered: a partial frame, or frames held back
  std::string out;      // answers queued behind the write in flight
  std::string sending;  // the bytes of the write in flight
  // A zone transfer being produced as the output drains, and the table that owns its zone.
  std::optional<dns::TransferStream> transfer;
  std::shared_ptr<const dns::AnswerTable> transfer_table;
  uint64_t last_active = 0;  // uv_now of the last complete query or completed write
  uint64_t frame_start = 0;  // uv_now when the incomplete frame in `in` began; 0 = none
  uint64_t armed = 0;        // the deadline the timer is set for
  uint64_t serial = 0;       // accept order, to break ties between equal times
  bool reading = false, writing = false, eof = false, closing = false;
  int closed = 0;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }
  size_t queued() const { return out.size() + sending.size(); }
  // True when `in` starts with a whole frame.
  bool frame_ready() const {
    return in.size() >= 2 &&
           in.size() - 2 >= (size_t(uint8_t(in[0])) << 8 | uint8_t(in[1]));
  }

  void close() {
    if (closing) return;
    closing = true;
    w->conns.erase(this);
    if (holds_source) w->opt.sources->release(peer);
    transfer.reset();
    transfer_table.reset();
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
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), done);
  }

  void pump();
  void produce(size_t limit);
  void start_write();
  void arm();
};

namespace {

uint64_t ms(core::Duration d) {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(h->data);
  *buf = uv_buf_init(reinterpret_cast<char*>(c->w->read_buf.data()),
                     unsigned(c->w->read_buf.size()));
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  if (nread == UV_EOF) {
    c->eof = true;  // answer the whole frames already here, then close (RFC 7766 §6.2.4)
  } else if (nread < 0) {
    c->close();
    return;
  } else {
    c->in.append(buf->base, size_t(nread));
  }
  c->pump();
}

}  // namespace

// Answers what can be answered without holding more than the output limit, keeps a transfer
// going, writes, reads only while there is room, and sets the next deadline.
void Conn::pump() {
  if (closing) return;
  const size_t limit = w->opt.tcp_max_output;
  for (;;) {
    produce(limit);
    if (!closing) start_write();
    if (closing) return;
    // When the kernel took everything, go on while there is more to produce: nothing else
    // would come back to it.
    if (queued() != 0 || !(transfer || frame_ready())) break;
  }
  // Read only with room for the answers: a client that does not read its answers stops being
  // read, and a partial frame never grows past one frame plus one read.
  const bool want = !eof && !transfer && queued() < limit && !frame_ready();
  if (want && !reading) {
    uv_read_start(stream(), on_alloc, on_read);
  } else if (!want && reading) {
    uv_read_stop(stream());
  }
  reading = want;
  if (eof && queued() == 0 && !transfer && !frame_ready()) {
    close();
    return;
  }
  arm();
}

// Answers whole frames and adds transfer messages while the output is under `limit`.
void Conn::produce(size_t limit) {
  const uint64_t now = uv_now(&w->loop);
  size_t off = 0;
  while (queued() < limit) {
    if (transfer) {
      if (!transfer->next(out)) {
        transfer.reset();
        transfer_table.reset();
      }
      continue;
    }
    if (in.size() - off < 2) break;
    const size_t flen = size_t(uint8_t(in[off])) << 8 | uint8_t(in[off + 1]);
    if (in.size() - off - 2 < flen) break;
    if (flen < dns::kHeaderSize) {  // not a DNS message: the stream cannot be trusted after it
      bump(w->tcp_stats().dropped);
      close();
      return;
    }
    w->answer_frame(*this, {reinterpret_cast<const uint8_t*>(in.data()) + off + 2, flen});
    off += 2 + flen;
    last_active = now;
    frame_start = 0;
  }
  in.erase(0, off);
  if (in.empty() || frame_ready()) frame_start = 0;
  else if (frame_start == 0) frame_start = now;
}

void Conn::start_write() {
  if (writing || out.empty()) return;
  uv_buf_t b = uv_buf_init(out.data(), unsigned(out.size()));
  const int n = uv_try_write(stream(), &b, 1);
  if (n < 0 && n != UV_EAGAIN) {
    close();
    return;
  }
  const size_t done = n > 0 ? size_t(n) : 0;
  if (done > 0) last_active = uv_now(&w->loop);
  if (done == out.size()) {
    out.clear();
    return;
  }
  sending.assign(out, done);
  out.clear();
  writing = true;
  write_req.data = this;
  b = uv_buf_init(sending.data(), unsigned(sending.size()));
  const int rc = uv_write(&write_req, stream(), &b, 1, [](uv_write_t* req, int status) {
    auto* c = static_cast<Conn*>(req->data);
    c->writing = false;
    c->sending.clear();
    if (c->closing) return;  // cancelled by close()
    if (status < 0) {
      c->close();
      return;
    }
    c->last_active = uv_now(&c->w->loop);
    c->pump();
  });
  if (rc != 0) {
    writing = false;
    close();
  }
}

void Conn::arm() {
  uint64_t deadline = last_active + ms(w->opt.tcp_idle_timeout);
  if (frame_start) deadline = std::min(deadline, frame_start + ms(w->opt.tcp_frame_timeout));
  if (deadline == armed) return;
  armed = deadline;
  const uint64_t now = uv_now(&w->loop);
  uv_timer_start(&timer, [](uv_timer_t* t) {
    // Every change of a deadline re-arms the timer, so firing means the nearest has passed.
    auto* c = static_cast<Conn*>(t->data);
    bump(c->w->tcp_stats().tcp_timed_out);
    c->close();
  }, deadline > now ? deadline - now : 0, 0);
}

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
  gslb::Published<Snapshot>::Reader cur;
  dns::Answers answers;
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
    if (published.refresh(cur)) answers = dns::Answers{cur.value->table.get(), cur.value->overlay.get()};
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
      const auto began = std::chrono::steady_clock::now();
      size_t len = dns::answer(answers, opt.handler, {b.in_buf[i], b.in[i].msg_len},
                               {b.out_buf[m], kUdpBuffer}, client, local, outcome);
      if (outcome.transfer_zone >= 0)
        len = answer_udp_ixfr(*answers.table->zones()[size_t(outcome.transfer_zone)],
                              {b.in_buf[i], b.in[i].msg_len}, local.q, peer, opt.handler,
                              {b.out_buf[m], kUdpBuffer}, outcome);
      bump(st.udp_queries);
      if (local.q.has_question) bump(st.qtype[qtype_bucket(local.q.qtype)]);
      if (len == 0) {
        bump(st.dropped);
        continue;
      }
      bump(st.rcode[outcome.rcode & 15]);
      if (outcome.truncated) bump(st.truncated);
      observe(st, Transport::udp, std::chrono::steady_clock::now() - began, len);
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

void Worker::Impl::answer_frame(Conn& c, std::span<const uint8_t> query) {
  refresh();  // one atomic load when nothing new was published
  WorkerStats& st = worker.stats_;
  dns::Outcome outcome;
  const dns::Client client{true, &c.peer, &tcp_guard, dns::Now::read()};
  const auto began = std::chrono::steady_clock::now();
  size_t n = dns::answer(answers, opt.handler, query, {tcp_out.data() + 2, kTcpMax}, client,
                         scratch, outcome);
  bump(st.tcp_queries);
  if (scratch.q.has_question) bump(st.qtype[qtype_bucket(scratch.q.qtype)]);
  if (outcome.transfer_zone >= 0) {
    const auto& zone = answers.table->zones()[size_t(outcome.transfer_zone)];
    const TransferGrant g = grant_transfer(*zone, query, scratch.q, c.peer, false);
    if (g.allowed) {
      // The transfer reads the zone of this snapshot to its end, whatever is published meanwhile.
      c.transfer.emplace(g.stream(*zone, query, scratch.q, g.plan));
      c.transfer_table = current.value->table;
      return;
    }
    outcome.rcode = g.rcode;
    n = dns::answer_error(query, scratch.q, opt.handler, {tcp_out.data() + 2, kTcpMax},
                          outcome.rcode, true);
  }
  if (n == 0) return;
  bump(st.rcode[outcome.rcode & 15]);
  observe(st, Transport::tcp, std::chrono::steady_clock::now() - began, n);
  tcp_out[0] = uint8_t(n >> 8);
  tcp_out[1] = uint8_t(n);
  c.out.append(reinterpret_cast<const char*>(tcp_out.data()), n + 2);
}

// Refusals are logged at most once every 10 s per worker, with the count since the last line:
// a flood must not become a flood of log lines.
void Worker::Impl::refused(const core::IpAddress* peer, const char* why) {
  bump(worker.stats_.tcp_refused);
  auto& [logged_at, unlogged] = refusals[why];
  ++unlogged;
  const uint64_t now = uv_now(&loop);
  if (logged_at != 0 && now - logged_at < 10000) return;
  core::logf(core::Level::warning, "event=tcp-refused reason={} client={} refused={}", why,
             peer ? peer->to_string() : "-", unlogged);
  logged_at = now;
  unlogged = 0;
}

// The connection that has gone longest without progress (a whole query received or a write
// completed): an idle client, a trickle that never finishes a frame, a client that does not
// read its answers. None that progressed within the last 100 ms: a busy server refuses the
// newcomer rather than churn.
Conn* Worker::Impl::least_progress() const {
  constexpr uint64_t kMinStallMs = 100;
  const uint64_t now = uv_now(&loop);
  Conn* best = nullptr;
  for (Conn* c : conns)
    if (!c->closing && now - c->last_active >= kMinStallMs &&
        (!best || std::pair(c->last_active, c->serial) < std::pair(best->last_active, best->serial)))
      best = c;
  return best;
}

void Worker::Impl::on_connection(uv_stream_t* server) {
  auto* c = new Conn;
  c->w = this;
  uv_tcp_init(&loop, &c->tcp);
  uv_timer_init(&loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->last_active = uv_now(&loop);
  c->serial = ++accepted;
  if (uv_accept(server, c->stream()) != 0) {
    conns.insert(c);
    c->close();
    return;
  }
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  c->peer = peer_address(ss);
  conns.insert(c);
  // Over a cap the connection is accepted only to be closed at once (RFC 7766 §6.2.2), so the
  // listen queue never fills behind it.
  if (opt.sources && !opt.sources->acquire(c->peer)) {
    refused(&c->peer, "per-source-limit");
    c->close();
    return;
  }
  c->holds_source = opt.sources != nullptr;
  if (conns.size() > opt.tcp_max_connections) {
    // Full: the client that has stalled longest makes room (RFC 7766 §6.2.3), so clients
    // that hold connections without asking or reading cannot keep new ones out.
    if (Conn* old = least_progress(); old && old != c) {
      bump(worker.stats_.tcp_evicted);
      old->close();
    } else {
      refused(&c->peer, "connection-limit");
      c->close();
      return;
    }
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->pump();
}

// SIGTERM (TCP side; the UDP threads drain their queues in stop()): stop accepting and reading,
// let connections finish writing the answers already made (for up to kGrace), then close
// everything so the loop runs dry.
void Worker::Impl::shutdown() {
  constexpr uint64_t kGraceMs = 2000;
  auto free_handle = [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); };
  for (auto* l : listeners) uv_close(reinterpret_cast<uv_handle_t*>(l), free_handle);
  listeners.clear();
  for (Conn* c : std::vector<Conn*>(conns.begin(), conns.end())) {
    c->in.clear();
    c->transfer.reset();
    c->transfer_table.reset();
    c->eof = true;
    c->pump();  // closes it now if nothing is queued
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

std::string SourceLimit::key(const core::IpAddress& peer) {
  // An IPv6 host usually owns a /64; counting its addresses one by one would be no limit.
  return std::string(reinterpret_cast<const char*>(peer.bytes.data()), peer.is_v4() ? 4 : 8);
}

bool SourceLimit::acquire(const core::IpAddress& peer) {
  std::lock_guard lock(mu_);
  unsigned& n = held_[key(peer)];
  if (max_ != 0 && n >= max_) {
    if (n == 0) held_.erase(key(peer));
    return false;
  }
  ++n;
  return true;
}

void SourceLimit::release(const core::IpAddress& peer) {
  std::lock_guard lock(mu_);
  auto it = held_.find(key(peer));
  if (it != held_.end() && --it->second == 0) held_.erase(it);
}

Worker::Worker(const WorkerOptions& opt, std::vector<int> udp_fds, std::vector<int> tcp_fds,
               Snapshot snapshot)
    : impl_(std::make_unique<Impl>(*this, opt)) {
  impl_->udp_fds = std::move(udp_fds);
  impl_->tcp_fds = std::move(tcp_fds);
  impl_->published.publish(std::make_shared<const Snapshot>(std::move(snapshot)));
  impl_->refresh();
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
    self->refresh();
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
      auto* self = static_cast<Impl*>(s->data);
      if (status == 0) {
        self->on_connection(s);
      } else {
        // gslbd's own failure (EMFILE, ENFILE, ENOBUFS): libuv has already shed the waiting
        // client. Logged as ours, rate-limited like every refusal.
        self->refused(nullptr, uv_err_name(status));
      }
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
  impl_->published.publish(std::make_shared<const Snapshot>(std::move(snapshot)));
  if (!thread_.joinable()) {  // not started: nothing reads it yet
    impl_->refresh();
    return;
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
