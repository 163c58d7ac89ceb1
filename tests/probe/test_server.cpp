#include "test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

extern char** environ;

namespace probe_test {

namespace {

int bound_socket(const std::string& ip, uint16_t port, uint16_t* actual) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (ip.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    len = sizeof(*a);
    family = AF_INET6;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
    len = sizeof(*a);
    family = AF_INET;
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("bind " + ip + ": " + std::strerror(errno));
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *actual = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += size_t(n);
  }
}

std::string header_value(const std::string& req, const std::string& name) {
  std::string lower = req;
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  auto start = at + 3 + name.size();
  while (start < req.size() && req[start] == ' ') ++start;
  return req.substr(start, req.find("\r\n", start) - start);
}

}  // namespace

HttpServer::HttpServer(const std::string& ip, int slow_ms) : slow_ms_(slow_ms) {
  listen_fd_ = bound_socket(ip, 0, &port_);
  ::listen(listen_fd_, 64);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() {
  stop_ = true;
  acceptor_.join();
  for (auto& t : workers_) t.join();
  ::close(listen_fd_);
}

std::string HttpServer::last_method() {
  std::lock_guard lock(mu_);
  return last_method_;
}

std::string HttpServer::last_host() {
  std::lock_guard lock(mu_);
  return last_host_;
}

void HttpServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void HttpServer::serve(int fd) {
  int now = ++active_;
  for (int m = max_concurrent_; now > m && !max_concurrent_.compare_exchange_weak(m, now);) {}
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && !stop_) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    req.append(buf, size_t(n));
    if (!std::isupper(static_cast<unsigned char>(req[0]))) {
      // Not HTTP (a TLS ClientHello starts with 0x16): answer as a plain server does.
      send_all(fd, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      --active_;
      ::close(fd);
      return;
    }
  }
  if (req.find("\r\n\r\n") == std::string::npos) {
    --active_;
    ::close(fd);
    return;
  }
  ++requests_;
  const std::string method = req.substr(0, req.find(' '));
  const auto path_start = req.find(' ') + 1;
  const std::string path = req.substr(path_start, req.find(' ', path_start) - path_start);
  const std::string host = header_value(req, "host");
  {
    std::lock_guard lock(mu_);
    last_method_ = method;
    last_host_ = host;
  }
  auto respond = [&](int status, const std::string& body) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (method != "HEAD") out += body;
    send_all(fd, out);
  };
  if (path == "/" || path == "/ok") {
    respond(200, "hello gslbd\n");
  } else if (path.rfind("/status/", 0) == 0) {
    respond(std::stoi(path.substr(8)), "status\n");
  } else if (path == "/host") {
    respond(host.rfind("www.example.test", 0) == 0 ? 200 : 421, host);
  } else if (path == "/reset") {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  } else if (path == "/silent") {
    while (!stop_) ::poll(nullptr, 0, 20);
  } else if (path == "/slow") {
    for (int waited = 0; waited < slow_ms_ && !stop_; waited += 10) ::poll(nullptr, 0, 10);
    respond(200, "slow\n");
  } else if (path == "/big") {
    respond(200, std::string(256 * 1024, 'a') + "needle");
  } else {
    respond(404, "not found\n");
  }
  --active_;
  ::close(fd);
}

uint16_t closed_port(const std::string& ip) {
  uint16_t port = 0;
  int fd = bound_socket(ip, 0, &port);
  ::close(fd);
  return port;
}

BlackHole::BlackHole() {
  listen_fd_ = bound_socket("127.0.0.1", 0, &port_);
  // Linux keeps backlog + 1 connections in the accept queue; once it is full, SYNs are
  // dropped (tcp_abort_on_overflow = 0) and the client retransmits for a second or more.
  ::listen(listen_fd_, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 3; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    fillers_.push_back(fd);
    ::poll(nullptr, 0, 20);
  }
}

BlackHole::~BlackHole() {
  for (int fd : fillers_) ::close(fd);
  ::close(listen_fd_);
}

Mute::Mute() {
  fd_ = bound_socket("127.0.0.1", 0, &port_);
  ::listen(fd_, 64);
}

Mute::~Mute() { ::close(fd_); }

bool TlsServer::available() { return ::access("/usr/bin/openssl", X_OK) == 0; }

TlsServer::TlsServer(const std::string& dir) : dir_(dir) {
  if (!available()) return;
  const std::string gen =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=www.example.test "
      "-addext subjectAltName=DNS:www.example.test -keyout " + dir + "/key.pem -out " + dir +
      "/cert.pem >/dev/null 2>&1";
  if (std::system(gen.c_str()) != 0) return;
  const uint16_t port = closed_port("127.0.0.1");
  const std::string accept = "127.0.0.1:" + std::to_string(port);
  const std::string key = dir + "/key.pem", cert = dir + "/cert.pem";
  const char* argv[] = {"openssl", "s_server", "-quiet", "-www", "-accept", accept.c_str(),
                        "-cert", cert.c_str(), "-key", key.c_str(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  int r = posix_spawn(&pid_, "/usr/bin/openssl", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) {
    pid_ = -1;
    return;
  }
  // Wait (at most 5 s) until it accepts connections.
  for (int i = 0; i < 250; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    if (up) {
      port_ = port;
      return;
    }
    ::poll(nullptr, 0, 20);
  }
}

TlsServer::~TlsServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

}  // namespace probe_test
