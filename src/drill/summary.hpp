// What gslb-drill counts and how it prints it: fortio's summary, line for line where fortio has
// one (so that scripts written for fortio's text, and readers of its -json, read ours), plus
// what a failover drill needs — DNS failures, per-address counts and the failure window — on
// lines of their own. Plain data, filled by the drill's loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gslb::drill {

using Clock = std::chrono::steady_clock;

inline constexpr int kConnectionFailure = -1;  // fortio's code for "no HTTP answer"

struct Outcome {
  Clock::duration at{};       // when the request was due, from the start of the run
  Clock::duration latency{};  // from due time to completion (so queueing counts, fortio-style)
  int code = 0;               // HTTP status, or kConnectionFailure
  bool dns_failed = false;    // never sent: no address for the name
  int curl_error = 0;         // CURLcode when code is kConnectionFailure
  std::string address;        // where it was sent
};

class Summary {
 public:
  void add(const Outcome& o);

  // Failed = DNS failure, connection failure/timeout, or any status outside 2xx/3xx.
  static bool failed(const Outcome& o) {
    return o.dns_failed || o.code < 200 || o.code >= 400;
  }

  size_t total() const { return outcomes_.size(); }
  size_t dns_failures() const { return dns_failures_; }
  size_t failures() const { return failures_; }
  const std::map<int, size_t>& codes() const { return codes_; }

  // Text in fortio's words; `elapsed` is the whole run including the drain of late answers.
  // `curl_error_name` turns a CURLcode into words (curl_easy_strerror in the tool).
  std::string render(Clock::duration elapsed, size_t dns_queries,
                     const char* (*curl_error_name)(int)) const;

  // What fortio's JSON result holds besides the counts.
  struct Run {
    std::string start_time;  // RFC 3339, UTC
    double qps = 0;          // requested
    Clock::duration duration{}, elapsed{};
    std::string url, version;
    size_t dns_queries = 0;
  };
  // fortio's HTTP result as JSON (`-json FILE`): RunType, RequestedQPS, ActualQPS,
  // DurationHistogram (Count, Min, Max, Sum, Avg, StdDev, Data, Percentiles), RetCodes, ...,
  // with gslb-drill's own figures under "GslbDrill".
  std::string render_json(const Run& run, const char* (*curl_error_name)(int)) const;

  // fortio's default percentiles (-p "50,75,90,99,99.9").
  static constexpr double kPercentiles[] = {50, 75, 90, 99, 99.9};

 private:
  std::vector<Outcome> outcomes_;
  std::map<int, size_t> codes_;
  size_t dns_failures_ = 0;
  size_t failures_ = 0;
  bool have_failure_ = false;
  Clock::duration first_failure_{}, last_failure_{};
};

}  // namespace gslb::drill
