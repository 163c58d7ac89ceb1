#include "daemon/commands.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "core/duration.hpp"
#include "daemon/explain.hpp"
#include "daemon/report.hpp"
#include "dns/dnssec.hpp"

namespace gslb::daemon {

namespace {

// gslbctl drain|undrain ADDRESS|POOL [--for DURATION] [--reason TEXT]
Reply drain(Control& control, const std::vector<std::string>& a, bool on, const std::string& user) {
  if (a.size() < 2)
    return {1, fmt::format("usage: gslbctl {} ADDRESS|POOL{}\n", a[0], on ? " [--for DURATION] [--reason TEXT]" : "")};
  std::optional<Control::DrainFor> lasting;
  std::string reason;
  for (size_t i = 2; i < a.size(); ++i) {
    if (on && a[i] == "--reason" && i + 1 < a.size()) {
      reason = a[++i];
    } else if (on && a[i] == "--for" && i + 1 < a.size()) {
      auto d = core::parse_duration(a[++i]);
      if (!d) return {1, fmt::format("bad duration {}: write it like 30s, 10m or 2h\n", a[i])};
      lasting = Control::DrainFor{std::chrono::duration_cast<std::chrono::milliseconds>(*d), a[i]};
    } else {
      return {1, fmt::format("unexpected argument {}\n", a[i])};
    }
  }
  auto done = control.drain(a[1], on, lasting, user, reason);
  if (!done) return {1, done.error().message + "\n"};
  const std::string what = fmt::format("{} {} address{}", on ? "drained" : "undrained", done->addresses,
                                       done->addresses == 1 ? "" : "es");
  if (!done->unsaved) return {0, what + "\n"};
  // The change stays in effect: taking it back would fight the operator (a drain is usually
  // urgent), while telling them lets them fix the file or accept that a restart forgets it.
  return {1, fmt::format("{} in memory, but {}\nthe change is in effect now and is lost when gslbd restarts{}\n",
                         what, *done->unsaved, on ? "" : " (the old file would drain it again)")};
}

// gslbctl explain NAME [--type TYPE] [--client IP] [--ecs PREFIX]
Reply explain_name(const Control& control, const std::vector<std::string>& a, bool json) {
  if (a.size() < 2) return {1, "usage: gslbctl explain NAME [--type TYPE] [--client IP] [--ecs PREFIX]\n"};
  uint16_t qtype = dns::rrtype::A;
  ExplainClient client;
  if (a.size() % 2 != 0) return {1, fmt::format("{} needs a value\n", a.back())};
  for (size_t i = 2; i + 1 < a.size(); i += 2) {
    if (a[i] == "--type" && dns::rrtype_from_text(a[i + 1]) != 0) {
      qtype = dns::rrtype_from_text(a[i + 1]);
    } else if (a[i] == "--client" && core::IpAddress::parse(a[i + 1])) {
      client.address = core::IpAddress::parse(a[i + 1]);
    } else if (a[i] == "--ecs" && core::Prefix::parse(a[i + 1])) {
      // As a resolver sends it: the address cut to its prefix (RFC 7871 §6).
      core::Prefix p = *core::Prefix::parse(a[i + 1]);
      for (unsigned b = p.length; b < p.address.size() * 8; ++b)
        p.address.bytes[b / 8] &= uint8_t(~(0x80 >> (b % 8)));
      client.ecs = p;
    } else {
      return {1, fmt::format("bad option {} {}\n", a[i], a[i + 1])};
    }
  }
  const Loaded& loaded = control.loaded();
  // A dynamic name asked for A or AAAA: the pools' detail, as it always was.
  if (qtype == dns::rrtype::A || qtype == dns::rrtype::AAAA)
    if (auto text = explain(*loaded.engine, a[1], qtype, client, json)) return {0, *text};
  return {0, explain_any(loaded.zones, *loaded.engine, a[1], qtype, client, json)};
}

// gslbctl ds ZONE: the DS records to give the parent of a signed zone.
Reply ds(const Control& control, const std::vector<std::string>& a) {
  if (a.size() != 2) return {1, "usage: gslbctl ds ZONE\n"};
  const std::string apex = dns::name_from_text(a[1]);
  for (const auto& z : control.loaded().zones) {
    if (z->apex != apex) continue;
    std::string body;
    for (const auto& ds : dns::ds_records(*z)) body += ds + "\n";
    if (body.empty()) return {1, fmt::format("zone {} is not signed (no dnssec keys with the SEP flag)\n", a[1])};
    return {0, body};
  }
  return {1, fmt::format("{} is not a zone gslbd serves\n", a[1])};
}

// Every command that answers at once.
Reply answer_now(Control& control, const std::vector<std::string>& args, const std::string& user) {
  if (args.empty()) return {1, "no command\n"};
  bool json = false;
  std::vector<std::string> a;
  for (const auto& s : args) {
    if (s == "--json") json = true;
    else a.push_back(s);
  }
  const std::string& cmd = a.empty() ? args[0] : a[0];
  if (cmd == "explain") return explain_name(control, a, json);
  if (cmd == "ds") return ds(control, a);
  if (cmd == "drain" || cmd == "undrain") return drain(control, a, cmd == "drain", user);
  if (cmd == "verdicts") return {0, control.verdicts().snapshot()};
  if (cmd == "zones") return {0, json ? zones_json(control.loaded().zones) : zones_text(control.loaded().zones)};
  if (cmd == "events") {
    std::string body;
    for (const auto& e : control.events().recent()) body += (json ? e.json : e.line) + "\n";
    return {0, body};
  }
  return {1, fmt::format("unknown command {}\n", cmd)};
}

// gslbctl status: 2 ms of rows per loop turn, so that publishes, checks and other clients go
// on between slices; a configuration applied meanwhile starts the report over on the new one.
// The job owns itself and is freed from its timer's callback once it has replied.
class StatusJob {
 public:
  static void start(Control& control, bool json, std::function<void(Reply)> reply) {
    auto* job = new StatusJob(control, json, std::move(reply));
    job->timer_.start(0);
  }

