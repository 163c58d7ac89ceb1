// This node's link to the deployment's etcd (v3, through its JSON gateway): keeps a lease,
// writes this node's votes on it (batched, only when they change), and watches the prefix to
// keep the Board current. libcurl's multi interface on the control loop's libuv: nothing here
// blocks, and nothing here is on the query path. When etcd cannot be reached the Board keeps
// only this node's votes (`event=cluster-degraded`) and the link retries with backoff; on
// return it re-publishes, re-reads and watches from the revision it read (`event=cluster-joined`).
// Owned by the daemon's control loop; not thread-safe. Handles are freed in their close
// callbacks: run the loop after close().
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/board.hpp"
#include "cluster/config.hpp"
#include "cluster/keys.hpp"
#include "core/log.hpp"
#include "core/logfmt.hpp"
#include "io/curl_multi.hpp"
#include "io/handle.hpp"

namespace gslb::cluster {

struct LinkHooks {
  // The tally of these targets may have changed (votes, nodes, degraded, joined).
  std::function<void(const std::vector<std::string>& targets)> changed;
  // A line for the log: event=KIND fields...
  std::function<void(core::Level, std::string kind, std::vector<core::Field>)> event;
  // The deployment's drains changed: every drained address with its end (ms since the epoch,
  // 0 = until undrained), as etcd holds them plus this node's changes not yet written.
  std::function<void(const std::map<std::string, int64_t>& drains)> drains;
};

class Link {
 public:
  Link(uv_loop_t* loop, Config cfg, Board& board, LinkHooks hooks);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Starts joining; returns at once.
  void start();
  void close();
  // This node's verdict on `target`: on the Board at once (and `changed` runs), in etcd with
  // the next batch. The same vote again writes nothing.
  void vote(const std::string& target, bool down);
  // This node no longer checks `target` (a reload removed it).
  void unvote(const std::string& target);
  // Drains `address` everywhere until `until` (ms since the epoch, 0: until undrained), or
  // undrains it (none). Written with the next batch, or when etcd is back; `drains` does not
  // run for the node's own change.
  void set_drain(const std::string& address, std::optional<int64_t> until);
  const std::map<std::string, int64_t>& drains() const noexcept { return drains_; }

  bool joined() const noexcept { return state_ == State::joined; }
  // Keys written to etcd (votes and the node key), for metrics and the benchmark.
  uint64_t writes() const noexcept { return writes_; }
  const Board& board() const noexcept { return board_; }

 private:
  struct Request;
  enum class State { idle, joining, joined, waiting, closed };
  using Body = std::function<void(long status, const std::string& body)>;

  void connect();
  void fail(const std::string& why);
  void on_joined(int64_t revision);
  void open_watch();
  void keepalive();
  void flush();
  // Applies one key-value (a put, or a delete when `deleted`) to the board.
  void apply(const std::string& key, const std::string& value, bool deleted,
             std::vector<std::string>& touched);
  // Applies the whole messages in watch_buf_ and keeps the rest.
  void read_watch();
  void notify(std::vector<std::string> touched);

  // One POST to the current endpoint; `done` gets the HTTP status and body, or fail() runs on
  // a transport error. A `stream` request (the watch) hands its bytes to read_watch() as they come.
  void post(const std::string& path, const std::string& json, Body done, bool stream = false);
  // A finished request: its `done`, or fail() on a transport or HTTP error.
  void finished(CURL* easy, CURLcode code);
  void cancel_requests();

  uv_loop_t* loop_;
  Config cfg_;
  Board& board_;
  LinkHooks hooks_;
  Keys keys_;
  State state_ = State::idle;
  bool degraded_logged_ = false;
  size_t endpoint_ = 0;
  size_t failures_in_row_ = 0;  // since the last join
  uint64_t quiet_until_ = 0;    // loop time (ms) until which a failure is retried quietly
  uint64_t backoff_ms_ = 0;
  std::string lease_;     // the lease ID, as etcd writes it (a decimal string)
  int64_t revision_ = 0;  // the last revision seen through range or watch
  std::map<std::string, bool> own_;      // this node's votes
  std::map<std::string, bool> pending_;  // not yet written
  std::map<std::string, int64_t> drains_;  // the deployment's drains, by address
  std::map<std::string, std::optional<int64_t>> pending_drains_;  // not yet written; none: delete
  std::map<std::string, std::optional<int64_t>> inflight_drains_;  // in the txn under way
  bool drains_changed_ = false;
  bool txn_in_flight_ = false;
  std::string watch_buf_;
  uint64_t writes_ = 0;

  io::CurlMulti multi_;
  io::Timer retry_timer_, keepalive_timer_;
  std::map<uint64_t, std::unique_ptr<Request>> requests_;
  uint64_t next_request_ = 1;
};

}  // namespace gslb::cluster
