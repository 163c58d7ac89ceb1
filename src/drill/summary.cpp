#include "drill/summary.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gslb::drill {

namespace {

constexpr Clock::duration kBurstGap = std::chrono::seconds(1);
constexpr size_t kMaxBurstsShown = 10;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Nearest-rank percentile of a sorted sample (p in 0..100).
Clock::duration percentile(const std::vector<Clock::duration>& sorted, double p) {
  if (sorted.empty()) return {};
  size_t rank = size_t(p / 100.0 * double(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

void Summary::add(const Outcome& o) {
  outcomes_.push_back(o);
  if (o.dns_failed)
    ++dns_failures_;
  else
    ++codes_[o.code];
  if (failed(o)) {
    ++failures_;
    if (!have_failure_ || o.at < first_failure_) first_failure_ = o.at;
    if (!have_failure_ || o.at > last_failure_) last_failure_ = o.at;
    have_failure_ = true;
  }
}

std::string Summary::render(Clock::duration elapsed, size_t dns_queries,
                            const char* (*curl_error_name)(int)) const {
  std::string out;
  const double n = double(std::max<size_t>(total(), 1));
  out += fmt::format("Ended after {:.3f}s : {} calls. qps={:.1f}\n", seconds(elapsed), total(),
                     double(total()) / std::max(seconds(elapsed), 1e-9));
  std::vector<Clock::duration> lat;
  for (const auto& o : outcomes_)
    if (!o.dns_failed) lat.push_back(o.latency);
  std::sort(lat.begin(), lat.end());
  if (!lat.empty())
    out += fmt::format("Latency (ms): p50 {:.3f} p90 {:.3f} p99 {:.3f} max {:.3f}\n",
                       millis(percentile(lat, 50)), millis(percentile(lat, 90)),
                       millis(percentile(lat, 99)), millis(lat.back()));
  out += fmt::format("DNS queries : {}, DNS failures : {} ({:.1f} %)\n", dns_queries,
                     dns_failures_, 100.0 * double(dns_failures_) / n);
  for (const auto& [code, count] : codes_)
    out += fmt::format("Code {} : {} ({:.1f} %)\n", code, count, 100.0 * double(count) / n);
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
  for (const auto& [err, count] : reasons)
    out += fmt::format("Code -1 reason : {} ({}) : {}\n", curl_error_name(err), err, count);
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
  out += fmt::format("All done {} calls\n", total());
  return out;
}

}  // namespace gslb::drill
