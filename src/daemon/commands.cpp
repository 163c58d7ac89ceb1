#include "daemon/commands.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "core/duration.hpp"
#include "daemon/report.hpp"

namespace gslb::daemon {

namespace {

// gslbctl drain|undrain ADDRESS|POOL [--for DURATION]
Reply drain(Control& control, const std::vector<std::string>& a, bool on) {
  if (a.size() < 2) return {1, fmt::format("usage: gslbctl {} ADDRESS|POOL{}\n", a[0], on ? " [--for DURATION]" : "")};
  std::optional<Control::DrainFor> lasting;
  for (size_t i = 2; i < a.size(); ++i) {
    if (on && a[i] == "--for" && i + 1 < a.size()) {
      auto d = core::parse_duration(a[++i]);
      if (!d) return {1, fmt::format("bad duration {}: write it like 30s, 10m or 2h\n", a[i])};
      lasting = Control::DrainFor{std::chrono::duration_cast<std::chrono::milliseconds>(*d), a[i]};
    } else {
      return {1, fmt::format("unexpected argument {}\n", a[i])};
    }
  }
  auto done = control.drain(a[1], on, lasting);
  if (!done) return {1, done.error().message + "\n"};
  const std::string what = fmt::format("{} {} address{}", on ? "drained" : "undrained", done->addresses,
                                       done->addresses == 1 ? "" : "es");
  if (!done->unsaved) return {0, what + "\n"};
  // The change stays in effect: taking it back would fight the operator (a drain is usually
  // urgent), while telling them lets them fix the file or accept that a restart forgets it.
  return {1, fmt::format("{} in memory, but {}\nthe change is in effect now and is lost when gslbd restarts{}\n",
                         what, *done->unsaved, on ? "" : " (the old file would drain it again)")};
}

// gslbctl explain NAME [--type A|AAAA] [--client IP]
Reply explain_name(const Control& control, const std::vector<std::string>& a, bool json) {
  if (a.size() < 2) return {1, "usage: gslbctl explain NAME [--type A|AAAA] [--client IP]\n"};
  uint16_t qtype = dns::rrtype::A;
  std::optional<core::IpAddress> client;
  if (a.size() % 2 != 0) return {1, fmt::format("{} needs a value\n", a.back())};
  for (size_t i = 2; i + 1 < a.size(); i += 2) {
    if (a[i] == "--type" && (a[i + 1] == "A" || a[i + 1] == "AAAA")) {
      qtype = a[i + 1] == "A" ? dns::rrtype::A : dns::rrtype::AAAA;
    } else if (a[i] == "--client" && core::IpAddress::parse(a[i + 1])) {
      client = core::IpAddress::parse(a[i + 1]);
    } else {
      return {1, fmt::format("bad option {} {}\n", a[i], a[i + 1])};
    }
  }
  auto text = explain(*control.loaded().engine, a[1], qtype, client, json);
  if (!text) return {1, fmt::format("{} is not a dynamic name (gslbd.toml has no [[name]] for it)\n", a[1])};
  return {0, *text};
}

}  // namespace

void run_command(Control& control, const std::vector<std::string>& args, std::function<void(Reply)> reply) {
  std::string cmd;
  for (const auto& s : args)
    if (s != "--json" && cmd.empty()) cmd = s;
  if (cmd != "reload" && cmd != "check-config") {
    reply(run_command(control, args));
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

Reply run_command(Control& control, const std::vector<std::string>& args) {
  if (args.empty()) return {1, "no command\n"};
  bool json = false;
  std::vector<std::string> a;
  for (const auto& s : args) {
    if (s == "--json") json = true;
    else a.push_back(s);
  }
  const std::string& cmd = a.empty() ? args[0] : a[0];
  const pool::Engine& engine = *control.loaded().engine;
  const auto now = std::chrono::steady_clock::now();
  if (cmd == "status") {
    const cluster::Link* link = control.verdicts().cluster();
    if (!link) return {0, json ? status_json(engine, now) : status_text(engine, now)};
    if (!json) return {0, status_text(engine, now) + cluster_text(*link, engine)};
    std::string body = status_json(engine, now);  // {...}\n: the cluster goes in as a member
    body.resize(body.rfind('}'));
    return {0, body + ",\"cluster\":" + cluster_json(*link, engine) + "}\n"};
  }
  if (cmd == "explain") return explain_name(control, a, json);
  if (cmd == "drain" || cmd == "undrain") return drain(control, a, cmd == "drain");
  if (cmd == "verdicts") return {0, control.verdicts().snapshot()};
  if (cmd == "events") {
    std::string body;
    for (const auto& e : control.events().recent()) body += e + "\n";
    return {0, body};
  }
  return {1, fmt::format("unknown command {}\n", cmd)};
}

}  // namespace gslb::daemon
