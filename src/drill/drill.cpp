// gslb-drill: fortio's fixed-rate load test with a stub resolver in front, for failover drills.
// One thread: a loop that issues requests on schedule into a curl multi handle, waits in
// curl_multi_poll (which also watches our DNS socket), and runs the --at commands with
// posix_spawn. Nothing blocks the loop, so a slow request never delays the next one.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>

#include "drill/options.hpp"
#include "drill/stub_dns.hpp"
#include "drill/summary.hpp"

extern char** environ;

namespace gslb::drill {

namespace {

volatile sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One HTTP request in flight. Owned by Drill::inflight_, keyed by its easy handle.
struct Request {
  Clock::duration at{};  // due time from the start
  std::string address;
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, SlistDeleter> connect_to;  // curl reads it during the transfer
};

// The run: schedule, stub-resolver cache, requests in flight, --at commands.
class Drill {
 public:
  explicit Drill(Options o) : o_(std::move(o)), multi_(curl_multi_init()) {
    std::random_device rd;
    dns_id_ = uint16_t(rd());
  }
  ~Drill() {
    for (auto& [easy, r] : inflight_) curl_multi_remove_handle(multi_.get(), easy);
    if (dns_fd_ >= 0) ::close(dns_fd_);
  }

  int run();

 private:
  Clock::time_point due(size_t i) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(double(i) / o_.qps));
  }
  bool open_dns();
  void send_query(Clock::time_point now);
  void read_dns(Clock::time_point now);
  void dispatch(size_t i, Clock::time_point now);
  void start_request(Clock::duration at, const core::IpAddress& ip);
  void finish(CURL* easy, CURLcode result, Clock::time_point now);
  void run_at_commands(Clock::time_point now);
  void reap_children(bool report_running);

  Options o_;
  std::unique_ptr<CURLM, MultiDeleter> multi_;
  Clock::time_point start_;
  std::string started_at_;  // RFC 3339, for -json
  Summary summary_;
  std::unordered_map<CURL*, std::unique_ptr<Request>> inflight_;

  // The stub resolver: one query at a time; requests due meanwhile wait for its answer.
  int dns_fd_ = -1;
  uint16_t dns_id_ = 0;
  std::optional<Clock::time_point> dns_deadline_;  // set while a query is outstanding
  std::deque<Clock::duration> waiting_;            // due times of requests waiting for it
  std::vector<core::IpAddress> cached_;
  Clock::time_point cache_expires_{};
  size_t rotate_next_ = 0;
  size_t dns_queries_ = 0;

  size_t next_at_ = 0;
  std::vector<std::pair<pid_t, std::string>> children_;
};

