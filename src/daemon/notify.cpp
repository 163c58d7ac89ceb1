#include "daemon/notify.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "core/wall_time.hpp"
#include "dns/axfr.hpp"
#include "dns/wire.hpp"

namespace gslb::daemon {

namespace {

// RFC 1996 §3.6 leaves the schedule to the primary: at once, then after 1, 2, 4 and 8 s.
constexpr int kTries = 5;
constexpr uint64_t kTickMs = 250;

uint64_t now_ms() {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

uint64_t wall_seconds() { return uint64_t(core::wall_ms() / 1000); }

std::string rcode_text(unsigned rcode) {
  static const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < std::size(names) ? names[rcode] : std::to_string(rcode);
}

}  // namespace

Notifier::Notifier(uv_loop_t* loop, EventLog& log)
    : loop_(loop), log_(log), timer_(loop, [this] { tick(); }),
      next_id_(uint16_t(std::random_device{}())) {}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  timer_.close();
  pending_.clear();
  for (auto [poll, fd] : {std::pair{&poll4_, &fd4_}, std::pair{&poll6_, &fd6_}}) {
    if (*poll) uv_close(reinterpret_cast<uv_handle_t*>(*poll),
                        [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    *poll = nullptr;
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

int Notifier::socket_for(const core::Endpoint& to) {
  const bool v4 = to.address.is_v4();
  int& fd = v4 ? fd4_ : fd6_;
  uv_poll_t*& poll = v4 ? poll4_ : poll6_;
  if (fd >= 0) return fd;
  fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  poll = new uv_poll_t{};
  uv_poll_init(loop_, poll, fd);
  poll->data = this;
  uv_poll_start(poll, UV_READABLE, [](uv_poll_t* p, int, int) {
    auto* self = static_cast<Notifier*>(p->data);
    self->readable(p == self->poll4_ ? self->fd4_ : self->fd6_);
  });
  return fd;
}

void Notifier::notify(const std::shared_ptr<const dns::Zone>& zone,
                      const std::vector<NotifyTarget>& to) {
  const std::string name = dns::name_to_text(zone->apex);
  const uint32_t serial = dns::zone_serial(*zone);
  for (const auto& target : to) {
    const core::Endpoint& ep = target.to;
    std::erase_if(pending_, [&](const Pending& p) { return p.zone == name && p.to == ep; });
    Pending p{name, serial, ep, {}, target.key, {}, next_id_++, 0, 0};
    p.message = dns::notify_message(*zone, p.id);
    if (p.key) {
      // Signed once: the retries resend these bytes, well within the 300 s fudge.
      dns::TsigSigner signer(*p.key, {}, wall_seconds());
      signer.sign(p.message);
      p.mac = signer.mac();
    }
    pending_.push_back(std::move(p));
  }
  tick();
}

void Notifier::tick() {
  const uint64_t now = now_ms();
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = pending_[i];
    if (p.next_ms > now) {
      ++i;
      continue;
    }
    if (p.tries == kTries) {
      log_.emit(core::Level::warning,
                fmt::format("event=notify-failed zone={} serial={} to={} tries={} (no answer{}; the "
                            "secondary still polls at the SOA refresh interval)",
                            p.zone, p.serial, p.to.to_string(), p.tries,
                            p.key ? " signed with key " + p.key->text_name : std::string()));
      pending_.erase(pending_.begin() + long(i));
      continue;
    }
    sockaddr_storage sa{};
    const unsigned len = p.to.to_sockaddr(sa);
    const int fd = socket_for(p.to);
    if (fd < 0 || ::sendto(fd, p.message.data(), p.message.size(), 0,
                           reinterpret_cast<const sockaddr*>(&sa), len) < 0) {
      if (p.tries == 0)
        log_.emit(core::Level::warning, fmt::format("event=notify-error zone={} to={} reason=\"{}\"",
                                                    p.zone, p.to.to_string(), std::strerror(errno)));
    } else if (p.tries == 0) {
      log_.emit(core::Level::notice, fmt::format("event=notify-sent zone={} serial={} to={}", p.zone,
                                               p.serial, p.to.to_string()));
    }
    p.next_ms = now + (uint64_t(1000) << p.tries);
    ++p.tries;
    ++i;
  }
  if (pending_.empty()) timer_.stop();
  else if (!timer_.active()) timer_.start(kTickMs, kTickMs);
}

void Notifier::readable(int fd) {
  uint8_t buf[4096];
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    const std::span<const uint8_t> reply(buf, size_t(n));
    for (size_t i = 0; i < pending_.size(); ++i) {
      Pending& p = pending_[i];
      sockaddr_storage want{};
      const unsigned want_len = p.to.to_sockaddr(want);
      if (p.tries == 0 || !dns::is_notify_reply(reply, p.id) || want_len != from_len ||
          std::memcmp(&want, &from, want_len) != 0)
        continue;
      if (answered(p, reply)) pending_.erase(pending_.begin() + long(i));
      break;
    }
  }
}

bool Notifier::answered(const Pending& p, std::span<const uint8_t> reply) {
  const unsigned rcode = reply[3] & 0xF;
  std::string tsig;
  if (p.key) {
    // RFC 8945 §5.3/§5.4: the reply must carry a TSIG with our key whose MAC covers our
    // request's; one that does not (unsigned, another key, a bad MAC, the peer's BADKEY or
    // BADSIG) could come from anyone, so it is not the secondary's answer and the NOTIFY is
    // sent again at its next try.
    const dns::TsigCheck check = dns::tsig_verify(reply, {*p.key}, wall_seconds(), p.mac);
    if (check.result != dns::TsigCheck::Result::ok) {
      log_.emit(core::Level::warning,
                fmt::format("event=notify-failed zone={} serial={} to={} rcode={} tsig={}{}{} "
                            "(not an answer to our signed NOTIFY; trying again)",
                            p.zone, p.serial, p.to.to_string(), rcode_text(rcode),
                            check.result == dns::TsigCheck::Result::unsigned_query
                                ? "unsigned-reply" : dns::to_string(check.result),
                            check.error ? " tsig-error=" + dns::tsig_error_text(check.error) : "",
                            " key=" + p.key->text_name));
      return false;
    }
    tsig = " key=" + p.key->text_name;
  }
  if (rcode == 0) {
    log_.emit(core::Level::notice, fmt::format("event=notify-acked zone={} serial={} to={} rcode={}{}",
                                               p.zone, p.serial, p.to.to_string(), rcode_text(rcode), tsig));
  } else {
    // The secondary answered and said no (REFUSED: not on its allow-notify; NOTAUTH: a key it
    // does not accept). Asking again would get the same answer.
    log_.emit(core::Level::warning,
              fmt::format("event=notify-refused zone={} serial={} to={} rcode={}{} (the secondary "
                          "refused it; it still polls at the SOA refresh interval)",
                          p.zone, p.serial, p.to.to_string(), rcode_text(rcode), tsig));
  }
  return true;
}

}  // namespace gslb::daemon
