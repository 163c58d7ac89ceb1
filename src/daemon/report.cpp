#include "daemon/report.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <optional>

#include "core/logfmt.hpp"
#include "dns/ixfr.hpp"
#include "dns/wire.hpp"

namespace gslb::daemon {

namespace {

using health::State;

std::string ago(health::MonoTime then, health::MonoTime now) {
  if (then == health::MonoTime{}) return "-";
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}m", s / 60);
  return fmt::format("{}h", s / 3600);
}

std::string ms(core::Duration d) {
  return fmt::format("{:.1f}ms", std::chrono::duration<double, std::milli>(d).count());
}

// Pool names that contain target `id`.
std::string pools_of(const pool::Engine& e, size_t id) {
  std::string out;
  for (const auto& [p, a] : e.uses(id)) out += (out.empty() ? "" : ",") + e.config().pools[p].name;
  return out;
}

size_t target_id(const pool::Engine& e, const core::IpAddress& ip, const std::string& probe) {
  for (size_t i = 0; i < e.targets().size(); ++i)
    if (e.targets()[i].ip == ip && e.targets()[i].probe == probe) return i;
  return 0;
}

// The addresses of every alternative of a dynamic answer, deduplicated, in first-seen order.
std::vector<std::string> answer_set(const dns::DynamicAnswer* a) {
  std::vector<std::string> out;
  if (!a || a->kind != dns::DynamicAnswer::Kind::addresses) return out;
  for (const auto& alt : a->alternatives)
    for (const auto& ip : alt.addresses) {
      std::string s = ip.to_string();
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    }
  return out;
}

std::string kind_text(const dns::DynamicAnswer* a) {
  if (!a) return "NODATA";
  switch (a->kind) {
    case dns::DynamicAnswer::Kind::addresses: return "NOERROR";
    case dns::DynamicAnswer::Kind::nodata: return "NODATA";
    case dns::DynamicAnswer::Kind::servfail: return "SERVFAIL";
  }
  return "?";
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string json_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + json_string(v[i]);
  return out + "]";
}

std::string active_names(const pool::Engine& e, size_t n) {
  std::vector<std::string> names;
  for (size_t p : e.active(n)) names.push_back(e.config().pools[p].name);
  return names.empty() ? "(none: all down)" : join(names, ",");
}

}  // namespace

std::string json_string(std::string_view s) { return core::json_quote(s); }

namespace {

std::string stamp(double unix_seconds) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time_t(unix_seconds)));
}

// The serial IXFR can start from (the oldest version the journal reaches back to), if any,
// and how many versions it holds.
std::pair<std::optional<uint32_t>, size_t> ixfr_history(const dns::Zone& z) {
  if (!z.journal || z.journal->deltas.empty()) return {std::nullopt, 0};
  return {z.journal->deltas.front()->from(), z.journal->deltas.size()};
}

std::vector<std::string> acl(const dns::Zone& z) {
  std::vector<std::string> out;
  for (const auto& p : z.allow_transfer) out.push_back(fmt::format("{}/{}", p.address.to_string(), p.length));
  return out;
}

}  // namespace

std::string zones_text(const std::vector<std::shared_ptr<const dns::Zone>>& zones) {
  std::string out = fmt::format("{:<28} {:<11} {:<9} {:<21} {}\n", "ZONE", "SERIAL", "RECORDS", "LOADED",
                                "TRANSFERS");
  for (const auto& z : zones) {
    const auto allowed = acl(*z);
    out += fmt::format("{:<28} {:<11} {:<9} {:<21} {} served; {}\n", dns::name_to_text(z->apex), z->serial(),
                       z->records(), stamp(z->loaded_at), z->transfers.load(std::memory_order_relaxed),
                       allowed.empty() ? "refused to all" : "allowed to " + join(allowed, ", "));
    out += fmt::format("  file {}\n", z->file);
    const auto [from, versions] = ixfr_history(*z);
    out += from ? fmt::format("  ixfr from serial {} ({} version{})\n", *from, versions, versions == 1 ? "" : "s")
                : std::string("  ixfr: no history yet (AXFR form)\n");
  }
  return out;
}

