// The served serial and the IXFR journal across reloads (daemon::load with the serving
// configuration to take over from): a change without a new serial still gets one, a reload
// that changes nothing keeps it, the journal stays within ixfr_history, and a signed zone's
// serial moves when it is signed again because its signatures are due, not on every reload.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/server.hpp"
#include "dns/dnssec.hpp"
#include "dns/ixfr.hpp"
#include "dns_test_util.hpp"

using namespace gslb;

namespace {

struct Setup {
  std::string dir;
  Setup() {
    char d[] = "/tmp/gslbd-versions-XXXXXX";
    REQUIRE(mkdtemp(d));
    dir = d;
  }
  ~Setup() { std::filesystem::remove_all(dir); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir + "/" + name) << text;
  }
  void config(const std::string& zone_extra) const {
    write("gslbd.toml", "[server]\nlisten = [\"127.0.0.1:1\"]\n\n[[zone]]\nname = \"example.test.\"\n"
                        "file = \"z.zone\"\n" + zone_extra);
  }
  // A CSK for the zone, and the zone's config signing with it: `dnssec` options, then `rest`.
  std::string key;
  void signed_config(const std::string& options, const std::string& rest = "") {
    if (key.empty()) key = test::write_test_key(dir);
    REQUIRE(!key.empty());
    config("dnssec = { keys = [\"" + key + "\"]" + options + " }\n" + rest);
  }
  void zone(uint32_t serial, const std::string& body) const {
    write("z.zone", "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster " + std::to_string(serial) +
                        " 3600 600 86400 300\n  IN NS ns1\nns1 IN A 192.0.2.1\n" + body);
  }
  // Loads the configuration, taking over from `serving` when given.
  daemon::Loaded load(const daemon::Loaded* serving = nullptr, uint32_t now = 0, bool resume = false) const {
    core::Errors errors;
    daemon::Reuse reuse;
    daemon::LoadOptions options;
    if (serving) {
      reuse = daemon::Reuse::of(*serving);
      options.reuse = &reuse;
    }
    options.now = now;
    options.resume_serials = resume;
    auto l = daemon::load(dir + "/gslbd.toml", errors, options);
    INFO((errors.empty() ? std::string() : errors.front().to_string()));
    REQUIRE(l);
    return std::move(*l);
  }
};

const dns::Zone& zone_of(const daemon::Loaded& l) { return *l.zones.at(0); }

// (from, to) of each delta the zone's journal holds.
std::vector<std::pair<uint32_t, uint32_t>> history(const daemon::Loaded& l) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (const auto* j = zone_of(l).journal.get())
    for (const auto& d : j->deltas) out.emplace_back(d->from(), d->to());
  return out;
}

}  // namespace

TEST_CASE("the served serial moves whenever the content does, and only then") {
  Setup s;
  s.config("ixfr_history = 2\n");
  s.zone(1, "a IN A 192.0.2.10\n");
  auto v1 = s.load();
  CHECK(zone_of(v1).serial() == 1);
  CHECK(history(v1).empty());

  // Changed without a new serial: served as 2, so that secondaries follow (Knot's
  // "difference-no-serial"; BIND would keep 1 and warn).
  s.zone(1, "a IN A 192.0.2.10\nb IN A 192.0.2.11\n");
  auto v2 = s.load(&v1);
  CHECK(zone_of(v2).serial() == 2);
  REQUIRE(history(v2) == std::vector<std::pair<uint32_t, uint32_t>>{{1, 2}});
  const auto& d = *zone_of(v2).journal->deltas[0];
  CHECK(d.deleted.empty());
  REQUIRE(d.added.size() == 1);
  CHECK(dns::name_to_text(d.added[0].owner) == "b.example.test.");

  // The file read again (a comment more) with the same records: the same serial and journal.
  s.zone(1, "; touched\na IN A 192.0.2.10\nb IN A 192.0.2.11\n");
  auto v3 = s.load(&v2);
  CHECK(&zone_of(v3) != &zone_of(v2));  // read again, not taken over
  CHECK(zone_of(v3).serial() == 2);
  CHECK(zone_of(v3).journal == zone_of(v2).journal);

  // A raised serial is served as written.
  s.zone(10, "b IN A 192.0.2.11\n");
  auto v4 = s.load(&v3);
  CHECK(zone_of(v4).serial() == 10);
  CHECK(history(v4) == std::vector<std::pair<uint32_t, uint32_t>>{{1, 2}, {2, 10}});

  // A serial that went back, with a change: the served one + 1; the oldest delta leaves the
  // journal (ixfr_history = 2).
  s.zone(5, "c IN A 192.0.2.12\n");
  auto v5 = s.load(&v4);
  CHECK(zone_of(v5).serial() == 11);
  CHECK(history(v5) == std::vector<std::pair<uint32_t, uint32_t>>{{2, 10}, {10, 11}});
  CHECK(dns::plan_ixfr(zone_of(v5), 2).kind == dns::IxfrPlan::Kind::incremental);
  CHECK(dns::plan_ixfr(zone_of(v5), 1).kind == dns::IxfrPlan::Kind::axfr);

  // A serial that went back, same content: the served one stays.
  s.zone(5, "; again\nc IN A 192.0.2.12\n");
  auto v6 = s.load(&v5);
  CHECK(zone_of(v6).serial() == 11);

  // ixfr_history = 0: no journal, every IXFR is answered in AXFR form.
  s.config("ixfr_history = 0\n");
  s.zone(12, "d IN A 192.0.2.13\n");
  auto v7 = s.load(&v6);
  CHECK(zone_of(v7).serial() == 12);
  CHECK(history(v7).empty());
}

