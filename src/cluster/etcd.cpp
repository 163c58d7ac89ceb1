#include "cluster/etcd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace gslb::cluster {

namespace {

using json = nlohmann::json;

// At most this many operations in one txn: etcd's default --max-txn-ops.
constexpr size_t kMaxTxnOps = 128;
constexpr uint64_t kFirstBackoffMs = 200, kMaxBackoffMs = 1000, kQuietRetryMs = 100;


// etcd's gateway writes int64 fields as JSON strings ("revision":"12").
int64_t as_int(const json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_string()) {
    try {
      return std::stoll(j.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string text_of(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return unbase64(it->get<std::string>()).value_or(std::string());
}

}  // namespace

struct Link::Request {
  Link* owner = nullptr;
  uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  bool stream = false;
  Body done;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~Request() {
    if (easy) {
      owner->multi_.remove(easy);
      curl_easy_cleanup(easy);
    }
    curl_slist_free_all(headers);
  }
  static size_t on_write(char* data, size_t size, size_t n, void* userp) {
    auto* r = static_cast<Request*>(userp);
    if (r->stream) {
      // Read after curl returns (action()): what it leads to may call into curl again.
      r->owner->watch_buf_.append(data, size * n);
    } else {
      if (r->body.size() + size * n > (16u << 20)) return 0;  // no reply of ours is that large
      r->body.append(data, size * n);
    }
    return size * n;
  }
};

Link::Link(uv_loop_t* loop, Config cfg, Board& board, LinkHooks hooks)
    : loop_(loop), cfg_(std::move(cfg)), board_(board), hooks_(std::move(hooks)), keys_(cfg_.prefix),
      multi_(loop, [this](CURL* easy, CURLcode code) { finished(easy, code); }) {
  multi_.after_action = [this] {
    if (!watch_buf_.empty()) read_watch();
  };
  retry_timer_ = io::Timer(loop_, [this] { connect(); });
  keepalive_timer_ = io::Timer(loop_, [this] { keepalive(); });
}

Link::~Link() { close(); }

void Link::close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  cancel_requests();
  multi_.close();
  retry_timer_.close();
  keepalive_timer_.close();
}

void Link::start() {
  if (state_ == State::idle) connect();
}

void Link::cancel_requests() {
  // A request's destructor takes its handle out of the multi, which may call on_socket.
  auto all = std::move(requests_);
  all.clear();
}

void Link::vote(const std::string& target, bool down) {
  auto [it, fresh] = own_.try_emplace(target, down);
  if (!fresh && it->second == down) return;
  it->second = down;
  board_.vote(target, board_.self(), down);
  pending_[target] = down;
  flush();
  notify({target});
}

void Link::unvote(const std::string& target) {
  if (!own_.erase(target)) return;
  board_.unvote(target, board_.self());
  pending_.erase(target);
  if (state_ == State::joined)
    post("/v3/kv/deleterange", json{{"key", base64(keys_.vote(board_.self(), target))}}.dump(),
         [](long, const std::string&) {});
  notify({target});
}

void Link::set_drain(const std::string& address, std::optional<int64_t> until) {
  if (until) drains_[address] = *until;
  else drains_.erase(address);
  pending_drains_[address] = until;
  flush();
}

void Link::notify(std::vector<std::string> touched) {
  if (std::exchange(drains_changed_, false) && hooks_.drains) hooks_.drains(drains_);
  if (touched.empty() || !hooks_.changed) return;
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  hooks_.changed(touched);
}

// Grant a lease, put the node key on it, read the prefix, then watch from what was read.
void Link::connect() {
  if (state_ == State::closed) return;
  state_ = State::joining;
  const int64_t ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg_.lease).count();
  post("/v3/lease/grant", json{{"TTL", ttl}}.dump(), [this](long, const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.contains("ID")) return fail("lease grant: " + body.substr(0, 200));
    lease_ = std::to_string(as_int(j["ID"]));
    json put{{"key", base64(keys_.node(board_.self()))}, {"value", ""}, {"lease", lease_}};
    post("/v3/kv/put", put.dump(), [this](long, const std::string&) {
      ++writes_;
      json range{{"key", base64(keys_.all())}, {"range_end", base64(keys_.all_end())}};
      post("/v3/kv/range", range.dump(), [this](long, const std::string& body) {
        json j = json::parse(body, nullptr, false);
        if (j.is_discarded() || !j.contains("header")) return fail("range: " + body.substr(0, 200));
        std::vector<std::string> touched = board_.forget_others();
        // etcd's drains, with this node's changes made while it was away on top.
        drains_.clear();
        for (const auto& kv : j.value("kvs", json::array()))
          apply(text_of(kv, "key"), text_of(kv, "value"), false, touched);
        for (const auto& [address, until] : pending_drains_)
          if (until) drains_[address] = *until;
          else drains_.erase(address);
        drains_changed_ = true;  // on every join: etcd holds the deployment's drains
        revision_ = as_int(j["header"]["revision"]);
        for (const auto& [t, down] : own_) touched.push_back(t);
        on_joined(revision_);
        notify(std::move(touched));
      });
    });
  });
}