std::string zones_json(const std::vector<std::shared_ptr<const dns::Zone>>& zones) {
  std::string out = "{\"zones\":[";
  for (size_t i = 0; i < zones.size(); ++i) {
    const dns::Zone& z = *zones[i];
    const auto [from, versions] = ixfr_history(z);
    out += fmt::format("{}{{\"zone\":{},\"serial\":{},\"records\":{},\"loaded\":{},\"file\":{},"
                       "\"transfers\":{},\"allow_transfer\":{},\"ixfr_from\":{},\"ixfr_versions\":{}}}",
                       i ? "," : "", json_string(dns::name_to_text(z.apex)), z.serial(), z.records(),
                       json_string(stamp(z.loaded_at)), json_string(z.file),
                       z.transfers.load(std::memory_order_relaxed), json_list(acl(z)),
                       from ? std::to_string(*from) : std::string("null"), versions);
  }
  return out + "]}\n";
}

namespace {

// A drain's end as RFC 3339 UTC, or "" for one that lasts until undrained.
std::string until_text(int64_t until_ms) {
  if (until_ms == 0) return {};
  const std::time_t t = std::time_t(until_ms / 1000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t));
}

// Appends `s` left-aligned in `width` columns and one space: fmt's "{:<28} " counts code
// points to pad, which was a quarter of a 100,000-name status. Names and addresses here are
// ASCII (presentation form), so bytes are columns.
void cell(std::string& out, std::string_view s, size_t width) {
  out += s;
  out.append(s.size() < width ? width - s.size() + 1 : 1, ' ');
}

std::string_view mode_text(const pool::Name& n) {
  return n.mode == pool::Mode::failover ? "failover" : "weighted";
}

void name_row_text(std::string& out, const pool::Engine& e, size_t i) {
  const auto& n = e.config().names[i];
  const auto a = answer_set(e.answer(i, dns::rrtype::A));
  const auto aaaa = answer_set(e.answer(i, dns::rrtype::AAAA));
  cell(out, n.fqdn, 28);
  cell(out, mode_text(n), 9);
  cell(out, active_names(e, i), 20);
  out += a.empty() ? "-" : join(a, ",");
  out += " / ";
  out += aaaa.empty() ? "-" : join(aaaa, ",");
  out += '\n';
}

void target_row_text(std::string& out, const pool::Engine& e, size_t i, health::MonoTime now) {
  const auto& t = e.target(i);
  cell(out, e.targets()[i].ip.to_string(), 26);
  cell(out, e.targets()[i].probe, 16);
  cell(out, pools_of(e, i), 18);
  cell(out, health::to_string(t.state()), 8);
  cell(out, t.drained() ? "yes" : "no", 6);
  cell(out, t.checks() ? t.reason() : "-", 24);
  cell(out, t.checks() ? ms(t.latency()) : "-", 9);
  cell(out, ago(t.since(), now), 6);
  out += t.passes() ? fmt::format("{} passed\n", t.passes()) : fmt::format("{} failed\n", t.fails());
}

void name_row_json(std::string& out, const pool::Engine& e, size_t i) {
  const auto& n = e.config().names[i];
  std::vector<std::string> active;
  for (size_t p : e.active(i)) active.push_back(e.config().pools[p].name);
  out += fmt::format("{}{{\"name\":{},\"mode\":{},\"pools\":{},\"a\":{},\"aaaa\":{}}}", i ? "," : "",
                     json_string(n.fqdn), json_string(mode_text(n)), json_list(active),
                     json_list(answer_set(e.answer(i, dns::rrtype::A))),
                     json_list(answer_set(e.answer(i, dns::rrtype::AAAA))));
}

void target_row_json(std::string& out, const pool::Engine& e, size_t i, health::MonoTime now) {
  const auto& t = e.target(i);
  const auto since = t.since() == health::MonoTime{}
                         ? -1
                         : std::chrono::duration_cast<std::chrono::milliseconds>(now - t.since()).count();
  out += fmt::format(
      "{}{{\"address\":{},\"probe\":{},\"pools\":{},\"state\":{},\"drained\":{},\"reason\":{},"
      "\"latency_ms\":{:.3f},\"since_ms\":{},\"passes\":{},\"fails\":{},\"checks\":{}}}",
      i ? "," : "", json_string(e.targets()[i].ip.to_string()), json_string(e.targets()[i].probe),
      json_string(pools_of(e, i)), json_string(health::to_string(t.state())),
      t.drained() ? "true" : "false", json_string(t.reason()),
      std::chrono::duration<double, std::milli>(t.latency()).count(), since, t.passes(), t.fails(),
      t.checks());
}

