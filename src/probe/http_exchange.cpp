#include "probe/http_exchange.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace gslb::probe {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters; other header-name bytes compare equal only to themselves
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string http_request(const core::IpAddress& address, const Spec& spec) {
  std::string host = spec.host.empty()
                         ? (address.is_v4() ? address.to_string() : "[" + address.to_string() + "]")
                         : spec.host;
  if (spec.port != 80) host += fmt::format(":{}", spec.port);
  const std::pair<std::string_view, std::string_view> ours[] = {
      {"Host", host}, {"User-Agent", "gslbd-probe"}, {"Accept", "*/*"}, {"Connection", "close"}};
  std::string out = fmt::format("{} {} HTTP/1.1\r\n", spec.method == Method::head ? "HEAD" : "GET", spec.path);
  for (const auto& [name, value] : ours) {
    const bool replaced = std::any_of(spec.headers.begin(), spec.headers.end(),
                                      [&](const auto& h) { return iequals(h.first, name); });
    if (!replaced) out += fmt::format("{}: {}\r\n", name, value);
  }
  for (const auto& [name, value] : spec.headers)
    if (!value.empty()) out += fmt::format("{}: {}\r\n", name, value);
  return out + "\r\n";
}

Result HttpResponse::passed() const { return {true, fmt::format("HTTP {}", status_), {}}; }

std::optional<Result> HttpResponse::feed(std::string_view data) {
  if (!data.empty()) any_byte_ = true;
  if (stage_ == Stage::head) {
    const size_t old = head_.size();
    head_.append(data.substr(0, kMaxHead + 4 - std::min(old, kMaxHead + 4)));
    // The head ends at the first empty line; the bytes after it are the body's.
    size_t end = head_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    size_t sep = 4;
    if (end == std::string::npos) {
      end = head_.find("\n\n", old >= 1 ? old - 1 : 0);
      sep = 2;
    }
    if (end == std::string::npos) {
      if (head_.size() > kMaxHead) return Result{false, "bad HTTP reply", {}};
      return std::nullopt;
    }
    const size_t body_at = end + sep - old;  // offset in `data` of the first byte after the head
    head_.resize(end + sep);
    if (auto r = parse_head()) return r;
    if (stage_ == Stage::head) {  // a 1xx interim response: the real one follows
      head_.clear();
      return feed(data.substr(std::min(body_at, data.size())));
    }
    data = data.substr(std::min(body_at, data.size()));
  }
  return body(data);
}

std::optional<Result> HttpResponse::parse_head() {
  std::string_view h = head_;
  const size_t eol = h.find('\n');
  std::string_view line = trim(h.substr(0, eol));
  // "HTTP/1.1 200 OK": a version, a space, three digits.
  if (line.size() < 12 || !line.starts_with("HTTP/") || line[8] != ' ')
    return Result{false, "bad HTTP reply", {}};
  int status = 0;
  auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
  if (ec != std::errc() || p != line.data() + 12 || status < 100 || (line.size() > 12 && line[12] != ' '))
    return Result{false, "bad HTTP reply", {}};
  if (status < 200 && status != 101) return std::nullopt;  // interim: stay in Stage::head
  status_ = status;
  const bool expected = std::any_of(expect_status_.begin(), expect_status_.end(),
                                    [&](const StatusRange& r) { return status >= r.lo && status <= r.hi; });
  if (!expected) return Result{false, fmt::format("HTTP {}", status), {}};
  if (expect_body_.empty()) return passed();
  // The body's framing (RFC 9112 §6.3): none for HEAD, 204 and 304; chunked; a length; else
  // up to the close.
  if (head_request_ || status == 204 || status == 304) return mismatch();
  bool chunked = false;
  std::optional<uint64_t> length;
  for (size_t at = eol + 1; at < h.size();) {
    size_t next = h.find('\n', at);
    if (next == std::string_view::npos) next = h.size();
    std::string_view field = h.substr(at, next - at);
    at = next + 1;
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
    if (iequals(name, "transfer-encoding")) {
      chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
    } else if (iequals(name, "content-length")) {
      uint64_t n = 0;
      auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e != std::errc() || q != value.data() + value.size() || (length && *length != n))
        return Result{false, "bad HTTP reply", {}};
      length = n;
    }
  }
  if (chunked) {
    stage_ = Stage::chunk_size;
  } else {
    stage_ = Stage::body;
    remaining_ = length;
    to_close_ = !length;
    if (length == 0u) return mismatch();
  }
  return std::nullopt;
}

std::optional<Result> HttpResponse::body(std::string_view data) {
  if (stage_ == Stage::body) {
    if (remaining_) {
      data = data.substr(0, size_t(std::min<uint64_t>(*remaining_, data.size())));
      *remaining_ -= data.size();
    }
    if (auto r = search(data)) return r;
    if (remaining_ == 0u) return mismatch();
    return std::nullopt;
  }
  return chunked(data);
}

std::optional<Result> HttpResponse::chunked(std::string_view data) {
  while (!data.empty()) {
    if (stage_ == Stage::chunk_size) {
      const size_t nl = data.find('\n');
      chunk_line_.append(data.substr(0, nl));
      if (chunk_line_.size() > 1024) return Result{false, "bad HTTP reply", {}};
      if (nl == std::string_view::npos) return std::nullopt;
      data.remove_prefix(nl + 1);
      std::string_view line = trim(chunk_line_);
      line = line.substr(0, line.find(';'));  // chunk extensions
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), n, 16);
      if (ec != std::errc() || p != line.data() + line.size()) return Result{false, "bad HTTP reply", {}};
      chunk_line_.clear();
      if (n == 0) return mismatch();  // the last chunk: the body ended without the text
      remaining_ = n;
      stage_ = Stage::chunk_data;
    } else if (stage_ == Stage::chunk_data) {
      const std::string_view part = data.substr(0, size_t(std::min<uint64_t>(*remaining_, data.size())));
      data.remove_prefix(part.size());
      *remaining_ -= part.size();
      if (auto r = search(part)) return r;
      if (*remaining_ == 0) stage_ = Stage::chunk_crlf;
    } else {  // the CRLF after a chunk's data: skipped up to its LF
      const size_t nl = data.find('\n');
      if (nl == std::string_view::npos) return std::nullopt;
      data.remove_prefix(nl + 1);
      stage_ = Stage::chunk_size;
    }
  }
  return std::nullopt;
}

std::optional<Result> HttpResponse::search(std::string_view data) {
  data = data.substr(0, size_t(std::min<uint64_t>(kMaxBody - body_seen_, data.size())));
  body_seen_ += data.size();
  // A match may straddle two reads: search the carried tail and the new bytes together.
  std::string window = tail_;
  window.append(data);
  if (window.find(expect_body_) != std::string::npos) {
    stage_ = Stage::done;
    return passed();
  }
  const size_t keep = std::min(window.size(), expect_body_.size() - 1);
  tail_.assign(window, window.size() - keep, keep);
  if (body_seen_ >= kMaxBody) return mismatch();
  return std::nullopt;
}

Result HttpResponse::end() {
  if (!any_byte_) return {false, "empty reply", {}};
  if (stage_ == Stage::head) return {false, head_.empty() ? "empty reply" : "truncated reply", {}};
  if (stage_ == Stage::body && to_close_) return mismatch();  // the close ended the body
  return {false, "truncated reply", {}};
}

}  // namespace gslb::probe
