#include "daemon/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <tuple>

#include "config/probe_config.hpp"
#include "core/file.hpp"
#include "core/log.hpp"
#include "daemon/builtin.hpp"
#include "dns/axfr.hpp"
#include "dns/dnssec.hpp"
#include "dns/ixfr.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"
#include "pool/pool.hpp"

namespace gslb::daemon {

namespace {

// gslbd.toml is small; this only stops a mistaken path (a log, an image) from being read whole.
constexpr uint64_t kMaxConfigBytes = 16 << 20;

// The text of a config file, or nullopt with the reason in `text_out`.
std::optional<std::string> read_file(const std::string& path, std::string* text_out) {
  if (path.starts_with(kBuiltinPrefix)) {
    const char* t = builtin_file(path.substr(kBuiltinPrefix.size()));
    if (!t) return std::nullopt;
    *text_out = t;
    return *text_out;
  }
  auto text = core::read_regular_file(path, kMaxConfigBytes);
  if (!text) {
    *text_out = text.error().message;
    return std::nullopt;
  }
  *text_out = std::move(*text);
  return *text_out;
}

}  // namespace

const dns::TsigKey* find_tsig_key(const std::vector<dns::TsigKey>& keys, const std::string& text_name) {
  std::string want = dns::name_from_text(text_name);
  dns::name_lower(want);
  auto k = std::find_if(keys.begin(), keys.end(), [&](const auto& x) { return x.name == want; });
  return k == keys.end() ? nullptr : &*k;
}

namespace {

bool same_prefixes(const std::vector<core::Prefix>& a, const std::vector<core::Prefix>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.address == y.address && x.length == y.length;
  });
}

bool same_keys(const std::vector<dns::TsigKey>& a, const std::vector<dns::TsigKey>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.name == y.name && x.algorithm == y.algorithm && x.secret == y.secret;
  });
}

// The zone `reuse` holds for `zc`, if none of the files it was read from changed since.
std::shared_ptr<const dns::Zone> unchanged_zone(const config::Zone& zc, const config::Limits& limits,
                                                const std::vector<dns::TsigKey>& keys,
                                                const std::vector<dns::TransferName>& transfer,
                                                const Reuse* reuse) {
  if (!reuse || std::tie(reuse->limits.include_depth, reuse->limits.includes,
                         reuse->limits.zone_records, reuse->limits.zone_bytes) !=
                    std::tie(limits.include_depth, limits.includes, limits.zone_records,
                             limits.zone_bytes))
    return nullptr;
  // A signed zone is signed anew on every load: the keys may have changed (a rollover) and its
  // signatures move forward.
  if (zc.dnssec.enabled) return nullptr;
  const std::string apex = dns::name_from_text(zc.name);
  for (const auto& z : reuse->zones) {
    if (z->apex != apex || z->file != zc.file || z->sources.empty() ||
        !same_prefixes(z->allow_transfer, zc.allow_transfer) || !same_keys(z->transfer_keys, keys))
      continue;
    // Its transfer view hangs on it: another set of fail-open addresses needs another zone.
    static const std::vector<dns::TransferName> kNone;
    if ((z->transfer_view ? z->transfer_view->transfer_names : kNone) != transfer) return nullptr;
    for (const auto& s : z->sources)
      if (!(core::stamp_of(s.path) == s)) return nullptr;
    return z;
  }
  return nullptr;
}

