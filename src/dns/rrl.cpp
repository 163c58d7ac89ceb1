#include "dns/rrl.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace gslb::dns {

namespace {

// The client's netblock: its first `bits` bits, the rest zero.
unsigned netblock(const core::IpAddress& client, const RrlConfig& cfg, uint8_t* out) noexcept {
  const unsigned bits = client.is_v4() ? std::min(cfg.ipv4_prefix, 32u) : std::min(cfg.ipv6_prefix, 128u);
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned keep = bits > i * 8 ? std::min(8u, bits - i * 8) : 0;
    out[i] = keep ? uint8_t(client.bytes[i] & uint8_t(0xFF << (8 - keep))) : 0;
  }
  return bits;
}

// The query type as operators write it, for the log line.
std::string_view type_text(uint16_t t, char (&buf)[16]) noexcept {
  switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 43: return "DS";
    case 255: return "ANY";
    case 257: return "CAA";
    default: {
      const auto r = fmt::format_to_n(buf, sizeof buf, "TYPE{}", t);
      return {buf, r.size};
    }
  }
}

}  // namespace

const char* rrl_kind_name(RrlKind k) noexcept {
  switch (k) {
    case RrlKind::answer: return "answer";
    case RrlKind::nodata: return "nodata";
    case RrlKind::referral: return "referral";
    case RrlKind::nxdomain: return "nxdomain";
    case RrlKind::error: return "error";
  }
  return "?";
}

Rrl::Rrl(const RrlConfig& cfg, const core::SipKey& hash_key, LogSink sink)
    : cfg_(cfg), hash_key_(hash_key), sink_(sink) {
  if (!cfg_.enabled()) return;
  // A power of two of sets of kWays buckets, at least table_size buckets in all.
  nsets_ = 1;
  while (nsets_ * kWays < cfg_.table_size) nsets_ *= 2;
  table_ = std::make_unique<Bucket[]>(nsets_ * kWays);
}

size_t Rrl::used() const noexcept {
  size_t n = 0;
  for (size_t i = 0; i < capacity(); ++i) n += table_[i].key != 0;
  return n;
}

unsigned Rrl::rate(RrlKind k) const noexcept {
  switch (k) {
    case RrlKind::nxdomain: return cfg_.nxdomains_per_second;
    case RrlKind::error: return cfg_.errors_per_second;
    default: return cfg_.responses_per_second;
  }
}

RrlAction Rrl::account(const core::IpAddress& client, RrlKind kind, uint16_t qtype, bool wildcard,
                       const uint8_t* name, size_t name_len, uint32_t now) noexcept {
  const unsigned r = rate(kind);
  if (r == 0 || !table_) return RrlAction::send;
  for (const auto& p : cfg_.exempt)
    if (p.contains(client)) return RrlAction::send;

  // The key: netblock | kind | qtype | wildcard | name. NXDOMAIN and errors ignore the type,
  // errors the name too (BIND does the same).
  uint8_t key[1 + 16 + 1 + 2 + 1 + 255];
  size_t n = 0;
  key[n++] = client.is_v4() ? 4 : 6;
  netblock(client, cfg_, key + n);
  n += 16;
  key[n++] = uint8_t(kind);
  if (kind == RrlKind::nxdomain || kind == RrlKind::error) qtype = 0;
  key[n++] = uint8_t(qtype >> 8);
  key[n++] = uint8_t(qtype);
  key[n++] = wildcard;
  if (kind != RrlKind::error && name_len <= 255) {
    std::memcpy(key + n, name, name_len);
    n += name_len;
  }
  const uint64_t h = core::siphash24(hash_key_, key, n) | 1;  // never 0, the empty mark

  Bucket* set = &table_[((h >> 32) & (nsets_ - 1)) * kWays];  // not bit 0, which is always 1
  Bucket* b = nullptr;
  Bucket* victim = set;
  for (size_t i = 0; i < kWays; ++i) {
    if (set[i].key == h) {
      b = &set[i];
      break;
    }
    // Prefer an empty bucket, else the least recently used one.
    if (victim->key != 0 && (set[i].key == 0 || int32_t(set[i].last - victim->last) < 0))
      victim = &set[i];
  }
  const int32_t rate_i = int32_t(r);
  if (!b) {
    b = victim;
    *b = Bucket{h, rate_i, now, 0, false};
  }

  // Credit what was earned since the last response, as BIND does: a bucket idle for longer
  // than the window starts afresh; otherwise `rate` per second, up to one second's worth.
  // Worked numbers: rate 5, window 15: a flood of 100/s is answered 5 times in its first
  // second, then drives the balance to -75 (15 s of debt), and only 15 s of quiet (or a
  // slower rate, which pays the debt back) lets answers through again.
  const int32_t age = int32_t(now - b->last);
  if (age > 0) {
    if (age > int32_t(cfg_.window)) {
      b->balance = rate_i;
      b->slip = 0;
      b->limited = false;
    } else {
      b->balance = int32_t(std::min<int64_t>(rate_i, int64_t(b->balance) + int64_t(rate_i) * age));
      if (b->balance == rate_i) {
        b->slip = 0;
        b->limited = false;
      }
    }
  }
  b->last = now;
  if (--b->balance >= 0) return RrlAction::send;
  const int32_t floor = -int32_t(cfg_.window) * rate_i;
  if (b->balance < floor) b->balance = floor;
  if (!b->limited) {
    b->limited = true;
    log_start(client, kind, qtype, name, kind == RrlKind::error ? 0 : name_len, r, now);
  }
  if (cfg_.log_only) return RrlAction::log_only;
  if (cfg_.slip && ++b->slip >= cfg_.slip) {
    b->slip = 0;
    return RrlAction::slip;
  }
  return RrlAction::drop;
}

