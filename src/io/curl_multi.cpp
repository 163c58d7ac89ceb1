#include "io/curl_multi.hpp"

#include <mutex>
#include <utility>

namespace gslb::io {

namespace {
void delete_poll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }
}  // namespace

CurlMulti::CurlMulti(uv_loop_t* loop, Done done) : loop_(loop), done_(std::move(done)) {
  // curl_global_init is not safe to race with other threads' curl use; doing it once here,
  // on the control loop before the first handle, is enough for gslbd.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  // curl must not be re-entered from its own timer callback, so even 0 ms goes through the loop.
  timer_ = Timer(loop_, [this] { socket_action(CURL_SOCKET_TIMEOUT, 0); });
  if (multi_) {
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  }
}

CURLMcode CurlMulti::add(CURL* easy) {
  return multi_ ? curl_multi_add_handle(multi_, easy) : CURLM_BAD_HANDLE;
}

void CurlMulti::remove(CURL* easy) {
  if (multi_) curl_multi_remove_handle(multi_, easy);
}

void CurlMulti::close() {
  // Cleanup may still call on_socket (REMOVE) and on_curl_timer: they must see no multi then.
  if (CURLM* m = std::exchange(multi_, nullptr)) curl_multi_cleanup(m);
  for (auto& [p, events] : polls_) {
    uv_poll_stop(p);
    uv_close(reinterpret_cast<uv_handle_t*>(p), delete_poll);
  }
  polls_.clear();
  timer_.close();
}

int CurlMulti::on_socket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlMulti*>(userp);
  auto* poll = static_cast<uv_poll_t*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    // curl calls this before it closes the socket, so the watcher leaves epoll first.
    if (poll) {
      if (self->multi_) curl_multi_assign(self->multi_, s, nullptr);
      self->close_poll(poll);
    }
    return 0;
  }
  if (!poll) {
    poll = new uv_poll_t;
    if (uv_poll_init_socket(self->loop_, poll, s) != 0) {
      delete poll;
      return -1;
    }
    poll->data = self;
    curl_multi_assign(self->multi_, s, poll);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  self->polls_[poll] = events;
  uv_poll_start(poll, events, on_poll);
  return 0;
}

void CurlMulti::close_poll(uv_poll_t* poll) {
  if (polls_.erase(poll) == 0) return;
  uv_poll_stop(poll);
  uv_close(reinterpret_cast<uv_handle_t*>(poll), delete_poll);
}

int CurlMulti::on_curl_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (timeout_ms < 0)
    self->timer_.stop();
  else
    self->timer_.start(uint64_t(timeout_ms));
  return 0;
}

void CurlMulti::on_poll(uv_poll_t* poll, int status, int events) {
  auto* self = static_cast<CurlMulti*>(poll->data);
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(poll), &fd) != 0) return;
  if (status < 0) {
    // libuv reports a socket error (a RST, say) as UV_EBADF and stops the watcher. Telling curl
    // CURL_CSELECT_ERR would give "select/poll returned error"; letting it read and write
    // instead surfaces the real errno ("connection reset").
    self->socket_action(curl_socket_t(fd), CURL_CSELECT_IN | CURL_CSELECT_OUT);
    if (auto it = self->polls_.find(poll); it != self->polls_.end())
      uv_poll_start(poll, it->second, on_poll);
    return;
  }
  int flags = 0;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  self->socket_action(curl_socket_t(fd), flags);
}

void CurlMulti::socket_action(curl_socket_t s, int flags) {
  if (!multi_) return;
  int running = 0;
  curl_multi_socket_action(multi_, s, flags, &running);
  if (after_action) after_action();
  // One at a time, re-checking after each: `done` may remove other transfers or close.
  while (multi_) {
    int left = 0;
    CURLMsg* msg = curl_multi_info_read(multi_, &left);
    if (!msg) return;
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;  // msg dies with the handle
    done_(easy, code);
  }
}

}  // namespace gslb::io