void Link::on_joined(int64_t revision) {
  state_ = State::joined;
  backoff_ms_ = 0;
  failures_in_row_ = 0;
  degraded_logged_ = false;
  open_watch();
  pending_.clear();
  for (const auto& [t, down] : own_) pending_[t] = down;
  flush();
  const uint64_t every = std::max<uint64_t>(
      200, uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.lease).count() / 3));
  keepalive_timer_.start(every, every);
  if (hooks_.event)
    hooks_.event(core::Level::notice, "cluster-joined",
                 {{"node", board_.self()},
                  {"etcd", cfg_.etcd[endpoint_]},
                  {"live", std::to_string(board_.live_nodes().size())},
                  {"revision", std::to_string(revision)}});
}

void Link::open_watch() {
  watch_buf_.clear();
  json create{{"create_request",
               {{"key", base64(keys_.all())},
                {"range_end", base64(keys_.all_end())},
                {"start_revision", std::to_string(revision_ + 1)}}}};
  post("/v3/watch", create.dump(), [this](long, const std::string&) {
    // etcd closed the stream (it restarted, or cancelled the watch): resume from where it was,
    // or, if etcd is gone, the new request fails and the link starts over.
    if (state_ == State::joined) open_watch();
  }, true);
}

void Link::read_watch() {
  // The gateway streams one JSON object per message; split on the top-level braces.
  std::vector<std::string> touched;
  size_t start = 0;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < watch_buf_.size(); ++i) {
    const char c = watch_buf_[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' && depth++ == 0) start = i;
    else if (c == '}' && --depth == 0) {
      json msg = json::parse(watch_buf_.substr(start, i + 1 - start), nullptr, false);
      const json& r = msg.is_object() && msg.contains("result") ? msg["result"] : msg;
      if (r.is_object() && r.value("canceled", false)) {
        // Compacted past our revision, or refused: read everything again.
        watch_buf_.clear();
        notify(std::move(touched));
        return fail("watch cancelled: " + r.value("cancel_reason", std::string("compacted")));
      }
      if (r.is_object())
        for (const auto& ev : r.value("events", json::array())) {
          const json& kv = ev.value("kv", json::object());
          apply(text_of(kv, "key"), text_of(kv, "value"), ev.value("type", "PUT") == "DELETE", touched);
          revision_ = std::max(revision_, as_int(kv.value("mod_revision", json(0))));
        }
      start = i + 1;
    }
  }
  watch_buf_.erase(0, depth == 0 ? watch_buf_.size() : start);
  notify(std::move(touched));
}

void Link::apply(const std::string& key, const std::string& value, bool deleted,
                 std::vector<std::string>& touched) {
  Key k = keys_.parse(key);
  // This node's own votes and liveness are known here first; etcd's copy may be older.
  if (k.node == board_.self()) return;
  if (k.kind == Key::Kind::node) {
    auto t = deleted ? board_.node_down(k.node) : board_.node_up(k.node);
    touched.insert(touched.end(), t.begin(), t.end());
  } else if (k.kind == Key::Kind::drain) {
    int64_t until = 0;
    try {
      until = deleted ? 0 : std::stoll(value);
    } catch (...) {
      return;  // not ours: ignore
    }
    auto it = drains_.find(k.address);
    const bool same = deleted ? it == drains_.end() : it != drains_.end() && it->second == until;
    if (deleted) drains_.erase(k.address);
    else drains_[k.address] = until;
    drains_changed_ |= !same;
  } else if (k.kind == Key::Kind::vote) {
    const bool changed = deleted ? board_.unvote(k.target, k.node)
                                 : board_.vote(k.target, k.node, value == "down");
    if (changed) touched.push_back(k.target);
  }
}

void Link::keepalive() {
  post("/v3/lease/keepalive", json{{"ID", lease_}}.dump(), [this](long, const std::string& body) {
    json j = json::parse(body, nullptr, false);
    const json& r = !j.is_discarded() && j.contains("result") ? j["result"] : j;
    // A lease etcd no longer knows comes back with no TTL: our keys are gone, join again.
    if (!r.is_object() || as_int(r.value("TTL", json(0))) <= 0) fail("lease expired");
  });
}