bool Drill::open_dns() {
  sockaddr_storage ss{};
  const unsigned len = o_.server.to_sockaddr(ss);
  dns_fd_ = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (dns_fd_ < 0) return false;
  // connect(2) makes the kernel drop datagrams from anyone but the server.
  return ::connect(dns_fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0;
}

void Drill::send_query(Clock::time_point now) {
  ++dns_id_;
  auto q = make_a_query(o_.host, dns_id_);
  ++dns_queries_;
  dns_deadline_ = now + o_.dns_timeout;
  // A failed send (ICMP refusal of an earlier one, say) is left to the timeout, as a stub would.
  [[maybe_unused]] auto n = ::send(dns_fd_, q.data(), q.size(), 0);
}

void Drill::read_dns(Clock::time_point now) {
  uint8_t buf[4096];
  for (;;) {
    const ssize_t n = ::recv(dns_fd_, buf, sizeof buf, 0);
    if (n < 0) return;  // EAGAIN, or ECONNREFUSED from a dead server: the timeout handles it
    if (!dns_deadline_) continue;
    auto a = parse_a_answer(std::span<const uint8_t>(buf, size_t(n)), dns_id_);
    if (!a) continue;
    dns_deadline_.reset();
    std::deque<Clock::duration> waiters;
    waiters.swap(waiting_);
    if (a->rcode != 0 || a->addresses.empty()) {
      for (auto at : waiters) summary_.add(Outcome{at, now - (start_ + at), 0, true, 0, {}});
      continue;
    }
    cached_ = std::move(a->addresses);
    // A TTL of 0 serves only the requests that asked (RFC 1035 §3.2.1: not to be cached).
    cache_expires_ = now + std::chrono::seconds(a->ttl);
    for (auto at : waiters) {
      const auto& ip = cached_[o_.rotate ? rotate_next_++ % cached_.size() : 0];
      start_request(at, ip);
    }
  }
}

void Drill::dispatch(size_t i, Clock::time_point now) {
  const Clock::duration at = due(i) - start_;
  if (!cached_.empty() && now < cache_expires_) {
    start_request(at, cached_[o_.rotate ? rotate_next_++ % cached_.size() : 0]);
    return;
  }
  waiting_.push_back(at);
  if (!dns_deadline_) send_query(now);
}

void Drill::start_request(Clock::duration at, const core::IpAddress& ip) {
  auto r = std::make_unique<Request>();
  r->at = at;
  r->address = ip.to_string();
  r->easy.reset(curl_easy_init());
  CURL* e = r->easy.get();
  const std::string target = ip.is_v4() ? ip.to_string() : "[" + ip.to_string() + "]";
  r->connect_to.reset(
      curl_slist_append(nullptr, fmt::format("{}:{}:{}:{}", o_.host, o_.port, target, o_.port)
                                     .c_str()));
  const long timeout_ms = long(std::chrono::duration_cast<std::chrono::milliseconds>(o_.timeout).count());
  curl_easy_setopt(e, CURLOPT_URL, o_.url.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to.get());
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");  // an http_proxy in the environment must not win
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "gslb-drill/0.1");
  if (curl_multi_add_handle(multi_.get(), e) != CURLM_OK) {
    summary_.add(Outcome{at, Clock::now() - (start_ + at), kConnectionFailure, false,
                         int(CURLE_FAILED_INIT), r->address});
    return;
  }
  inflight_.emplace(e, std::move(r));
}

void Drill::finish(CURL* easy, CURLcode result, Clock::time_point now) {
  auto it = inflight_.find(easy);
  if (it == inflight_.end()) return;
  long code = kConnectionFailure;
  if (result == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  if (code == 0) code = kConnectionFailure;
  summary_.add(Outcome{it->second->at, now - (start_ + it->second->at), int(code), false,
                       int(result), it->second->address});
  curl_multi_remove_handle(multi_.get(), easy);
  inflight_.erase(it);
}

void Drill::run_at_commands(Clock::time_point now) {
  while (next_at_ < o_.at.size() && start_ + o_.at[next_at_].at <= now) {
    const auto& c = o_.at[next_at_++];
    const char* argv[] = {"sh", "-c", c.command.c_str(), nullptr};
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
    if (rc != 0) {
      fmt::print("# {:.3f}s: could not run '{}': {}\n", secs(now - start_), c.command, strerror(rc));
    } else {
      fmt::print("# {:.3f}s: running '{}' (pid {})\n", secs(now - start_), c.command, pid);
      children_.emplace_back(pid, c.command);
    }
    std::fflush(stdout);
  }
}

void Drill::reap_children(bool report_running) {
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    const pid_t p = ::waitpid(it->first, &status, WNOHANG);
    if (p == 0) {
      if (report_running) fmt::print("# '{}' (pid {}) is still running\n", it->second, it->first);
      ++it;
      continue;
    }
    if (p > 0) {
      const auto t = secs(Clock::now() - start_);
      if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fmt::print("# {:.3f}s: '{}' exited {}\n", t, it->second, WEXITSTATUS(status));
      else if (WIFSIGNALED(status))
        fmt::print("# {:.3f}s: '{}' killed by signal {}\n", t, it->second, WTERMSIG(status));
      std::fflush(stdout);
    }
    it = children_.erase(it);
  }
}

