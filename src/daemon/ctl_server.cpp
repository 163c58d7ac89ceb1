#include "daemon/ctl_server.hpp"

#include <pwd.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/log.hpp"
#include "daemon/commands.hpp"

namespace gslb::daemon {

namespace {

constexpr size_t kMaxRequest = 4096;

// One gslbctl connection: a request line, then a reply and close, or (events --follow,
// verdicts --follow) a stream of lines for as long as the client keeps reading them.
class CtlConn final : public Client {
 public:
  CtlConn(CtlServer& server, Control& control, const ClientLimits& limits)
      : Client(server.loop(), false, limits, server.stats()), server_(server), control_(control) {}

 private:
  void received(const char* data, size_t n) override {
    if (handled_) return;  // one request per connection; a follower's input is ignored
    in_.append(data, n);
    auto nl = in_.find('\n');
    if (nl != std::string::npos) {
      handled_ = true;
      handle(in_.substr(0, nl));
    } else if (in_.size() > kMaxRequest) {
      handled_ = true;
      ++stats_.too_large;
      send("1\nrequest too long\n", true);
    }
  }

  void closed() override {
    *alive_ = false;
    if (follower_) (json_ ? control_.events().json_followers() : control_.events().followers()).remove(follower_);
    if (verdict_follower_) control_.verdicts().unfollow(verdict_follower_);
    server_.forget(this);
  }

  void overflowed() override {
    if (!follower_ && !verdict_follower_) return;
    core::logf(core::Level::warning,
               "event=follower-dropped queued={} bound={} (a{} --follow client stopped reading)",
               queued(), limits_.max_output, follower_ ? "n events" : " verdicts");
    ++stats_.followers_dropped;
  }

  // Who is asking: the user name of the peer's uid (SO_PEERCRED, which the kernel fills in at
  // connect, so a client cannot claim another user), or "uid N" without a passwd entry.
  std::string peer_user() {
    uv_os_fd_t fd = -1;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(stream()), &fd) != 0 ||
        ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
      return "unknown";
    passwd pw{};
    passwd* found = nullptr;
    char buf[1024];
    if (::getpwuid_r(cred.uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
    return fmt::format("uid {}", cred.uid);
  }

  void handle(const std::string& line) {
    std::vector<std::string> args;
    size_t start = 0;
    while (start <= line.size()) {
      size_t tab = line.find('\t', start);
      if (tab == std::string::npos) tab = line.size();
      if (tab > start) args.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    const bool follow = args.size() >= 2 && (args[0] == "events" || args[0] == "verdicts") &&
                        std::find(args.begin(), args.end(), "--follow") != args.end();
    if (follow && args[0] == "verdicts") {
      // The snapshot, then changes: a client dropped here reconnects and starts over.
      disarm();
      std::string snapshot = "0\n" + control_.verdicts().snapshot();
      allow_output(snapshot.size());
      if (!send(std::move(snapshot), false)) return;
      verdict_follower_ = control_.verdicts().follow([this](const std::string& l) { send(l, false); });
      return;
    }
    if (follow) {
      // A follower may stay for days: no deadline, but its unread output is bounded. It gets
      // the events from now on, like `tail -f` after `journalctl -n 0`: `gslbctl events`
      // shows the recent ones.
      disarm();
      json_ = std::find(args.begin(), args.end(), "--json") != args.end();
      if (!send("0\n", false)) return;
      follower_ = (json_ ? control_.events().json_followers() : control_.events().followers())
                      .add([this](const std::string& l) { send(l + "\n", false); });
      return;
    }
    // reload and check-config reply when their load ends, and status when its last slice is
    // built, on a later loop turn: no deadline meanwhile (loads are bounded by [limits] and
    // cancelled on stop; a status by the names it has); the reply re-arms it.
    disarm();
    run_command(control_, args, peer_user(), [this, alive = alive_](const Reply& r) {
      if (*alive) send(fmt::format("{}\n{}", r.status, r.body), true);
    });
  }

  CtlServer& server_;
  Control& control_;
  std::string in_;
  uint64_t follower_ = 0;
  bool json_ = false;  // the follower takes the JSON objects
  uint64_t verdict_follower_ = 0;
  bool handled_ = false;
  // False once closed: a reply that comes later (reload) must not reach a freed connection.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

core::Result<bool> CtlServer::listen(const std::string& path, int uid, int gid) {
  auto fail = [&](const char* what, int err) {
    return core::Error{path, 0, 0, fmt::format("control socket: {}: {}", what, uv_strerror(err))};
  };
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0750) == 0 && uid >= 0) [[maybe_unused]] int r = ::chown(dir.c_str(), uid_t(uid), gid_t(gid));
  }
  server_ = new uv_pipe_t;
  uv_pipe_init(loop_, server_, 0);
  server_->data = this;
  // A socket file left by a gslbd that died: remove it if nobody answers on it.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (probe >= 0) ::close(probe);
    if (live) {
      close();
      return core::Error{path, 0, 0, "control socket: another gslbd is listening on it"};
    }
    ::unlink(path.c_str());
  }
  const mode_t old = ::umask(0117);  // 0660
  int rc = uv_pipe_bind(server_, path.c_str());
  ::umask(old);
  if (rc != 0) {
    close();
    return fail("bind", rc);
  }
  path_ = path;
  if (uid >= 0 && ::chown(path.c_str(), uid_t(uid), gid_t(gid)) != 0) {
    int err = -errno;
    close();
    return fail("chown", err);
  }
  // A backlog beyond the cap: connections over it are accepted and closed, not left waiting.
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 128, [](uv_stream_t* s, int status) {
    if (status < 0) return;
    auto* self = static_cast<CtlServer*>(s->data);
    if (self->conns_.size() >= self->limits_.max_connections) {
      refuse(s, "control", "max_connections", self->conns_.size(), self->stats(), self->refusals_);
      return;
    }
    auto* c = new CtlConn(*self, self->control_, self->limits_);
    self->conns_.insert(c);
    c->accept(s);
  });
  if (rc != 0) {
    close();
    return fail("listen", rc);
  }
  return true;
}

void CtlServer::close() {
  for (Client* c : std::vector<Client*>(conns_.begin(), conns_.end())) c->close();
  if (!server_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(server_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  server_ = nullptr;
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

}  // namespace gslb::daemon
