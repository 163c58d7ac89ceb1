// libcurl's multi interface driven by a libuv loop: curl tells us which sockets to watch (one
// uv_poll_t each) and when to call it back (one timer), and we feed readiness back through
// curl_multi_socket_action, then hand each finished transfer to `done`. Nothing here blocks.
// Used by the HTTPS checks (src/probe) and the etcd link (src/cluster). Lives on one loop; not
// thread-safe. The poll handles are freed in their close callbacks: run the loop after close().
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <functional>
#include <unordered_map>

#include "io/handle.hpp"

namespace gslb::io {

class CurlMulti {
 public:
  // `done` gets each finished transfer's easy handle and result, after curl returns (so it may
  // add, remove or close). It must take the handle out (remove()) or close the multi.
  using Done = std::function<void(CURL* easy, CURLcode result)>;
  CurlMulti(uv_loop_t* loop, Done done);
  ~CurlMulti() { close(); }
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  explicit operator bool() const noexcept { return multi_ != nullptr; }
  CURLMcode add(CURL* easy);
  // Takes a transfer out (curl requires it before curl_easy_cleanup). Closed: a no-op.
  void remove(CURL* easy);
  // Releases curl and every handle. Idempotent.
  void close();
  // Runs after each round of socket actions, before the finished transfers are handed out.
  std::function<void()> after_action;

 private:
  static int on_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int on_curl_timer(CURLM* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* poll, int status, int events);
  void socket_action(curl_socket_t s, int flags);
  void close_poll(uv_poll_t* poll);

  uv_loop_t* loop_;
  Done done_;
  CURLM* multi_ = nullptr;
  Timer timer_;
  // Every live socket watcher with the events curl asked for: libuv stops a watcher when the
  // socket reports an error, and curl will not ask again for what it already asked for.
  std::unordered_map<uv_poll_t*, int> polls_;
};

}  // namespace gslb::io