// probes/*.toml from disk, or the built-in ones for the built-in config.
std::optional<std::vector<probe::Spec>> read_probes(const std::string& dir, core::Errors& errors) {
  if (!dir.starts_with(kBuiltinPrefix)) return config::load_probes(dir, errors);
  std::vector<probe::Spec> specs;
  const std::string rel = dir.substr(kBuiltinPrefix.size()) + "/";
  bool ok = true;
  for (const BuiltinFile* f = kBuiltinFiles; f->path; ++f) {
    std::string path = f->path;
    if (!path.starts_with(rel) || !path.ends_with(".toml")) continue;
    auto spec = config::parse_probe(f->text, std::string(kBuiltinPrefix) + path, errors);
    if (spec) specs.push_back(std::move(*spec));
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return specs;
}

// What a secondary of `zc` gets at each dynamic name the zone holds (not one that a deeper
// served zone holds) with transfer_dynamic = "fail_open": the addresses the name answers when
// no pool is usable (pool::answer with none active: all_down's fail_open), at the name's TTL.
// A name whose all_down answers nothing (empty, servfail) gets no addresses. For a
// mapped name, the pools as configured: a secondary cannot tell clients apart.
std::vector<dns::TransferName> fail_open_names(const config::Config& cfg, const config::Zone& zc) {
  std::vector<dns::TransferName> out;
  if (zc.transfer_dynamic != config::TransferDynamic::fail_open) return out;
  auto wire = [](const std::string& text) {
    std::string w = dns::name_from_text(text);
    dns::name_lower(w);
    return w;
  };
  const std::string apex = wire(zc.name);
  for (const pool::Name& n : cfg.gtm.names) {
    const std::string name = wire(n.fqdn);
    if (name.empty() || !dns::name_is_subdomain(name, apex)) continue;
    bool deeper = false;
    for (const auto& other : cfg.zones) {
      const std::string o = wire(other.name);
      deeper = deeper || (o.size() > apex.size() && dns::name_is_subdomain(name, o));
    }
    if (deeper) continue;
    dns::TransferName t{name, n.ttl, {}};
    for (uint16_t qtype : {dns::rrtype::A, dns::rrtype::AAAA}) {
      const auto answer = pool::answer(cfg.gtm, n, {}, [](size_t, size_t) { return false; }, qtype);
      if (answer.kind != dns::DynamicAnswer::Kind::addresses) continue;
      for (const auto& alt : answer.alternatives)
        for (const auto& ip : alt.addresses)
          if (std::find(t.addresses.begin(), t.addresses.end(), ip) == t.addresses.end())
            t.addresses.push_back(ip);
    }
    // Kept without addresses too: in a signed zone the NSEC there must then stop listing them.
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// Signs ahead what a failover will answer: for each dynamic name in the zone, each pool's
// whole IPv4 and IPv6 address sets (return "all", fail_open) and, for return "one", each
// address alone. A health change to one of these then publishes signatures made at load.
void presign(const dns::Signer& signer, const pool::Config& gtm, const std::string& apex,
             const std::vector<std::string>& dynamic) {
  auto sign = [&](const std::string& owner, uint32_t ttl, const std::vector<const core::IpAddress*>& ips, bool v4) {
    std::vector<dns::Rdata> rdata;
    for (const auto* ip : ips) {
      if (ip->is_v4() != v4) continue;
      dns::Rdata d;
      d.wire = std::string_view(reinterpret_cast<const char*>(ip->bytes.data()), ip->size());
      rdata.push_back(d);
    }
    if (!rdata.empty()) signer.sign(owner, dns::RRset{v4 ? dns::rrtype::A : dns::rrtype::AAAA, ttl, rdata});
  };
  for (size_t i = 0; i < dynamic.size() && i < gtm.names.size(); ++i) {
    if (!dns::name_is_subdomain(dynamic[i], apex)) continue;
    const pool::Name& n = gtm.names[i];
    for (const auto& m : n.pools) {
      std::vector<const core::IpAddress*> all;
      for (const auto& a : gtm.pools[m.pool].addresses) all.push_back(&a.ip);
      for (bool v4 : {true, false}) {
        sign(dynamic[i], n.ttl, all, v4);
        if (n.ret == pool::Return::one && all.size() > 1)
          for (const auto* ip : all) sign(dynamic[i], n.ttl, {ip}, v4);
      }
    }
  }
}

// Signatures are made again `refresh` before the first of them expires, so a signature served
// has at least `refresh` left: that must cover the longest TTL a resolver may keep a signed
// RRset for, or the RRset outlives its RRSIG in caches. A `refresh` written shorter is an error
// at it; the default (half of validity) is raised to that TTL while it stays below validity,
// else validity is too short. `longest` is the zone's, its dynamic names included.
bool refresh_covers_ttl(config::Dnssec& d, const dns::LongestTtl& longest, size_t zi,
                        const std::string& path, core::Errors& errors) {
  if (longest.ttl <= d.refresh) return true;
  const std::string whose = fmt::format("{} {} (TTL {})", dns::name_to_text(longest.owner),
                                        dns::rrtype_to_text(longest.type), longest.ttl);
  if (d.refresh_at.line) {
    errors.push_back(core::Error{path, d.refresh_at.line, d.refresh_at.col,
        fmt::format("zone[{}].dnssec.refresh: {}s is shorter than the longest TTL of a signed RRset, {}: "
                    "a resolver could keep it after its RRSIG expires; make it at least {}s",
                    zi, d.refresh, whose, longest.ttl)});
    return false;
  }
  if (longest.ttl < d.validity) {
    d.refresh = longest.ttl;
    return true;
  }
  const config::Position at = d.validity_at.line ? d.validity_at : d.at;
  errors.push_back(core::Error{path, at.line, at.col,
      fmt::format("zone[{}].dnssec.validity: {}s is not longer than the longest TTL of a signed RRset, {}: "
                  "a resolver could keep it after its RRSIG expires",
                  zi, d.validity, whose)});
  return false;
}

// Signs every zone that has a `dnssec` table, replacing it in `out.zones` (which holds the
// config's zones in order). The NSEC chain covers the dynamic names inside each zone too.
bool sign_zones(Loaded& out, std::vector<std::shared_ptr<dns::Zone>>& built,
                const std::vector<std::string>& dynamic, const std::string& path,
                const LoadOptions& options, core::Errors& errors) {
  const auto& gtm = out.config.gtm;
  const uint32_t now = options.now ? options.now : uint32_t(std::time(nullptr));
  bool ok = true;
  for (size_t zi = 0; zi < out.config.zones.size(); ++zi) {
    config::Zone& zc = out.config.zones[zi];
    if (!zc.dnssec.enabled) continue;
    const dns::Zone& zone = *out.zones[zi];
    dns::LongestTtl longest = dns::longest_signed_ttl(zone);
    std::vector<dns::DynamicName> names;
    for (size_t i = 0; i < dynamic.size(); ++i) {
      if (!dns::name_is_subdomain(dynamic[i], zone.apex)) continue;
      // Not if a more specific served zone holds it.
      bool deeper = false;
      for (const auto& z : out.zones)
        deeper = deeper || (z->apex.size() > zone.apex.size() && dns::name_is_subdomain(dynamic[i], z->apex));
      if (deeper) continue;
      if (gtm.names[i].ttl > longest.ttl) longest = dns::LongestTtl{gtm.names[i].ttl, dynamic[i], dns::rrtype::A};
      dns::DynamicName d{dynamic[i]};
      for (const auto& m : gtm.names[i].pools)
        for (const auto& a : gtm.pools[m.pool].addresses) (a.ip.is_v4() ? d.a : d.aaaa) = true;
      names.push_back(std::move(d));
    }
    if (!refresh_covers_ttl(zc.dnssec, longest, zi, path, errors)) {
      ok = false;
      continue;
    }
    dns::SignSpec spec;
    for (size_t k = 0; k < zc.dnssec.keys.size(); ++k)
      spec.keys.push_back(dns::KeyRef{zc.dnssec.keys[k], path, zc.dnssec.key_at[k].line,
                                      zc.dnssec.key_at[k].col});
    spec.validity = zc.dnssec.validity;
    spec.now = now;
    // Up to a tenth of the refresh window off the expiration (and never more than half of
    // what separates refresh from validity), so that zones loaded together do not all come
    // due together. 14d validity, 7d refresh: expiring 0 to 16.8 h early.
    const uint32_t spread = std::min(zc.dnssec.refresh / 10, (zc.dnssec.validity - zc.dnssec.refresh) / 2);
    spec.jitter = spread ? uint32_t(std::random_device{}() % spread) : 0;
    auto signed_zone = dns::sign_zone(zone, spec, names, errors);
    if (!signed_zone) {
      ok = false;
      continue;
    }
    presign(*signed_zone->signer, gtm, zone.apex, dynamic);
    built[zi] = signed_zone;
    out.zones[zi] = std::move(signed_zone);
  }
  return ok;
}

// The version of zone `apex` serving now, if a reload is loading the next one.
std::shared_ptr<const dns::Zone> previous_version(const Reuse* reuse, const std::string& apex) {
  if (!reuse) return nullptr;
  for (const auto& z : reuse->zones)
    if (z->apex == apex) return z;
  return nullptr;
}

// Whether the zone serving now was signed as `zc` asks: same keys, validity and refresh.
bool same_signing(const Reuse* reuse, const config::Zone& zc) {
  if (!reuse) return false;
  for (const auto& was : reuse->zone_configs)
    if (dns::name_from_text(was.name) == dns::name_from_text(zc.name))
      return was.dnssec.enabled && was.dnssec.keys == zc.dnssec.keys &&
             was.dnssec.validity == zc.dnssec.validity && was.dnssec.refresh == zc.dnssec.refresh;
  return false;
}

// What served_serials_text wrote: by zone apex (lower-cased wire), the serial served and the
// zone file's serial then. Lines that do not parse are skipped.
struct Served {
  uint32_t served = 0, file = 0;
};
std::map<std::string, Served> read_served_serials(const std::string& path) {
  std::map<std::string, Served> out;
  if (path.empty()) return out;
  constexpr uint64_t kMaxFile = 16 << 20;
  auto text = core::read_regular_file(path, kMaxFile);
  if (!text) return out;
  size_t at = 0;
  while (at < text->size()) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos) end = text->size();
    char name[256];
    unsigned long served = 0, file = 0;
    const std::string line = text->substr(at, end - at);
    if (std::sscanf(line.c_str(), "%255s %lu %lu", name, &served, &file) == 3 &&
        served <= UINT32_MAX && file <= UINT32_MAX) {
      std::string apex = dns::name_from_text(name);
      if (!apex.empty()) out[apex] = Served{uint32_t(served), uint32_t(file)};
    }
    at = end + 1;
  }
  return out;
}

// At start-up, the serial to go on from what was served before the stop: the file's when it
// is newer; the one served then when the file still says what it said then (its records are
// taken as unchanged, as a serial promises; a signed zone is signed anew, so it cannot be);
// else that one + 1.
void resume_serial(const config::Zone& zc, const Served& was, dns::Zone& zone) {
  const uint32_t file = zone.serial();
  if (dns::serial_lt(was.served, file)) return;
  const bool same = !zc.dnssec.enabled && file == was.file;
  const uint32_t serial = same ? was.served : was.served + 1;
  zone.set_serial(serial);
  if (serial != file)
    core::logf(core::Level::info, "event=zone-serial-resumed zone={} file-serial={} served-before={} serial={}",
               zc.name, file, was.served, serial);
}

// The serial policy, for a zone read again while `old` serves (Knot's "increment"): a
// secondary must see a new serial whenever what it transfers changes, and the same serial when
// nothing did, so that the journal never holds two contents under one serial.
// - The file's serial is newer than the one served (RFC 1982): it is served.
// - Otherwise, if the content differs (the serial was not raised, or went back), the served
//   serial + 1 is, with a warning (BIND serves such a change under the old serial, and
//   secondaries never see it).
// - Otherwise (same content), the served serial stays.
// A signed zone cannot be compared before it is signed, and signing covers the SOA: it is
// signed with served + 1 (unless the file's is newer), and version_zone() below keeps the
// previous version when only the signatures differ and they are not due yet.
struct NextVersion {
  std::optional<dns::Delta> delta;  // an unsigned zone's difference (new SOA filled in later)
  // A signed zone given served + 1 in case more than signatures changed: if only they did, and
  // the serving ones are not due, the serving version stays.
  bool resigned = false;
  uint32_t file_serial = 0;  // what the zone file says
};

void warn_serial_kept(const config::Zone& zc, uint32_t file, uint32_t served) {
  core::logf(core::Level::warning,
             "event=zone-serial-kept zone={} file-serial={} served={} serial={} reason=\"what "
             "secondaries get changed but the file's serial was not raised; serving serial {} so "
             "that they follow\"",
             zc.name, file, served, served + 1, served + 1);
}

NextVersion apply_serial_policy(const config::Zone& zc, const dns::Zone& old, dns::Zone& zone) {
  const uint32_t served = old.serial(), file = zone.serial();
  if (dns::serial_lt(served, file)) return {};
  if (zc.dnssec.enabled) {
    zone.set_serial(served + 1);
    return {std::nullopt, true, file};
  }
  dns::Delta d = dns::diff_zones(old, zone);
  zone.set_serial(served);
  d.new_soa = dns::OwnedRecord::of(dns::soa_record(zone));
  if (d.deleted.empty() && d.added.empty() && d.old_soa.rdata == d.new_soa.rdata &&
      d.old_soa.ttl == d.new_soa.ttl)
    return {std::move(d), false, file};
  zone.set_serial(served + 1);
  warn_serial_kept(zc, file, served);
  return {std::move(d), false, file};
}

// Gives a newly read zone its place after `old`: the journal IXFR answers from, or `old`
// itself when a signed zone was only signed again before its signatures were due. Returns the
// version to serve.
std::shared_ptr<const dns::Zone> version_zone(const config::Zone& zc,
                                              const std::shared_ptr<const dns::Zone>& old,
                                              const std::shared_ptr<dns::Zone>& zone,
                                              NextVersion next, uint32_t now) {
  std::optional<dns::Delta>& delta = next.delta;
  if (!delta) delta = dns::diff_zones(*old, *zone);
  delta->new_soa = dns::OwnedRecord::of(dns::soa_record(*zone));
  if (next.resigned && dns::only_signatures_differ(*delta)) {
    // Signed again with nothing else changed: the signatures serving now stay until they are
    // due (the re-signing timer), so that the serial only moves when secondaries need it to.
    const uint32_t expires = dns::earliest_expiration(*old);
    if (same_prefixes(old->allow_transfer, zone->allow_transfer) &&
        same_keys(old->transfer_keys, zone->transfer_keys) &&
        (expires == 0 || int64_t(expires) - int64_t(zc.dnssec.refresh) > int64_t(now)))
      return old;
  } else if (next.resigned) {
    // Warned about when the file's records changed, not for what signing makes (a key rollover
    // changes DNSKEY and the signatures without the file).
    auto from_file = [](const std::vector<dns::OwnedRecord>& rs) {
      return std::any_of(rs.begin(), rs.end(), [](const dns::OwnedRecord& r) {
        return r.type != dns::rrtype::RRSIG && r.type != dns::rrtype::NSEC && r.type != dns::rrtype::DNSKEY &&
               r.type != dns::rrtype::CDS && r.type != dns::rrtype::CDNSKEY;
      });
    };
    if (from_file(delta->deleted) || from_file(delta->added))
      warn_serial_kept(zc, next.file_serial, old->serial());
  }
  if (delta->from() == delta->to()) {
    zone->journal = old->journal;  // the same version, read again
    return zone;
  }
  if (zc.ixfr_history == 0) return zone;
  // The journal holds at most twice the zone (BIND's max-journal-size default since 9.12), so
  // that its memory follows the zone's; a small zone may keep 64 KiB of history whatever its
  // size (two SOAs per delta already make a one-record change bigger than a tiny zone).
  constexpr size_t kJournalFloor = 64 << 10;
  const size_t cap = std::max(2 * dns::transfer_bytes(*zone), kJournalFloor);
  zone->journal = dns::Journal::extend(old->journal.get(),
                                       std::make_shared<const dns::Delta>(std::move(*delta)),
                                       zc.ixfr_history, cap);
  return zone;
}

}  // namespace