TEST_CASE("a signed zone: the same signatures until they are due, then a new serial") {
  Setup s;
  s.signed_config(", validity = \"14d\", refresh = \"7d\"");
  s.zone(1, "a IN A 192.0.2.10\n");
  const uint32_t t0 = 1'800'000'000;
  auto v1 = s.load(nullptr, t0);
  CHECK(zone_of(v1).serial() == 1);
  const uint32_t expires = dns::earliest_expiration(zone_of(v1));
  REQUIRE(expires > t0);

  // A reload a minute later that changes nothing: the zone serving now, signatures and all.
  auto v2 = s.load(&v1, t0 + 60);
  CHECK(&zone_of(v2) == &zone_of(v1));

  // Within `refresh` of the first expiration (what the re-signing timer reloads for): signed
  // again under serial 2, and the journal holds the new signatures.
  const uint32_t due = expires - 7 * 86400 + 1;
  auto v3 = s.load(&v2, due);
  CHECK(zone_of(v3).serial() == 2);
  CHECK(dns::earliest_expiration(zone_of(v3)) > expires);
  REQUIRE(history(v3) == std::vector<std::pair<uint32_t, uint32_t>>{{1, 2}});
  const auto& d = *zone_of(v3).journal->deltas[0];
  CHECK(dns::only_signatures_differ(d));
  CHECK_FALSE(d.added.empty());

  // A change with the file's serial as it was: serial 3.
  s.zone(1, "a IN A 192.0.2.99\n");
  auto v4 = s.load(&v3, due + 60);
  CHECK(zone_of(v4).serial() == 3);
  CHECK_FALSE(dns::only_signatures_differ(*zone_of(v4).journal->deltas.back()));

  // Another validity: signed anew at once (serial 4), not when the old signatures are due.
  s.signed_config(", validity = \"10d\", refresh = \"5d\"");
  auto v5 = s.load(&v4, due + 120);
  CHECK(&zone_of(v5) != &zone_of(v4));
  CHECK(zone_of(v5).serial() == 4);
  CHECK(dns::earliest_expiration(zone_of(v5)) < dns::earliest_expiration(zone_of(v4)));
}

TEST_CASE("after a restart the serials go on from those served before, kept beside the state file") {
  Setup s;
  s.config("\n[control]\nstate_file = \"drains\"\n");
  s.zone(1, "a IN A 192.0.2.10\n");
  auto v1 = s.load();
  s.zone(1, "a IN A 192.0.2.10\nb IN A 192.0.2.11\n");
  auto v2 = s.load(&v1);
  REQUIRE(zone_of(v2).serial() == 2);
  CHECK(zone_of(v2).file_serial == 1);
  CHECK(daemon::served_serials_text(v2) == "example.test. 2 1\n");
  s.write("drains.serials", daemon::served_serials_text(v2));
  // The file as it was when 2 was served: 2 again, not the file's 1 (older than what the
  // secondaries hold).
  CHECK(zone_of(s.load(nullptr, 0, true)).serial() == 2);
  CHECK(zone_of(s.load(nullptr, 0, false)).serial() == 1);  // --check-config reads no state
  // The file's serial moved, but not past 2: 3.
  s.zone(2, "a IN A 192.0.2.10\n");
  CHECK(zone_of(s.load(nullptr, 0, true)).serial() == 3);
  // Past it: the file's.
  s.zone(9, "a IN A 192.0.2.10\n");
  CHECK(zone_of(s.load(nullptr, 0, true)).serial() == 9);
  // Broken lines are skipped.
  s.write("drains.serials", "garbage\nexample.test. x 1\n");
  s.zone(1, "a IN A 192.0.2.10\n");
  CHECK(zone_of(s.load(nullptr, 0, true)).serial() == 1);
}

TEST_CASE("a signed zone goes on from the serial served before a restart, + 1: it is signed anew") {
  Setup s;
  s.signed_config("", "\n[control]\nstate_file = \"drains\"\n");
  s.zone(1, "a IN A 192.0.2.10\n");
  s.write("drains.serials", "example.test. 5 1\n");
  auto v = s.load(nullptr, 1'800'000'000, true);
  CHECK(zone_of(v).serial() == 6);
  CHECK(zone_of(v).file_serial == 1);
}
