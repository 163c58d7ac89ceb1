#include "drill/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "core/logfmt.hpp"

namespace gslb::drill {

namespace {

constexpr Clock::duration kBurstGap = std::chrono::seconds(1);
constexpr size_t kMaxBurstsShown = 10;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }


}  // namespace

void Summary::add(const Outcome& o) {
  outcomes_.push_back(o);
  if (o.dns_failed) ++dns_failures_;
  ++codes_[o.dns_failed ? kConnectionFailure : o.code];
  if (failed(o)) {
    ++failures_;
    if (!have_failure_ || o.at < first_failure_) first_failure_ = o.at;
    if (!have_failure_ || o.at > last_failure_) last_failure_ = o.at;
    have_failure_ = true;
  }
}

namespace {

// Go's time.Duration text, which fortio prints after "Ended after": "4.999813s", "1m40.0262s".
std::string go_duration(Clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  const int64_t minutes = ns / 60'000'000'000;
  std::string secs = fmt::format("{:.9f}", double(ns % 60'000'000'000) / 1e9);
  while (secs.back() == '0') secs.pop_back();
  if (secs.back() == '.') secs.pop_back();
  const int64_t hours = minutes / 60;
  std::string out;
  if (hours) out += fmt::format("{}h", hours);
  if (minutes) out += fmt::format("{}m", minutes % 60);
  return out + secs + "s";
}

// Latency buckets, in seconds: fortio's boundaries (1 ms steps to 12 ms, then coarser to 100 s).
constexpr double kBuckets[] = {0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009,
                               0.010, 0.011, 0.012, 0.014, 0.016, 0.018, 0.020, 0.025, 0.030,
                               0.035, 0.040, 0.045, 0.050, 0.060, 0.070, 0.080, 0.090, 0.100,
                               0.200, 0.300, 0.400, 0.500, 0.600, 0.700, 0.800, 0.900, 1.0,
                               2.0,   3.0,   4.0,   5.0,   7.5,   10.0,  20.0,  30.0,  40.0,
                               50.0,  60.0,  70.0,  80.0,  90.0,  100.0};

// The latency of every call (DNS failures too: fortio counts every call it made), in seconds,
// and what fortio's histogram prints of it.
struct Stats {
  std::vector<double> sorted;
  double sum = 0, avg = 0, stddev = 0;
  struct Bucket { double start, end, percent; size_t count; };
  std::vector<Bucket> data;

  explicit Stats(std::vector<double> v) : sorted(std::move(v)) {
    std::sort(sorted.begin(), sorted.end());
    if (sorted.empty()) return;
    for (double x : sorted) sum += x;
    avg = sum / double(sorted.size());
    double sq = 0;
    for (double x : sorted) sq += (x - avg) * (x - avg);
    stddev = std::sqrt(sq / double(sorted.size()));
    // Non-empty buckets only, the first starting at the minimum and the last ending at the
    // maximum, with the cumulative percentage, as fortio prints them.
    size_t i = 0;
    double prev = -HUGE_VAL;
    for (size_t b = 0; b <= std::size(kBuckets) && i < sorted.size(); ++b) {
      const double upper = b < std::size(kBuckets) ? kBuckets[b] : HUGE_VAL;
      size_t n = 0;
      for (; i < sorted.size() && sorted[i] <= upper; ++i) ++n;
      if (n > 0)
        data.push_back({std::max(prev, sorted.front()), std::min(upper, sorted.back()),
                        100.0 * double(i) / double(sorted.size()), n});
      prev = upper;
    }
  }
  double min() const { return sorted.empty() ? 0 : sorted.front(); }
  double max() const { return sorted.empty() ? 0 : sorted.back(); }
  // Nearest rank (p in 0..100): a value some call took, not an interpolation.
  double percentile(double p) const {
    if (sorted.empty()) return 0;
    size_t rank = size_t(p / 100.0 * double(sorted.size()) + 0.999999);
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
  }
};

Stats latency_stats(const std::vector<Outcome>& outcomes) {
  std::vector<double> v;
  v.reserve(outcomes.size());
  for (const auto& o : outcomes) v.push_back(seconds(o.latency));
  return Stats(std::move(v));
}


}  // namespace

std::string Summary::render(Clock::duration elapsed, size_t dns_queries,
                            const char* (*curl_error_name)(int)) const {
  std::string out;
  const double n = double(std::max<size_t>(total(), 1));
  const double elapsed_s = std::max(seconds(elapsed), 1e-9);
  out += fmt::format("Ended after {} : {} calls. qps={:.5g}\n", go_duration(elapsed), total(),
                     double(total()) / elapsed_s);
  const Stats lat = latency_stats(outcomes_);
  out += fmt::format("Aggregated Function Time : count {} avg {:.8g} +/- {:.4g} min {:g} max {:g} sum {:.9g}\n",
                     total(), lat.avg, lat.stddev, lat.min(), lat.max(), lat.sum);
  out += "# range, mid point, percentile, count\n";
  for (size_t i = 0; i < lat.data.size(); ++i) {
    const auto& b = lat.data[i];
    out += fmt::format("{} {:.6g} <= {:.6g} , {:.6g} , {:.2f}, {}\n", i == 0 ? ">=" : ">", b.start, b.end,
                       (b.start + b.end) / 2, b.percent, b.count);
  }
  for (double p : kPercentiles) out += fmt::format("# target {:g}% {:.6g}\n", p, lat.percentile(p));
  // gslb-drill's own lines, in words no fortio reader looks for.
  out += fmt::format("DNS queries : {}, DNS failures : {} ({:.1f} %)\n", dns_queries,
                     dns_failures_, 100.0 * double(dns_failures_) / n);
  // Why the -1s failed, and where requests went: a refused connection is the dead gateway
  // still in an answer, a timeout more often an overloaded live one.
  std::map<int, size_t> reasons;
  std::map<std::string, std::pair<size_t, size_t>> per_address;  // sent, failed
  for (const auto& o : outcomes_) {
    if (!o.dns_failed && o.code == kConnectionFailure) ++reasons[o.curl_error];
    if (o.dns_failed) continue;
    auto& a = per_address[o.address];
    ++a.first;
    if (failed(o)) ++a.second;
  }
  if (dns_failures_) out += fmt::format("Failure reason -1 : no address (DNS failure) : {}\n", dns_failures_);
  for (const auto& [err, count] : reasons)
    out += fmt::format("Failure reason -1 : {} ({}) : {}\n", curl_error_name(err), err, count);
  for (const auto& [addr, c] : per_address)
    out += fmt::format("Address {} : {} sent, {} failed\n", addr, c.first, c.second);
  if (have_failure_)
    out += fmt::format(
        "Failed requests : {} ({:.1f} %), first at {:.3f}s, last at {:.3f}s, "
        "failure window {:.3f}s\n",
        failures_, 100.0 * double(failures_) / n, seconds(first_failure_),
        seconds(last_failure_), seconds(last_failure_ - first_failure_));
  else
    out += "Failed requests : 0 (0.0 %), no failure window\n";
  // A stray timeout minutes away from the drill stretches the window above; bursts show the
  // outage itself. Failures less than kBurstGap apart (by due time) belong to one burst.
  std::vector<Clock::duration> failed_at;
  for (const auto& o : outcomes_)
    if (failed(o)) failed_at.push_back(o.at);
  std::sort(failed_at.begin(), failed_at.end());
  struct Burst { Clock::duration first, last; size_t count; };
  std::vector<Burst> bursts;
  for (auto at : failed_at) {
    if (bursts.empty() || at - bursts.back().last > kBurstGap)
      bursts.push_back(Burst{at, at, 0});
    bursts.back().last = at;
    ++bursts.back().count;
  }
  for (size_t i = 0; i < bursts.size() && i < kMaxBurstsShown; ++i)
    out += fmt::format("Failure burst : {} failed from {:.3f}s to {:.3f}s ({:.3f}s)\n",
                       bursts[i].count, seconds(bursts[i].first), seconds(bursts[i].last),
                       seconds(bursts[i].last - bursts[i].first));
  if (bursts.size() > kMaxBurstsShown)
    out += fmt::format("Failure burst : ... {} more\n", bursts.size() - kMaxBurstsShown);
  // fortio's code lines ("Code %3d : %d (%.1f %%)"): a call that got no HTTP answer, DNS
  // failures included, is -1, so the lines add up to the calls.
  for (const auto& [code, count] : codes_)
    out += fmt::format("Code {:3d} : {} ({:.1f} %)\n", code, count, 100.0 * double(count) / n);
  out += fmt::format("All done {} calls (plus 0 warmup) {:.3f} ms avg, {:.1f} qps\n", total(),
                     1000.0 * lat.avg, double(total()) / elapsed_s);
  return out;
}

std::string Summary::render_json(const Run& run, const char* (*curl_error_name)(int)) const {
  const Stats lat = latency_stats(outcomes_);
  const double elapsed_s = std::max(seconds(run.elapsed), 1e-9);
  std::string data, percentiles, codes, addresses, reasons, bursts;
  for (const auto& b : lat.data)
    data += fmt::format("{}{{\"Start\":{},\"End\":{},\"Percent\":{},\"Count\":{}}}",
                        data.empty() ? "" : ",", b.start, b.end, b.percent, b.count);
  for (double p : kPercentiles)
    percentiles += fmt::format("{}{{\"Percentile\":{},\"Value\":{}}}", percentiles.empty() ? "" : ",",
                               p, lat.percentile(p));
  for (const auto& [code, count] : codes_)
    codes += fmt::format("{}\"{}\":{}", codes.empty() ? "" : ",", code, count);
  std::map<std::string, std::pair<size_t, size_t>> per_address;
  std::map<std::string, size_t> why;
  for (const auto& o : outcomes_) {
    if (o.dns_failed) continue;
    if (o.code == kConnectionFailure) ++why[curl_error_name(o.curl_error)];
    auto& a = per_address[o.address];
    ++a.first;
    if (failed(o)) ++a.second;
  }
  if (dns_failures_) why["no address (DNS failure)"] = dns_failures_;
  for (const auto& [addr, c] : per_address)
    addresses += fmt::format("{}{}:{{\"Sent\":{},\"Failed\":{}}}", addresses.empty() ? "" : ",",
                             core::json_quote(addr), c.first, c.second);
  for (const auto& [w, count] : why)
    reasons += fmt::format("{}{}:{}", reasons.empty() ? "" : ",", core::json_quote(w), count);
  std::string ip_counts;
  for (const auto& [addr, c] : per_address)
    ip_counts += fmt::format("{}{}:{}", ip_counts.empty() ? "" : ",", core::json_quote(addr), c.first);
  return fmt::format(
      "{{\"RunType\":\"HTTP\",\"Labels\":\"gslb-drill\",\"StartTime\":{},\"RequestedQPS\":\"{}\","
      "\"RequestedDuration\":{},\"ActualQPS\":{},\"ActualDuration\":{},\"NumThreads\":1,"
      "\"Version\":{},\"DurationHistogram\":{{\"Count\":{},\"Min\":{},\"Max\":{},\"Sum\":{},"
      "\"Avg\":{},\"StdDev\":{},\"Data\":[{}],\"Percentiles\":[{}]}},\"Exactly\":0,"
      "\"Jitter\":false,\"Uniform\":false,\"RetCodes\":{{{}}},\"IPCountMap\":{{{}}},\"URL\":{},"
      "\"SocketCount\":{},\"AbortOn\":0,"
      "\"GslbDrill\":{{\"DNSQueries\":{},\"DNSFailures\":{},\"Failures\":{},\"FirstFailure\":{},"
      "\"LastFailure\":{},\"FailureReasons\":{{{}}},\"Addresses\":{{{}}}}}}}\n",
      core::json_quote(run.start_time), run.qps, core::json_quote(go_duration(run.duration)),
      double(total()) / elapsed_s,
      std::chrono::duration_cast<std::chrono::nanoseconds>(run.elapsed).count(),
      core::json_quote(run.version), total(), lat.min(), lat.max(), lat.sum, lat.avg, lat.stddev, data,
      percentiles, codes, ip_counts, core::json_quote(run.url), total() - dns_failures_,
      run.dns_queries, dns_failures_, failures_,
      have_failure_ ? fmt::format("{}", seconds(first_failure_)) : "null",
      have_failure_ ? fmt::format("{}", seconds(last_failure_)) : "null", reasons, addresses);
}

}  // namespace gslb::drill