std::string served_serials_text(const Loaded& loaded) {
  std::string out;
  for (size_t i = 0; i < loaded.zones.size() && i < loaded.config.zones.size(); ++i)
    out += fmt::format("{} {} {}\n", dns::name_to_text(loaded.zones[i]->apex), loaded.zones[i]->serial(),
                       loaded.zones[i]->file_serial);
  return out;
}

std::optional<Loaded> load(const std::string& path_in, core::Errors& errors,
                           const LoadOptions& options) {
  const std::string path =
      path_in.empty() ? std::string(kBuiltinPrefix) + kBuiltinConfigPath : path_in;
  std::string text;
  if (!read_file(path, &text)) {
    errors.push_back(core::Error{path, 0, 0, fmt::format("cannot read the config file: {}",
                                                         text.empty() ? "not built in" : text)});
    return std::nullopt;
  }
  auto cfg = config::parse(text, path, errors);
  if (!cfg) return std::nullopt;
  Loaded out;
  out.config = std::move(*cfg);
  bool ok = true;
  const auto& lim = out.config.limits;
  dns::LoadOptions zone_options;
  zone_options.limits = {lim.include_depth, lim.includes, lim.zone_records, lim.zone_bytes};
  zone_options.cancel = options.cancel;
  // A relative $INCLUDE is looked for beside the including file and beside the config.
  if (!path.starts_with(kBuiltinPrefix)) {
    const auto slash = path.rfind('/');
    zone_options.base_dir = slash == std::string::npos ? "./" : path.substr(0, slash + 1);
  }
  core::Errors warnings;
  zone_options.warnings = &warnings;
  bool all_reused = options.reuse != nullptr;
  // Per zone of the config, in order: the zone read now (null when the serving one is taken
  // over), and its difference from the serving version when the serial policy computed it.
  std::vector<std::shared_ptr<dns::Zone>> built;
  std::vector<NextVersion> next_versions;
  const auto resumed = options.resume_serials ? read_served_serials(served_serials_path(out.config))
                                              : std::map<std::string, Served>{};
  // TSIG keys (BIND key files), by name; a zone's allow_transfer names the ones it accepts.
  std::vector<dns::TsigKey> all_keys;
  for (const auto& file : out.config.tsig_key_files) {
    constexpr uint64_t kMaxKeyFile = 1 << 20;
    auto text = core::read_regular_file(file, kMaxKeyFile);
    if (!text) {
      errors.push_back(core::Error{file, 0, 0, text.error().message});
      ok = false;
      continue;
    }
    const size_t before = errors.size();
    for (auto& k : dns::parse_key_file(*text, file, errors)) all_keys.push_back(std::move(k));
    ok = ok && errors.size() == before;
  }
  auto no_key = [&](const config::Zone& zc, const config::Position& at, const char* key,
                    const std::string& name) {
    errors.push_back(core::Error{path, at.line, at.col,
                                 fmt::format("zone {}: {}: no TSIG key named {} in [tsig] key_files",
                                             zc.name, key, name)});
    ok = false;
  };
  for (const auto& zc : out.config.zones) {
    std::vector<dns::TsigKey> keys;
    for (size_t i = 0; i < zc.transfer_keys.size(); ++i) {
      if (const dns::TsigKey* k = find_tsig_key(all_keys, zc.transfer_keys[i])) keys.push_back(*k);
      else no_key(zc, zc.transfer_key_at[i], "allow_transfer", zc.transfer_keys[i]);
    }
    for (size_t i = 0; i < zc.notify_keys.size(); ++i)
      if (!zc.notify_keys[i].empty() && !find_tsig_key(all_keys, zc.notify_keys[i]))
        no_key(zc, zc.notify_key_at[i], "also_notify", zc.notify_keys[i]);
    if (auto same = unchanged_zone(zc, lim, keys, fail_open_names(out.config, zc), options.reuse)) {
      out.zones.push_back(std::move(same));
      built.emplace_back();
      next_versions.emplace_back();
      continue;
    }
    all_reused = false;
    std::string builtin;
    const bool is_builtin = zc.file.starts_with(kBuiltinPrefix);
    if (is_builtin && !read_file(zc.file, &builtin)) {
      errors.push_back(core::Error{path, zc.line, zc.col,
                                   fmt::format("zone {}: cannot read {}", zc.name, zc.file)});
      ok = false;
      continue;
    }
    // Zone files on disk are read by the loader itself: regular files only, within the limits.
    const size_t before = errors.size();
    auto zone = dns::load_zone(zc.name, zc.file, errors, is_builtin ? &builtin : nullptr,
                               zone_options);
    // What BIND loads with a warning (out-of-zone data, an SOA's TTL from its MINIMUM) loads
    // here too, and is logged.
    for (const auto& w : warnings)
      core::logf(core::Level::warning, "event=zone-warning zone={} where={}:{} reason=\"{}\"",
                 zc.name, w.file, w.line, w.message);
    warnings.clear();
    if (!zone) {
      // A zone file that cannot be opened is reported where the config names it.
      if (errors.size() == before + 1 && errors.back().line == 0 && errors.back().file == zc.file)
        errors.back() = core::Error{path, zc.line, zc.col,
                                    fmt::format("zone {}: {}: {}", zc.name, zc.file,
                                                errors.back().message)};
      ok = false;
      continue;
    }
    zone->allow_transfer = zc.allow_transfer;
    zone->transfer_keys = std::move(keys);
    zone->file_serial = zone->serial();
    const auto old = previous_version(options.reuse, zone->apex);
    if (auto was = resumed.find(zone->apex); !old && was != resumed.end()) resume_serial(zc, was->second, *zone);
    // A signed zone's serial is set before it is signed; an unsigned zone's once its transfer
    // view is made (below), since what secondaries get is what is compared.
    next_versions.push_back(old && zc.dnssec.enabled ? apply_serial_policy(zc, *old, *zone) : NextVersion{});
    // Signed otherwise than the serving version was (keys, validity, refresh): that version's
    // signatures cannot stand in for the new ones.
    if (old && !same_signing(options.reuse, zc)) next_versions.back().resigned = false;
    built.push_back(zone);
    out.zones.push_back(std::move(zone));
  }
  out.tsig_keys = std::move(all_keys);
  const auto& gtm = out.config.gtm;
  if (!gtm.pools.empty()) {
    auto specs = read_probes(out.config.server.probes_dir, errors);
    if (!specs) {
      ok = false;
    } else {
      for (auto& spec : *specs) {
        std::string name = spec.name;
        out.probes[name] = std::make_shared<const probe::Spec>(std::move(spec));
      }
    }
    for (size_t i = 0; specs && i < gtm.pools.size(); ++i) {
      if (out.probes.count(gtm.pools[i].probe)) continue;
      const auto& at = out.config.pool_probe_at[i];
      errors.push_back(core::Error{path, at.line, at.col,
                                   fmt::format("pool[{}].probe: no probe named \"{}\" in {}", i,
                                               gtm.pools[i].probe, out.config.server.probes_dir)});
      ok = false;
    }
  }
  std::vector<std::string> dynamic;
  for (size_t i = 0; i < gtm.names.size() && ok; ++i) {
    std::string wire = dns::name_from_text(gtm.names[i].fqdn);
    std::string why = wire.empty() ? "is not a valid domain name" : dns::check_dynamic_name(out.zones, wire);
    if (!why.empty()) {
      const auto& at = out.config.name_fqdn_at[i];
      errors.push_back(core::Error{path, at.line, at.col,
                                   fmt::format("name[{}].fqdn: {} {}", i, gtm.names[i].fqdn, why)});
      ok = false;
    }
    dynamic.push_back(std::move(wire));
  }
  if (ok && !sign_zones(out, built, dynamic, path, options, errors)) ok = false;
  if (!ok) return std::nullopt;
  // What secondaries get (transfer_dynamic). A zone reused from the running configuration
  // already has the same view (unchanged_zone compares it); one without a view that needs one
  // was made by this load and is published nowhere yet, so setting it is no race.
  for (size_t zi = 0; zi < out.config.zones.size(); ++zi) {
    auto names = fail_open_names(out.config, out.config.zones[zi]);
    if (names.empty() || out.zones[zi]->transfer_view) continue;
    auto zone = std::const_pointer_cast<dns::Zone>(out.zones[zi]);
    zone->transfer_view = dns::make_transfer_view(*zone, std::move(names));
  }
  // Each zone read now takes its place after the version serving: its serial (an unsigned
  // zone's is decided here, against the serving version, transfer views included) and journal.
  const uint32_t now = options.now ? options.now : uint32_t(std::time(nullptr));
  for (size_t zi = 0; zi < out.zones.size(); ++zi) {
    if (!built[zi]) continue;
    auto old = previous_version(options.reuse, built[zi]->apex);
    if (!old) continue;
    const config::Zone& zc = out.config.zones[zi];
    if (!zc.dnssec.enabled) next_versions[zi] = apply_serial_policy(zc, *old, *built[zi]);
    out.zones[zi] = version_zone(zc, old, built[zi], std::move(next_versions[zi]), now);
  }
  std::map<std::string, health::Thresholds> thresholds;
  for (const auto& [name, spec] : out.probes) thresholds[name] = {spec->rise, spec->fall};
  out.engine = std::make_unique<pool::Engine>(gtm, thresholds, out.config.unknown_is_up);
  if (all_reused && options.reuse->table && dynamic == options.reuse->dynamic &&
      out.zones == options.reuse->zones)
    out.table = options.reuse->table;
  else
    out.table = dns::compile(out.zones, dynamic, options.cancel);
  if (!out.table) {
    errors.push_back(core::Error{path, 0, 0, "load abandoned: gslbd is stopping"});
    return std::nullopt;
  }
  out.dynamic = std::move(dynamic);
  return out;
}

}  // namespace gslb::daemon
