// The I/O half of gslb-route-follow: a thread with a blocking Unix socket to gslbd's control
// socket, woken for shutdown through a pipe.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include <gslb/follow.hpp>

namespace gslb::follow {

namespace {

// A line longer than this is not gslbd's (its lines are a few hundred bytes): reconnect.
constexpr size_t kMaxLine = 64 * 1024;

}  // namespace

struct Follower::Impl {
  Sink sink;
  FollowOptions options;
  VerdictTable table;
  int wake[2] = {-1, -1};  // written once, at destruction
  mutable std::mutex mu;   // guards stats
  FollowStats stats;
  std::thread thread;

  Impl(Sink s, FollowOptions o) : sink(std::move(s)), options(std::move(o)), table(options.probe) {}

  void notify(Notice n) {
    if (options.on_notice) options.on_notice(n);
  }
  void notify(Notice::Kind kind, std::string text = {}) {
    Notice n;
    n.kind = kind;
    n.text = std::move(text);
    notify(std::move(n));
  }
  template <class F>
  void count(F f) {
    std::lock_guard lock(mu);
    f(stats);
  }

  // Waits up to `ms` (forever when negative) for `fd` to be readable; false once told to stop.
  bool wait(int fd, int ms) {
    pollfd p[2] = {{wake[0], POLLIN, 0}, {fd, POLLIN, 0}};
    for (;;) {
      int rc = ::poll(p, fd >= 0 ? 2 : 1, ms);
      if (rc < 0 && errno == EINTR) continue;
      return !(p[0].revents & POLLIN);
    }
  }

  int connect_gslbd(std::string* why) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (options.socket_path.size() >= sizeof sa.sun_path) {
      *why = "socket path too long";
      return -1;
    }
    std::memcpy(sa.sun_path, options.socket_path.c_str(), options.socket_path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      *why = std::string("connect ") + options.socket_path + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return -1;
    }
    static constexpr char kRequest[] = "verdicts\t--follow\n";
    if (::send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) != ssize_t(sizeof kRequest - 1)) {
      *why = std::string("send: ") + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void handle(std::string_view text) {
    std::string error;
    auto line = parse_line(text, &error);
    if (!line) {
      count([](FollowStats& s) { ++s.bad_lines; });
      notify(Notice::Kind::kBadLine, error + ": " + std::string(text.substr(0, 200)));
      return;
    }
    std::vector<HealthChange> changes;
    if (line->type == Line::Type::kState) {
      count([](FollowStats& s) { ++s.verdicts; });
      if (auto c = table.record(line->verdict)) changes.push_back(std::move(*c));
    } else if (line->type == Line::Type::kSynced) {
      changes = table.end_snapshot();
      count([](FollowStats& s) { ++s.syncs; s.synced = true; });
      notify(Notice::Kind::kSynced);
    }
    for (const auto& c : changes) {
      size_t n = sink(c);
      count([](FollowStats& s) { ++s.health_changes; });
      notify({Notice::Kind::kHealth,
              line->type == Line::Type::kState ? line->verdict.reason : "no longer checked by gslbd",
              c.address, c.health, n});
    }
  }

  // One connection, until it ends (false: told to stop). Sets `synced` once past the snapshot.
  bool session(int fd, bool& synced, std::string* why) {
    std::string buf;
    bool status_seen = false;
    char chunk[16384];
    for (;;) {
      if (!wait(fd, -1)) return false;
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *why = n == 0 ? "gslbd closed the connection" : std::string("recv: ") + std::strerror(errno);
        return true;
      }
      buf.append(chunk, size_t(n));
      size_t start = 0;
      for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view text(buf.data() + start, nl - start);
        if (!status_seen) {
          // The control protocol's status line: 0, or an error whose text follows.
          if (text != "0") {
            *why = "gslbd refused the verdicts request (an older gslbd?): " + std::string(buf.substr(nl + 1, 200));
            return true;
          }
          status_seen = true;
          table.begin_snapshot();
          count([](FollowStats& s) { ++s.connects; });
          notify(Notice::Kind::kConnected);
          continue;
        }
        handle(text);
        synced = synced || stats_synced();
      }
      buf.erase(0, start);
      if (buf.size() > kMaxLine) {
        *why = "line too long";
        return true;
      }
    }
  }

  bool stats_synced() {
    std::lock_guard lock(mu);
    return stats.synced;
  }

  void run() {
    auto backoff = options.min_backoff;
    for (;;) {
      std::string why;
      int fd = connect_gslbd(&why);
      bool synced = false;
      if (fd >= 0) {
        const bool go_on = session(fd, synced, &why);
        ::close(fd);
        count([](FollowStats& s) { s.synced = false; });
        if (!go_on) return;
      }
      // The last verdicts stay in force while gslbd is away.
      notify(Notice::Kind::kDisconnected, why);
      if (synced) backoff = options.min_backoff;
      if (!wait(-1, int(backoff.count()))) return;
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
};

Follower::Follower(route::Cluster& cluster, FollowOptions options)
    : Follower([&cluster](const HealthChange& c) { return apply(cluster, c); }, std::move(options)) {}

Follower::Follower(Sink sink, FollowOptions options)
    : impl_(std::make_unique<Impl>(std::move(sink), std::move(options))) {
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

Follower::~Follower() {
  [[maybe_unused]] ssize_t n = ::write(impl_->wake[1], "x", 1);
  impl_->thread.join();
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

FollowStats Follower::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace gslb::follow
