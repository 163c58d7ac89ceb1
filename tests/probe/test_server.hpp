// Loopback fixtures for the probe tests: a small threaded HTTP server whose behaviour is chosen
// by the request path, sockets that refuse or never answer, and an `openssl s_server`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace probe_test {

// Paths:  /  and  /ok  -> 200 "hello gslbd";  /status/NNN -> NNN;  /host -> 200 when the Host
// header is www.example.test[:port], else 421;  /reset -> RST after reading the request;
// /silent -> reads the request, never answers;  /slow -> 200 after slow_ms;  /big -> 256 KiB of
// 'a' then "needle".
class HttpServer {
 public:
  explicit HttpServer(const std::string& ip = "127.0.0.1", int slow_ms = 200);
  ~HttpServer();
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }
  int max_concurrent() const { return max_concurrent_.load(); }
  std::string last_method();
  std::string last_host();

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  int slow_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> active_{0};
  std::atomic<int> max_concurrent_{0};
  std::mutex mu_;
  std::string last_method_, last_host_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// A port on `ip` where nothing listens (bound, then closed): connects are refused.
uint16_t closed_port(const std::string& ip = "127.0.0.1");

// A listener whose accept queue is full: further SYNs are dropped, so connects hang.
class BlackHole {
 public:
  BlackHole();
  ~BlackHole();
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  std::vector<int> fillers_;
  uint16_t port_ = 0;
};

// A listener that completes handshakes (the kernel does) but is never accepted from: requests
// are never answered.
class Mute {
 public:
  Mute();
  ~Mute();
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// `openssl s_server -www` on 127.0.0.1 with a self-signed certificate for www.example.test in
// `dir`; answers any request with 200. Stopped by PID in the destructor.
class TlsServer {
 public:
  // Empty when openssl is missing or the server did not come up.
  static bool available();
  explicit TlsServer(const std::string& dir);
  ~TlsServer();
  bool ok() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  std::string cert() const { return dir_ + "/cert.pem"; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace probe_test