void drains_text(std::string& out, const DrainBook& drains) {
  if (drains.all().empty()) return;
  out += fmt::format("\n{:<26} {:<16} {:<21} {}\n", "DRAINED", "BY", "UNTIL", "REASON");
  for (const auto& [ip, d] : drains.all())
    out += fmt::format("{:<26} {:<16} {:<21} {}\n", ip, d.by.empty() ? "-" : d.by,
                       d.until ? until_text(d.until) : "undrain", d.reason.empty() ? "-" : d.reason);
}

void drains_json(std::string& out, const DrainBook& drains) {
  out += "],\"drains\":[";
  bool first = true;
  for (const auto& [ip, d] : drains.all()) {
    out += fmt::format("{}{{\"address\":{},\"by\":{},\"until\":{},\"reason\":{}}}", first ? "" : ",",
                       json_string(ip), json_string(d.by), d.until ? json_string(until_text(d.until)) : "null",
                       json_string(d.reason));
    first = false;
  }
  out += "]}\n";
}

}  // namespace

bool StatusBuilder::step(const pool::Engine& e, health::MonoTime now, const DrainBook& drains,
                         std::chrono::nanoseconds budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  // The clock is read once every 256 rows: a row costs about a microsecond.
  auto spent = [&, rows = size_t(0)]() mutable {
    return ++rows % 256 == 0 && std::chrono::steady_clock::now() >= until;
  };
  if (part_ == Part::head) {
    out_ = json_ ? "{\"names\":[" : fmt::format("{:<28} {:<9} {:<20} {}\n", "NAME", "MODE", "POOL", "ANSWER A / AAAA");
    part_ = Part::names;
  }
  for (; part_ == Part::names && next_ < e.config().names.size(); ++next_) {
    if (spent()) return false;
    json_ ? name_row_json(out_, e, next_) : name_row_text(out_, e, next_);
  }
  if (part_ == Part::names) {
    out_ += json_ ? "],\"addresses\":["
                  : fmt::format("\n{:<26} {:<16} {:<18} {:<8} {:<6} {:<24} {:<9} {:<6} {}\n", "ADDRESS",
                                "PROBE", "POOLS", "STATE", "DRAIN", "LAST RESULT", "LATENCY", "SINCE",
                                "CONSECUTIVE");
    part_ = Part::targets;
    next_ = 0;
  }
  for (; part_ == Part::targets && next_ < e.targets().size(); ++next_) {
    if (spent()) return false;
    json_ ? target_row_json(out_, e, next_, now) : target_row_text(out_, e, next_, now);
  }
  if (part_ == Part::targets) {
    json_ ? drains_json(out_, drains) : drains_text(out_, drains);
    part_ = Part::done;
  }
  return true;
}

namespace {

std::string status_at_once(const pool::Engine& e, health::MonoTime now, const DrainBook& drains, bool json) {
  StatusBuilder b(json);
  while (!b.step(e, now, drains, std::chrono::hours(1))) {
  }
  return std::move(b.text());
}

}  // namespace

std::string status_text(const pool::Engine& e, health::MonoTime now, const DrainBook& drains) {
  return status_at_once(e, now, drains, false);
}

std::string status_json(const pool::Engine& e, health::MonoTime now, const DrainBook& drains) {
  return status_at_once(e, now, drains, true);
}

namespace {

// "n1=down n2=up n3=-": every live node's vote on `name` ("-": none yet), in node order.
std::string votes_by_node(const cluster::Board& b, const std::string& name) {
  std::string out;
  const auto& votes = b.votes(name);
  for (const std::string& node : b.live_nodes()) {
    auto v = votes.find(node);
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", node, v == votes.end() ? "-" : v->second ? "down" : "up");
  }
  return out;
}

std::string shared_state(const pool::Engine& e, size_t id) {
  const auto& s = e.shared(id);
  return s ? (*s ? "down" : "up") : "unknown";
}

}  // namespace

std::string cluster_text(const cluster::Link& link, const pool::Engine& e) {
  const cluster::Board& b = link.board();
  std::string live;
  for (const auto& n : b.live_nodes()) live += (live.empty() ? "" : " ") + n;
  std::string out = fmt::format("\ncluster: node {}, {}, down_when {}, live {} ({})\n", b.self(),
                                link.joined() ? "joined" : "degraded (deciding alone)",
                                b.rule().to_string(), b.live_nodes().size(), live);
  out += fmt::format("{:<26} {:<16} {:<8} {:<6} {}\n", "ADDRESS", "PROBE", "SHARED", "DOWN", "VOTES");
  for (size_t i = 0; i < e.targets().size(); ++i) {
    const std::string name = cluster::target_name(e.targets()[i].ip.to_string(), e.targets()[i].probe);
    out += fmt::format("{:<26} {:<16} {:<8} {:<6} {}\n", e.targets()[i].ip.to_string(),
                       e.targets()[i].probe, shared_state(e, i), b.tally(name).text(), votes_by_node(b, name));
  }
  return out;
}