 private:
  StatusJob(Control& control, bool json, std::function<void(Reply)> reply)
      : control_(control), json_(json), loads_(control.loads()), builder_(json), reply_(std::move(reply)),
        timer_(control.loop(), [this] { slice(); }) {}

  void slice() {
    if (control_.loads() != loads_) {
      loads_ = control_.loads();
      builder_ = StatusBuilder(json_);
    }
    const pool::Engine& engine = *control_.loaded().engine;
    if (!builder_.step(engine, std::chrono::steady_clock::now(), control_.drains(), std::chrono::milliseconds(2))) {
      timer_.start(0);
      return;
    }
    std::string body = std::move(builder_.text());
    if (const cluster::Link* link = control_.verdicts().cluster()) {
      if (json_) {  // {...}\n: the cluster goes in as a member
        body.resize(body.rfind('}'));
        body += ",\"cluster\":" + cluster_json(*link, engine) + "}\n";
      } else {
        body += cluster_text(*link, engine);
      }
    }
    reply_({0, std::move(body)});
    delete this;  // the timer closes; libuv frees its handle after this callback returns
  }

  Control& control_;
  bool json_;
  uint64_t loads_;
  StatusBuilder builder_;
  std::function<void(Reply)> reply_;
  io::Timer timer_;
};

}  // namespace

void run_command(Control& control, const std::vector<std::string>& args, const std::string& user,
                 std::function<void(Reply)> reply) {
  std::string cmd;
  bool json = false;
  for (const auto& s : args) {
    if (s == "--json") json = true;
    else if (cmd.empty()) cmd = s;
  }
  if (cmd == "status") {
    StatusJob::start(control, json, std::move(reply));
    return;
  }
  if (cmd != "reload" && cmd != "check-config") {
    reply(answer_now(control, args, user));
    return;
  }
  auto done = [cmd, reply = std::move(reply)](const core::Errors& errors) {
    std::string body;
    bool failed = false;
    for (const auto& e : errors) {
      body += e.to_string() + "\n";
      failed = failed || !e.message.starts_with("note: ");
    }
    if (!failed) return reply({0, body + (cmd == "reload" ? "reloaded\n" : "configuration ok\n")});
    reply({1, body + fmt::format("{} error{}; the running configuration is unchanged\n",
                                 errors.size(), errors.size() == 1 ? "" : "s")});
  };
  if (cmd == "reload") control.reload(std::move(done));
  else control.check_config(std::move(done));
}

}  // namespace gslb::daemon
