#include "daemon/control.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <cstring>
#include <ctime>

#include "core/file.hpp"
#include "core/log.hpp"
#include "core/wall_time.hpp"
#include "dns/axfr.hpp"
#include "daemon/system.hpp"
#include "dns/dnssec.hpp"

namespace gslb::daemon {

Control::Control(uv_loop_t* loop, std::string config_path, Loaded loaded,
                 std::vector<std::unique_ptr<Worker>>& workers)
    : loop_(loop), config_path_(std::move(config_path)), loaded_(std::move(loaded)),
      verdicts_(loop, loaded_, workers, log_),
      reloader_(loop, config_path_, log_,
                [this] {
                  // What fits_descriptors needs of the running configuration: its limits.
                  Reloader::Running r{Reuse::of(loaded_), {}};
                  r.limits.server = loaded_.config.server;
                  r.limits.control = loaded_.config.control;
                  r.limits.metrics = loaded_.config.metrics;
                  return r;
                },
                [this](Loaded next) { return apply(std::move(next)); }),
      drain_timer_(loop, [this] { expire_drains(); }),
      trim_timer_(loop, [] { return_free_memory(); }),
      resign_timer_(loop, [this] {
        if (std::exchange(resign_retry_, false)) arm_resign_timer();
        else resign();
      }),
      notifier_(loop, log_) {}

Control::~Control() { stop(); }

void Control::start(std::function<void()> ready) {
  // Drains survive restarts: read them back before the first answers are published.
  if (const auto& path = loaded_.config.control.state_file; !path.empty()) {
    // The loader's reader: a regular file of bounded size (a missing file means no drains).
    constexpr uint64_t kMaxStateFile = 16 << 20;
    if (auto text = core::read_regular_file(path, kMaxStateFile))
      drains_ = DrainBook::from_text(*text, core::wall_ms());
    else if (::access(path.c_str(), F_OK) == 0)
      core::logf(core::Level::warning, "event=state-not-read file={} reason=\"{}\" (no drains restored)",
                 path, text.error().message);
  }
  apply_drains();
  save_serials();
  verdicts_.on_cluster_drains = [this](const std::map<std::string, int64_t>& d) { sync_drains(d); };
  verdicts_.start(std::move(ready));
  arm_drain_timer();
  arm_resign_timer();
}

void Control::stop() {
  reloader_.stop();
  verdicts_.stop();
  drain_timer_.close();
  trim_timer_.close();
  resign_timer_.close();
  notifier_.stop();
  log_.followers().clear();
  log_.json_followers().clear();
}

core::Errors Control::apply(Loaded next) {
  core::Errors errors;
  // Sockets, workers and log targets are set up once at start: say so rather than ignore it.
  const auto& was = loaded_.config;
  const auto& now = next.config;
  std::string restart;
  auto differs = [&restart](bool d, const char* key) {
    if (d) restart += (restart.empty() ? "" : ",") + std::string(key);
  };
  differs(was.server.listen != now.server.listen, "server.listen");
  differs(was.server.workers != now.server.workers, "server.workers");
  differs(was.server.user != now.server.user || was.server.group != now.server.group, "server.user/group");
  differs(was.server.edns_size != now.server.edns_size || was.server.ecs != now.server.ecs ||
              was.server.tcp_idle_timeout != now.server.tcp_idle_timeout ||
              was.server.tcp_max_connections != now.server.tcp_max_connections ||
              was.server.tcp_frame_timeout != now.server.tcp_frame_timeout ||
              was.server.tcp_max_connections_per_source != now.server.tcp_max_connections_per_source ||
              was.server.tcp_max_output != now.server.tcp_max_output, "server (edns/tcp)");
  differs(was.control.socket != now.control.socket, "control.socket");
  differs(was.control.max_connections != now.control.max_connections ||
              was.control.idle_timeout != now.control.idle_timeout, "control (limits)");
  differs(was.metrics.listen != now.metrics.listen, "metrics.listen");
  differs(was.metrics.max_connections != now.metrics.max_connections ||
              was.metrics.max_connections_per_source != now.metrics.max_connections_per_source ||
              was.metrics.idle_timeout != now.metrics.idle_timeout, "metrics (limits)");
  differs(was.log.syslog != now.log.syslog || was.log.stderr_ != now.log.stderr_, "log.targets");
  differs(!(was.rrl == now.rrl), "rrl");
  differs(!(was.cookies == now.cookies), "cookies");
  differs(!(was.cluster == now.cluster), "cluster");
  if (!restart.empty()) {
    log_.emit(core::Level::warning, fmt::format("event=restart-needed keys={} (changed in the file; the "
                                           "running values stay until gslbd restarts)", restart));
    errors.push_back(core::Error{{}, 0, 0, fmt::format("note: {} changed; these take effect on restart", restart)});
  }
  next.engine->adopt_health(*loaded_.engine);
  const bool same_table = next.table == loaded_.table;
  std::map<std::string, uint32_t> serials;  // the zones served until now, by apex
  for (const auto& z : loaded_.zones) serials[z->apex] = dns::zone_serial(*z);
  loaded_ = std::move(next);
  ++loads_;
  apply_drains();
  save_serials();
  verdicts_.reloaded();
  arm_resign_timer();
  // RFC 1996 §4.7: a zone whose serial changed (or that is new) is announced to its
  // also_notify secondaries, which then ask for it (by IXFR, from the new zone's journal). After the
  // publish: a secondary that asks at once must get the new zone, not the old one.
  for (const auto& z : loaded_.zones) {
    auto was_serial = serials.find(z->apex);
    // What secondaries get changed only under a new serial (the loader's serial policy, which
    // compares transfer views too: edited pools move the serial).
    if (was_serial != serials.end() && was_serial->second == dns::zone_serial(*z)) continue;
    for (const auto& zc : loaded_.config.zones) {
      if (zc.also_notify.empty() || dns::name_from_text(zc.name) != z->apex) continue;
      std::vector<NotifyTarget> to;
      for (size_t i = 0; i < zc.also_notify.size(); ++i) {
        to.push_back({zc.also_notify[i], std::nullopt});
        // The load checked that every key named exists.
        if (zc.notify_keys[i].empty()) continue;
        if (const dns::TsigKey* k = find_tsig_key(loaded_.tsig_keys, zc.notify_keys[i])) to.back().key = *k;
      }
      notifier_.notify(z, to);
    }
  }
  // The old snapshot goes when every worker has taken the new one: the TCP loops at once, a
  // UDP thread with its next query. Trim once the first have let go.
  trim_timer_.start(1000);
  log_.emit(core::Level::notice, fmt::format("event=reloaded zones={} names={} targets={}{}",
                                        loaded_.zones.size(), loaded_.config.gtm.names.size(),
                                        loaded_.engine->targets().size(),
                                        same_table ? " zones-unchanged=yes" : ""));
  return errors;
}

void Control::apply_drains() {
  std::vector<pool::Event> events;
  for (const auto& [ip, d] : drains_.all())
    if (auto a = core::IpAddress::parse(ip)) loaded_.engine->set_drained(*a, true, events);
}

namespace {

// Writes `text` to `path` through a temporary file renamed over it: a crash or a full disk
// leaves the previous file whole, never half a file. Every step is checked, close() and
// fsync() included (a full disk or NFS can report only there). Returns why it failed, logged
// with `lost` (what will not survive a restart).
std::optional<std::string> write_state(const std::string& path, const std::string& text, const char* lost) {
  const std::string tmp = path + ".tmp";
  auto failed = [&](const char* step) {
    const int err = errno;  // before unlink() sets its own
    std::string why = fmt::format("cannot write {}: {} ({} {})", path, std::strerror(err), step, tmp);
    ::unlink(tmp.c_str());
    core::logf(core::Level::warning, "event=state-not-saved file={} reason=\"{}\" ({} will not survive a restart)",
               path, std::strerror(err), lost);
    return why;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return failed("creating");
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      errno = err;
      return failed("writing");
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return failed("syncing");
  }
  if (::close(fd) != 0) return failed("closing");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("renaming");
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Control::save_drains() {
  const auto& path = loaded_.config.control.state_file;
  if (path.empty()) return std::nullopt;
  return write_state(path, drains_.to_text(), "drains");
}

void Control::save_serials() {
  const std::string path = served_serials_path(loaded_.config);
  if (path.empty()) return;
  std::string text = served_serials_text(loaded_);
  if (text == saved_serials_) return;
  // Nothing to keep while every zone serves its file's serial, unless an older file says
  // otherwise: no file (and no warning where the state directory is missing) until then.
  bool made = false;
  for (const auto& z : loaded_.zones) made = made || z->serial() != z->file_serial;
  if (!made && ::access(path.c_str(), F_OK) != 0) return;
  if (!write_state(path, text, "served serials")) saved_serials_ = std::move(text);
}

void Control::arm_drain_timer() {
  const auto next = drains_.next_expiry();
  if (!next) drain_timer_.stop();
  else drain_timer_.start(uint64_t(std::max<int64_t>(0, *next - core::wall_ms())));
}

void Control::expire_drains() {
  std::vector<pool::Event> events;
  for (const auto& ip : drains_.take_expired(core::wall_ms())) {
    if (auto a = core::IpAddress::parse(ip)) loaded_.engine->set_drained(*a, false, events);
    // Every node's timer ends it; deleting the key twice is harmless.
    if (auto* link = verdicts_.cluster()) link->set_drain(ip, std::nullopt);
  }
  for (auto e : events) {
    if (e.kind == "undrain") e.fields.push_back({"reason", "drain expired", true});
    verdicts_.emit(e);
  }
  save_drains();
  verdicts_.publish();
  arm_drain_timer();
}

core::Result<Control::Drained> Control::drain(const std::string& what, bool on,
                                              const std::optional<DrainFor>& lasting,
                                              const std::string& by, const std::string& reason) {
  const int64_t until = lasting ? core::wall_ms() + lasting->duration.count() : 0;
  std::vector<core::IpAddress> ips;
  if (auto ip = core::IpAddress::parse(what)) {
    bool known = false;
    for (const auto& k : loaded_.engine->targets()) known = known || k.ip == *ip;
    if (!known && on) return core::Error{{}, 0, 0, fmt::format("{} is in no pool", what)};
    ips.push_back(*ip);
  } else {
    for (const auto& p : loaded_.engine->config().pools)
      if (p.name == what)
        for (const auto& a : p.addresses) ips.push_back(a.ip);
    if (ips.empty()) return core::Error{{}, 0, 0, fmt::format("{} is neither an address nor a pool", what)};
  }
  std::vector<pool::Event> events;
  for (const auto& ip : ips) {
    loaded_.engine->set_drained(ip, on, events);
    if (on) drains_.set(ip.to_string(), until, by, reason);
    else drains_.remove(ip.to_string());
    if (auto* link = verdicts_.cluster())
      link->set_drain(ip.to_string(), on ? std::optional<int64_t>(until) : std::nullopt);
  }
  for (auto e : events) {
    if (lasting && e.kind == "drain") e.fields.push_back({"for", lasting->as_typed});
    if (!by.empty()) e.fields.push_back({"by", by});
    if (on && !reason.empty()) e.fields.push_back({"reason", reason, true});
    verdicts_.emit(e);
  }
  Drained done{ips.size(), save_drains()};
  arm_drain_timer();
  verdicts_.publish();
  return done;
}

void Control::arm_resign_timer() {
  // The earliest moment a signed zone is due: its first RRSIG's expiration less `refresh`.
  std::optional<int64_t> due;
  std::string zone;
  for (size_t i = 0; i < loaded_.zones.size() && i < loaded_.config.zones.size(); ++i) {
    const auto& dnssec = loaded_.config.zones[i].dnssec;
    const uint32_t expires = dns::earliest_expiration(*loaded_.zones[i]);
    if (!dnssec.enabled || expires == 0) continue;
    const int64_t at = int64_t(expires) - int64_t(dnssec.refresh);
    if (!due || at < *due) {
      due = at;
      zone = loaded_.config.zones[i].name;
    }
  }
  if (!due) {
    resign_timer_.stop();
    return;
  }
  resign_zone_ = zone;
  resign_retry_ = false;
  // At least a second, so that a zone whose refresh is longer than what is left of its
  // signatures is re-signed again and again, but not in a tight loop.
  const int64_t wait_s = std::max<int64_t>(1, *due - int64_t(std::time(nullptr)));
  resign_timer_.start(uint64_t(wait_s) * 1000);
}

void Control::resign() {
  log_.emit(core::Level::info, fmt::format("event=resign zone={} reason=\"signatures expire within refresh\"",
                                           resign_zone_));
  reload([this](const core::Errors& errors) {
    bool failed = false;
    for (const auto& e : errors) failed = failed || !e.message.starts_with("note: ");
    if (!failed) return;
    // The previous signatures keep serving; try again before they run out.
    log_.emit(core::Level::err, fmt::format("event=resign-failed zone={} errors={} (retrying in 60s)",
                                            resign_zone_, errors.size()));
    resign_retry_ = true;
    resign_timer_.start(60'000);
  });
}

void Control::sync_drains(const std::map<std::string, int64_t>& remote) {
  std::vector<pool::Event> events;
  const int64_t now = core::wall_ms();
  const auto mine = drains_.all();  // a copy: the book changes below
  for (const auto& [ip, until] : mine)
    if (!remote.count(ip)) {
      drains_.remove(ip);
      if (auto a = core::IpAddress::parse(ip)) loaded_.engine->set_drained(*a, false, events);
    }
  for (const auto& [ip, until] : remote) {
    if (until != 0 && until <= now) {
      // Over while no node was there to end it: end it now.
      if (auto* link = verdicts_.cluster()) link->set_drain(ip, std::nullopt);
      continue;
    }
    auto it = mine.find(ip);
    if (it != mine.end() && it->second.until == until) continue;
    // etcd holds each drain's end; who made it and why stay with the node it was made on.
    drains_.set(ip, until, it != mine.end() ? it->second.by : "cluster",
                it != mine.end() ? it->second.reason : std::string());
    if (auto a = core::IpAddress::parse(ip)) loaded_.engine->set_drained(*a, true, events);
  }
  for (auto e : events) {
    e.fields.push_back({"by", "cluster"});
    verdicts_.emit(e);
  }
  save_drains();
  arm_drain_timer();
  verdicts_.publish();
}

}  // namespace gslb::daemon