// One line when a bucket starts being limited, never one per dropped response; and at most
// kLogsPerSecond lines a second, the rest counted into the next line that goes out. Formatted
// into a stack buffer.
void Rrl::log_start(const core::IpAddress& client, RrlKind kind, uint16_t qtype, const uint8_t* name,
                    size_t name_len, unsigned rate, uint32_t now) noexcept {
  if (!sink_) return;
  if (now != log_second_) {
    log_second_ = now;
    logs_this_second_ = 0;
  }
  if (++logs_this_second_ > kLogsPerSecond) {
    ++logs_suppressed_;
    return;
  }
  char addr[INET6_ADDRSTRLEN] = "?";
  uint8_t masked[16];
  const unsigned bits = netblock(client, cfg_, masked);
  ::inet_ntop(client.is_v4() ? AF_INET : AF_INET6, masked, addr, sizeof addr);
  char text[256 * 4 + 2];
  size_t t = 0;
  for (size_t i = 0; i < name_len && name[i] != 0;) {
    const uint8_t l = name[i++];
    for (uint8_t k = 0; k < l && i < name_len; ++k, ++i) {
      const uint8_t c = name[i];
      if (c > ' ' && c < 0x7F && c != '.' && c != '\\' && c != '"') {
        text[t++] = char(c);
      } else {
        text[t++] = '\\';
        text[t++] = char('0' + c / 100);
        text[t++] = char('0' + c / 10 % 10);
        text[t++] = char('0' + c % 10);
      }
    }
    text[t++] = '.';
  }
  if (t == 0) text[t++] = '.';  // the root
  char line[1400];
  // NXDOMAIN and errors are counted whatever the type (see account()): no qtype then; errors
  // have no name either.
  char type_buf[16];
  const auto r = fmt::format_to_n(
      line, sizeof line - 1,
      "event=rrl-limit client={}/{} response={}{}{}{}{} rate={}/s window={}s action={}", addr, bits,
      rrl_kind_name(kind), qtype ? " qtype=" : "", qtype ? type_text(qtype, type_buf) : "",
      name_len ? " name=" : "", std::string_view(text, name_len ? t : 0), rate, cfg_.window,
      cfg_.log_only ? "log-only" : (cfg_.slip ? "drop+slip" : "drop"));
  size_t len = std::min(r.size, sizeof line - 1);
  if (logs_suppressed_) {  // lines left out since the last one that went out
    const auto s = fmt::format_to_n(line + len, sizeof line - 1 - len, " suppressed={}", logs_suppressed_);
    len += std::min(s.size, sizeof line - 1 - len);
    logs_suppressed_ = 0;
  }
  sink_(std::string_view(line, len));
}

}  // namespace gslb::dns