int Drill::run() {
  if (!multi_ || !open_dns()) {
    fmt::print(stderr, "gslb-drill: cannot set up: {}\n", strerror(errno));
    return 1;
  }
  const size_t total = size_t(std::llround(o_.qps * secs(o_.duration)));
  fmt::print("Starting at {} qps for {:.3f}s ({} calls) to {} resolved via {}, no keep-alive, "
             "timeout {:.3f}s\n",
             o_.qps, secs(o_.duration), total, o_.url, o_.server.to_string(), secs(o_.timeout));
  std::fflush(stdout);
  started_at_ = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::time(nullptr)));
  start_ = Clock::now();
  size_t next = 0;
  bool interrupted_reported = false;
  for (;;) {
    Clock::time_point now = Clock::now();
    run_at_commands(now);
    reap_children(false);
    if (g_interrupted && !interrupted_reported) {
      interrupted_reported = true;
      fmt::print("# interrupted at {:.3f}s after {} calls; draining\n", secs(now - start_), next);
      std::fflush(stdout);
    }
    const size_t limit = g_interrupted ? next : total;
    while (next < limit && due(next) <= now) dispatch(next++, now);
    read_dns(now);
    if (dns_deadline_ && now >= *dns_deadline_) {
      dns_deadline_.reset();
      for (auto at : waiting_) summary_.add(Outcome{at, now - (start_ + at), 0, true, 0, {}});
      waiting_.clear();
    }
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_.get(), &left))
      if (m->msg == CURLMSG_DONE) finish(m->easy_handle, m->data.result, Clock::now());
    if (next >= limit && inflight_.empty() && waiting_.empty() && !dns_deadline_) break;

    // Sleep until the next thing due: a request, a --at command, the DNS timeout, or curl.
    Clock::time_point wake = now + std::chrono::milliseconds(100);
    if (next < limit) wake = std::min(wake, due(next));
    if (next_at_ < o_.at.size()) wake = std::min(wake, start_ + o_.at[next_at_].at);
    if (dns_deadline_) wake = std::min(wake, *dns_deadline_);
    long curl_ms = -1;
    curl_multi_timeout(multi_.get(), &curl_ms);
    if (curl_ms >= 0) wake = std::min(wake, now + std::chrono::milliseconds(curl_ms));
    const auto wait = wake - Clock::now();
    const int wait_ms = wait <= Clock::duration::zero()
                            ? 0
                            : int(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
    curl_waitfd dns{dns_fd_, CURL_WAIT_POLLIN, 0};
    curl_multi_poll(multi_.get(), &dns, 1, wait_ms, nullptr);
  }
  const auto elapsed = Clock::now() - start_;
  // Give --at commands still running a moment, then report without waiting for them.
  for (int i = 0; i < 20 && !children_.empty(); ++i) {
    reap_children(false);
    if (!children_.empty()) ::usleep(50 * 1000);
  }
  reap_children(true);
  auto curl_words = [](int code) { return curl_easy_strerror(CURLcode(code)); };
  std::fputs(summary_.render(elapsed, dns_queries_, curl_words).c_str(), stdout);
  if (!o_.json.empty()) {
    Summary::Run run{started_at_, o_.qps, o_.duration, elapsed, o_.url, GSLBD_VERSION, dns_queries_};
    const std::string json = summary_.render_json(run, curl_words);
    if (o_.json == "-") {
      std::fputs(json.c_str(), stdout);
    } else {
      FILE* f = std::fopen(o_.json.c_str(), "w");
      const bool ok = f && std::fwrite(json.data(), 1, json.size(), f) == json.size();
      if (f && std::fclose(f) != 0) f = nullptr;
      if (!ok || !f) {
        fmt::print(stderr, "gslb-drill: -json {}: {}\n", o_.json, strerror(errno));
        return 1;
      }
      fmt::print("Successfully wrote {} bytes of Json data to {}\n", json.size(), o_.json);
    }
  }
  return 0;
}

}  // namespace

}  // namespace gslb::drill

int main(int argc, char** argv) {
  using namespace gslb::drill;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    fmt::print("gslb-drill {}\n", GSLBD_VERSION);
    return 0;
  }
  auto o = parse_options(args);
  if (!o) {
    fmt::print(stderr, "gslb-drill: {}\n{}", o.error().message, kUsage);
    return 2;
  }
  if (o->help) {
    fmt::print("{}", kUsage);
    return 0;
  }
  // Open-loop rates keep up to qps x timeout connections open; lift the soft fd limit.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fmt::print(stderr, "gslb-drill: curl_global_init failed\n");
    return 1;
  }
  int rc = 0;
  try {
    Drill drill(std::move(*o));
    rc = drill.run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "gslb-drill: {}\n", e.what());
    rc = 1;
  }
  curl_global_cleanup();
  return rc;
}
