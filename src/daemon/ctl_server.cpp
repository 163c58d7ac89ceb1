#include "daemon/ctl_server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace gslb::daemon {

namespace {

constexpr size_t kMaxRequest = 4096;

struct CtlConn {
  uv_pipe_t pipe{};
  Control* control = nullptr;
  CtlServer* server = nullptr;
  std::string in;
  uint64_t follower = 0;
  bool closing = false;
  unsigned writes = 0;
  bool close_after_writes = false;
  bool handled = false;
  // False once closed: a reply that comes later (reload) must not reach a freed connection.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  void close() {
    if (closing) return;
    closing = true;
    *alive = false;
    if (follower) control->unfollow(follower);
    server->conns_.erase(this);
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe),
             [](uv_handle_t* h) { delete static_cast<CtlConn*>(h->data); });
  }
};

struct WriteReq {
  uv_write_t req{};
  std::string data;
  CtlConn* conn;
};

void send(CtlConn* c, std::string data, bool then_close) {
  if (c->closing) return;
  c->close_after_writes = c->close_after_writes || then_close;
  auto* w = new WriteReq{{}, std::move(data), c};
  uv_buf_t b = uv_buf_init(w->data.data(), unsigned(w->data.size()));
  ++c->writes;
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->pipe), &b, 1,
                    [](uv_write_t* req, int status) {
                      auto* wr = reinterpret_cast<WriteReq*>(req);
                      CtlConn* conn = wr->conn;
                      delete wr;
                      --conn->writes;
                      if (status < 0 || (conn->close_after_writes && conn->writes == 0)) conn->close();
                    });
  if (rc != 0) {
    --c->writes;
    delete w;
    c->close();
  }
}

void handle(CtlConn* c, const std::string& line) {
  std::vector<std::string> args;
  size_t start = 0;
  while (start <= line.size()) {
    size_t tab = line.find('\t', start);
    if (tab == std::string::npos) tab = line.size();
    if (tab > start) args.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
  const bool follow = args.size() >= 2 && args[0] == "events" &&
                      std::find(args.begin(), args.end(), "--follow") != args.end();
  if (follow) {
    std::string backlog = "0\n";
    for (const auto& e : c->control->events()) backlog += e + "\n";
    send(c, std::move(backlog), false);
    c->follower = c->control->follow([c](const std::string& l) { send(c, l + "\n", false); });
    return;
  }
  c->control->command(args, [c, alive = c->alive](const Control::Reply& r) {
    if (*alive) send(c, fmt::format("{}\n{}", r.status, r.body), true);
  });
}

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
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 16, [](uv_stream_t* s, int status) {
    if (status < 0) return;
    auto* self = static_cast<CtlServer*>(s->data);
    auto* c = new CtlConn;
    c->control = &self->control_;
    c->server = self;
    self->conns_.insert(c);
    uv_pipe_init(self->loop_, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) {
      c->close();
      return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->pipe),
        [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
          buf->base = new char[suggested];
          buf->len = suggested;
        },
        [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
          auto* conn = static_cast<CtlConn*>(st->data);
          if (n > 0 && !conn->handled) conn->in.append(buf->base, size_t(n));
          delete[] buf->base;
          if (n < 0) {  // the client went away (a follower stops here)
            conn->close();
            return;
          }
          if (conn->handled) return;
          auto nl = conn->in.find('\n');
          if (nl != std::string::npos) {
            conn->handled = true;
            handle(conn, conn->in.substr(0, nl));
          } else if (conn->in.size() > kMaxRequest) {
            conn->handled = true;
            send(conn, "1\nrequest too long\n", true);
          }
        });
  });
  if (rc != 0) {
    close();
    return fail("listen", rc);
  }
  return true;
}

void CtlServer::close() {
  for (void* c : std::vector<void*>(conns_.begin(), conns_.end())) static_cast<CtlConn*>(c)->close();
  if (!server_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(server_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  server_ = nullptr;
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

}  // namespace gslb::daemon