void Link::flush() {
  if (state_ != State::joined || txn_in_flight_ || (pending_.empty() && pending_drains_.empty())) return;
  json ops = json::array();
  // Drains have no lease: they outlive the node that set them, with their own end.
  while (!pending_drains_.empty() && ops.size() < kMaxTxnOps) {
    auto it = pending_drains_.begin();
    const std::string key = base64(keys_.drain(it->first));
    if (it->second)
      ops.push_back({{"request_put", {{"key", key}, {"value", base64(std::to_string(*it->second))}}}});
    else
      ops.push_back({{"request_delete_range", {{"key", key}}}});
    inflight_drains_.insert(*it);
    pending_drains_.erase(it);
  }
  while (!pending_.empty() && ops.size() < kMaxTxnOps) {
    auto it = pending_.begin();
    ops.push_back({{"request_put",
                    {{"key", base64(keys_.vote(board_.self(), it->first))},
                     {"value", base64(it->second ? "down" : "up")},
                     {"lease", lease_}}}});
    pending_.erase(it);
  }
  const size_t n = ops.size();
  txn_in_flight_ = true;
  post("/v3/kv/txn", json{{"success", std::move(ops)}}.dump(), [this, n](long, const std::string&) {
    txn_in_flight_ = false;
    inflight_drains_.clear();
    writes_ += n;
    flush();
  });
}

void Link::fail(const std::string& why) {
  if (state_ == State::closed) return;
  cancel_requests();
  txn_in_flight_ = false;
  // A drain change whose txn may not have landed is written again on return (votes are all
  // re-published then anyway); a newer change of the same address wins.
  pending_drains_.merge(inflight_drains_);
  inflight_drains_.clear();
  keepalive_timer_.stop();
  const bool was_joined = state_ == State::joined;
  state_ = State::waiting;
  const std::string& failed = cfg_.etcd[endpoint_];
  endpoint_ = (endpoint_ + 1) % cfg_.etcd.size();
  // One endpoint gone (a member died, a leader election) is not etcd gone: for half a lease
  // (the votes on it are still alive) try the others every 100 ms, keeping what the board
  // knows; only then decide alone. The first failure of a single endpoint counts the same.
  const uint64_t now = uv_now(loop_);
  if (failures_in_row_++ == 0)
    quiet_until_ = now + uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.lease).count() / 2);
  if (now < quiet_until_) {
    if (hooks_.event && failures_in_row_ == 1)
      hooks_.event(core::Level::info, "cluster-retry",
                   {{"node", board_.self()}, {"etcd", failed}, {"reason", why, true}});
    retry_timer_.start(failures_in_row_ == 1 ? 0 : kQuietRetryMs);
    return;
  }
  if (was_joined || !degraded_logged_) {
    degraded_logged_ = true;
    if (hooks_.event)
      hooks_.event(core::Level::warning, "cluster-degraded",
                   {{"node", board_.self()},
                    {"etcd", failed},
                    {"reason", why, true},
                    {"action", "deciding on this node's own checks"}});
  }
  notify(board_.forget_others());
  backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, kMaxBackoffMs) : kFirstBackoffMs;
  retry_timer_.start(backoff_ms_);
}

void Link::post(const std::string& path, const std::string& body, Body done, bool stream) {
  if (!multi_) return;
  auto r = std::make_unique<Request>();
  r->owner = this;
  r->id = next_request_++;
  r->stream = stream;
  r->done = std::move(done);
  r->easy = curl_easy_init();
  if (!r->easy) return fail("curl_easy_init failed");
  CURL* e = r->easy;
  const std::string url = cfg_.etcd[endpoint_] + path;
  // Half a lease: an answer later than that leaves too little of the lease to act on, and a
  // loaded etcd (fsync on a busy disk) takes hundreds of milliseconds now and then.
  const long timeout_ms = std::max<long>(
      1000, long(std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.lease).count() / 2));
  r->headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, r.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  if (!stream) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Request::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r.get());
  if (!cfg_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, cfg_.ca_file.c_str());
  if (!cfg_.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, cfg_.cert_file.c_str());
  if (!cfg_.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, cfg_.key_file.c_str());
  if (multi_.add(e) != CURLM_OK) {
    curl_easy_cleanup(std::exchange(r->easy, nullptr));
    return fail("curl_multi_add_handle failed");
  }
  requests_.emplace(r->id, std::move(r));
}

void Link::finished(CURL* easy, CURLcode code) {
  Request* raw = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  auto node = requests_.extract(raw->id);
  if (node.empty()) return;
  std::unique_ptr<Request> r = std::move(node.mapped());
  if (code != CURLE_OK) {
    fail(r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
  } else if (status != 200) {
    fail(fmt::format("HTTP {} from {}: {}", status, cfg_.etcd[endpoint_], r->body.substr(0, 200)));
  } else {
    Body done = std::move(r->done);
    const std::string body = std::move(r->body);
    r.reset();
    done(status, body);
  }
}

}  // namespace gslb::cluster