std::string cluster_json(const cluster::Link& link, const pool::Engine& e) {
  const cluster::Board& b = link.board();
  std::string live;
  for (const auto& n : b.live_nodes()) live += (live.empty() ? "" : ",") + json_string(n);
  std::string out = fmt::format(R"({{"node":{},"joined":{},"down_when":{},"live":[{}],"targets":[)",
                                json_string(b.self()), link.joined() ? "true" : "false",
                                json_string(b.rule().to_string()), live);
  for (size_t i = 0; i < e.targets().size(); ++i) {
    const std::string name = cluster::target_name(e.targets()[i].ip.to_string(), e.targets()[i].probe);
    std::string votes;
    for (const auto& [node, down] : b.votes(name))
      if (b.live(node)) votes += fmt::format("{}{}:\"{}\"", votes.empty() ? "" : ",", json_string(node), down ? "down" : "up");
    out += fmt::format(R"({}{{"address":{},"probe":{},"shared":"{}","down":"{}","votes":{{{}}}}})", i ? "," : "",
                       json_string(e.targets()[i].ip.to_string()), json_string(e.targets()[i].probe),
                       shared_state(e, i), b.tally(name).text(), votes);
  }
  return out + "]}";
}

std::optional<std::string> explain(const pool::Engine& e, const std::string& fqdn_in,
                                   uint16_t qtype, const ExplainClient& client, bool json) {
  std::string fqdn = fqdn_in.empty() || fqdn_in.back() == '.' ? fqdn_in : fqdn_in + ".";
  const std::string wire = dns::name_from_text(fqdn);
  const auto& names = e.config().names;
  auto wires = e.dynamic_names();
  size_t n = 0;
  while (n < names.size() && wires[n] != wire) ++n;
  if (n == names.size()) return std::nullopt;
  const pool::Name& configured = names[n];
  const auto& statuses = e.pool_statuses();
  std::vector<size_t> active = e.active(n);
  const bool v4 = qtype == dns::rrtype::A;
  const char* ret = configured.ret == pool::Return::all ? "all" : configured.ret == pool::Return::one ? "one" : "some";
  const dns::DynamicAnswer* ans = e.answer(wire, qtype);
  // A mapped name: the pools as this client's class orders them, and that class's answer.
  pool::Name seen = configured;
  std::string jmap = "null";
  std::string map_text;
  if (configured.map) {
    const geo::Map& map = *configured.map;
    geo::Match m;
    std::string from = "no client given: the default";
    if (client.ecs) {
      m = client.ecs->length == 0 ? geo::Match{} : map.lookup(client.ecs->address, client.ecs->length);
      from = fmt::format("ECS {}/{}", client.ecs->address.to_string(), client.ecs->length);
    } else if (client.address) {
      m = map.lookup(*client.address);
      from = fmt::format("source {}", client.address->to_string());
    }
    const geo::Order& order = map.classes()[m.cls];
    seen = pool::ordered_for(e.config(), configured, order);
    active = pool::active_pools(seen, statuses);
    if (ans && m.cls < ans->classes.size()) ans = &ans->classes[m.cls];
    std::vector<std::string> regions = order.regions;
    for (const auto& [region, weight] : order.weights) regions.push_back(fmt::format("{}={}", region, weight));
    map_text = fmt::format("client ({}): map {} rule {}, scope /{}, regions {}\n", from, map.config().name,
                           map.rule_text(m.rule), m.scope, join(regions, ", "));
    jmap = fmt::format("{{\"map\":{},\"rule\":{},\"scope\":{},\"regions\":{}}}", json_string(map.config().name),
                       json_string(map.rule_text(m.rule)), m.scope, json_list(regions));
  }
  const pool::Name& name = seen;

  std::string text = fmt::format("{} {} (mode {}, return {}{}, all_down {}, ttl {})\n", name.fqdn,
                                 v4 ? "A" : "AAAA",
                                 name.mode == pool::Mode::failover ? "failover" : "weighted", ret,
                                 name.ret == pool::Return::some ? fmt::format(" {}", name.count) : "",
                                 pool::to_string(name.all_down), name.ttl);
  text += map_text;
  std::string jpools;
  bool chosen_seen = false;
  for (const auto& m : name.pools) {
    const pool::Pool& p = e.config().pools[m.pool];
    const bool chosen = std::find(active.begin(), active.end(), m.pool) != active.end();
    std::string verdict = chosen ? "chosen"
                          : statuses[m.pool].usable
                              ? (name.mode == pool::Mode::failover && chosen_seen ? "not needed: an earlier pool is chosen" : "usable")
                              : "skipped: below min_healthy";
    chosen_seen = chosen_seen || chosen;
    text += fmt::format("  pool {}{}{}: {}/{} healthy, min {}: {}\n", p.name,
                        p.region.empty() ? "" : fmt::format(" ({})", p.region),
                        name.mode == pool::Mode::weighted ? fmt::format(" weight {}", m.weight) : "",
                        statuses[m.pool].healthy, p.addresses.size(), p.min_healthy, verdict);
    std::string jaddrs;
    for (const auto& a : p.addresses) {
      const auto& t = e.target(target_id(e, a.ip, p.probe));
      std::string why;
      if (a.ip.is_v4() != v4) why = fmt::format("not {}", v4 ? "IPv4" : "IPv6");
      else if (t.drained()) why = "drained";
      else if (t.state() == State::down) why = fmt::format("down: {} ({} failed)", t.reason(), t.fails());
      else if (t.state() == State::unknown) why = "not checked yet";
      else if (!chosen) why = "its pool is not chosen";
      text += fmt::format("    {:<26} {:<8} {}{}\n", a.ip.to_string(), health::to_string(t.state()),
                          why.empty() ? "in the answer" : "skipped: ",
                          why.empty() ? (t.reason().empty() ? "" : fmt::format(" ({})", t.reason())) : why);
      jaddrs += fmt::format("{}{{\"address\":{},\"state\":{},\"skipped\":{}}}", jaddrs.empty() ? "" : ",",
                            json_string(a.ip.to_string()), json_string(health::to_string(t.state())),
                            why.empty() ? "null" : json_string(why));
    }
    jpools += fmt::format("{}{{\"pool\":{},\"healthy\":{},\"min_healthy\":{},\"verdict\":{},\"addresses\":[{}]}}",
                          jpools.empty() ? "" : ",", json_string(p.name), statuses[m.pool].healthy,
                          p.min_healthy, json_string(verdict), jaddrs);
  }
  std::vector<std::string> sets;
  if (ans && ans->kind == dns::DynamicAnswer::Kind::addresses)
    for (const auto& alt : ans->alternatives) {
      std::vector<std::string> ips;
      for (const auto& ip : alt.addresses) ips.push_back(ip.to_string());
      if (!ips.empty()) sets.push_back(fmt::format("[{}]", join(ips)));
    }
  const bool rotate = ans && ans->pick == dns::DynamicAnswer::Pick::cycle;
  text += fmt::format("answer now: {}, ttl {}{}\n", sets.empty() && ans && ans->kind == dns::DynamicAnswer::Kind::addresses ? "NODATA" : kind_text(ans),
                      name.ttl,
                      sets.empty() ? "" : fmt::format(", {} among: {}", rotate ? "each query the next" : "picked by weight", join(sets, " ")));
  if (active.empty()) text += fmt::format("no usable pool: all_down = {}\n", pool::to_string(name.all_down));
  if (!configured.map && (client.address || client.ecs))
    text += fmt::format("client {}: no client-specific policy applies (the name has no map)\n",
                        client.address ? client.address->to_string()
                                       : fmt::format("ECS {}/{}", client.ecs->address.to_string(),
                                                     client.ecs->length));
  if (!json) return text;
  return fmt::format("{{\"name\":{},\"type\":{},\"client\":{},\"pools\":[{}],\"rcode\":{},\"ttl\":{},\"pick\":{},\"answers\":{}}}\n",
                     json_string(name.fqdn), json_string(v4 ? "A" : "AAAA"), jmap, jpools,
                     json_string(sets.empty() && ans && ans->kind == dns::DynamicAnswer::Kind::addresses ? "NODATA" : kind_text(ans)),
                     name.ttl, json_string(rotate ? "rotate" : "weighted"), json_list(sets));
}

}  // namespace gslb::daemon
