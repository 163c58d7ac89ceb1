// The zone loader's bounds: only regular files, $INCLUDE depth and count, records, bytes, and
// entries that ldns would cut. Files live in a fresh temporary directory.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "dns/table.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

using namespace gslb;
namespace fs = std::filesystem;

namespace {

const char* kHead =
    "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
    "@ IN NS ns1\nns1 IN A 127.0.0.1\n";  // 5 lines

struct Dir {
  fs::path path;
  Dir() {
    std::string t = (fs::temp_directory_path() / "gslbd-limits-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~Dir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

struct Loaded {
  std::shared_ptr<dns::Zone> zone;
  std::string errors;
};

Loaded load(const std::string& file, const dns::LoadOptions& o = {}) {
  core::Errors errors;
  auto z = dns::load_zone("example.test.", file, errors, nullptr, o);
  std::string text;
  for (const auto& e : errors) text += e.to_string() + "\n";
  return {z, text};
}

// l0.inc .. l{levels}.inc, each including the next twice; the last holds one record.
void fanout(const Dir& d, int levels) {
  for (int l = 0; l <= levels; ++l)
    d.write("l" + std::to_string(l) + ".inc",
            l < levels ? "$INCLUDE l" + std::to_string(l + 1) + ".inc\n$INCLUDE l" +
                             std::to_string(l + 1) + ".inc\n"
                       : "leaf IN A 10.0.0.1\n");
}

}  // namespace

TEST_CASE("a zone within the limits loads and records every file it read") {
  Dir d;
  fanout(d, 3);
  auto r = load(d.write("z.zone", std::string(kHead) + "$INCLUDE l0.inc\n"));
  REQUIRE(r.zone);
  CHECK(r.errors.empty());
  CHECK(r.zone->sources.size() == 1 + 1 + 2 + 4 + 8);
  CHECK(r.zone->sources[0].path == (d.path / "z.zone").string());
  CHECK(r.zone->sources[0].size > 0);
}

TEST_CASE("$INCLUDE of something that is not a regular file is refused with file:line") {
  Dir d;
  REQUIRE(::mkfifo((d.path / "pipe").c_str(), 0600) == 0);
  fs::create_directory(d.path / "adir");
  const std::string z = (d.path / "z.zone").string();
  for (auto [target, what] : {std::pair{"/dev/zero", "is a character device, not a regular file"},
                              std::pair{"pipe", "is a FIFO, not a regular file"},
                              std::pair{"adir", "is a directory, not a regular file"},
                              std::pair{"missing", "cannot open: No such file or directory"}}) {
    d.write("z.zone", std::string(kHead) + "$INCLUDE " + target + "\n");
    auto r = load(z);
    CHECK_FALSE(r.zone);
    CHECK_THAT(r.errors, Catch::Contains(z + ":6: ") && Catch::Contains(what));
  }
  auto r = load((d.path / "pipe").string());  // the zone file itself
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains("is a FIFO, not a regular file"));
}

TEST_CASE("$INCLUDE depth and count are bounded") {
  Dir d;
  fanout(d, 4);  // l4.inc is 5 deep; 1 + 2 + 4 + 8 + 16 = 31 includes
  const std::string z = d.write("z.zone", std::string(kHead) + "$INCLUDE l0.inc\n");
  dns::LoadOptions o;
  o.limits.include_depth = 5;
  CHECK(load(z, o).zone);
  o.limits.include_depth = 4;
  auto r = load(z, o);
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains("l3.inc:1: $INCLUDE l4.inc: nested more than 4 deep "
                                       "(limits.include_depth)"));
  o.limits.include_depth = 10;
  o.limits.includes = 31;
  CHECK(load(z, o).zone);
  o.limits.includes = 30;
  r = load(z, o);
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains("more than 30 includes in the zone (limits.includes)"));
  // The load stops at the first limit: one error, not one per remaining include.
  CHECK(std::count(r.errors.begin(), r.errors.end(), '\n') == 1);
}

TEST_CASE("records and bytes are bounded per zone, includes counted") {
  Dir d;
  d.write("more.inc", "a IN A 10.0.0.1\nb IN A 10.0.0.2\nc IN A 10.0.0.3\n");
  const std::string z = d.write("z.zone", std::string(kHead) + "$INCLUDE more.inc\n");
  dns::LoadOptions o;
  o.limits.records = 6;  // 3 in the zone file, 3 in the include
  CHECK(load(z, o).zone);
  o.limits.records = 5;
  auto r = load(z, o);
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains("more.inc:3: more than 5 records in the zone (limits.zone_records)"));
  o = {};
  o.limits.bytes = fs::file_size(z) + fs::file_size(d.path / "more.inc");
  CHECK(load(z, o).zone);
  o.limits.bytes -= 1;
  r = load(z, o);
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains(z + ":6: ") && Catch::Contains("(limits.zone_bytes = "));
}

TEST_CASE("an entry longer than ldns reads whole is an error, not a cut record") {
  Dir d;
  std::string strings;
  for (int i = 0; i < 410; ++i) strings += " \"" + std::string(250, 't') + "\"";  // 102,910 bytes
  auto r = load(d.write("z.zone", std::string(kHead) + "big IN TXT (" + strings + " )\nok IN A 10.0.0.1\n"));
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains("z.zone:6: record is ") &&
                           Catch::Contains("RDATA cannot exceed 65535 bytes"));
  // 64,000 bytes in 256 strings: under both bounds, loaded whole.
  strings.clear();
  for (int i = 0; i < 256; ++i) strings += " \"" + std::string(249, 't') + "\"";
  r = load(d.write("z.zone", std::string(kHead) + "big IN TXT (" + strings + " )\n"));
  REQUIRE(r.zone);
  const dns::Node* big = r.zone->find(std::string_view("\3big\7example\4test\0", 18));
  REQUIRE(big);
  const dns::RRset* txt = big->find(16);
  REQUIRE(txt);
  REQUIRE(txt->rdata.size() == 1);
  CHECK(txt->rdata[0].wire.size() == 256 * 250);
}

TEST_CASE("a cancelled load stops with an error") {
  Dir d;
  std::atomic<bool> cancel{true};
  dns::LoadOptions o;
  o.cancel = &cancel;
  auto r = load(d.write("z.zone", kHead), o);
  CHECK_FALSE(r.zone);
  CHECK_THAT(r.errors, Catch::Contains("load abandoned: gslbd is stopping"));
}

TEST_CASE("duplicates are dropped from large RRsets too (hashed past 16 records)") {
  Dir d;
  std::string text = kHead;
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 40; ++i) text += "many IN TXT \"r" + std::to_string(i) + "\"\n";
  text += "many IN TXT \"r3\"\nmany IN A 10.0.0.1\nmany IN A 10.0.0.1\n";
  auto r = load(d.write("z.zone", text));
  REQUIRE(r.zone);
  REQUIRE(r.zone->find(std::string_view("\4many\7example\4test\0", 19)));
  const dns::Node& n = *r.zone->find(std::string_view("\4many\7example\4test\0", 19));
  CHECK(n.find(16)->rdata.size() == 40);
  CHECK(n.find(1)->rdata.size() == 1);
  CHECK(n.name == std::string_view("\4many\7example\4test\0", 19));
}

TEST_CASE("a cancelled compile returns no table; without cancelling it compiles") {
  Dir d;
  auto r = load(d.write("z.zone", kHead));
  REQUIRE(r.zone);
  std::atomic<bool> cancel{true};
  CHECK_FALSE(dns::compile({r.zone}, {}, &cancel));
  cancel = false;
  auto t = dns::compile({r.zone}, {}, &cancel);
  REQUIRE(t);
  CHECK(t->entry_count() == r.zone->nodes.size());
}

TEST_CASE("a relative $INCLUDE is found beside the including file or beside the config") {
  Dir d;
  fs::create_directories(d.path / "zones");
  fs::create_directories(d.path / "common");
  d.write("common/ns.inc", "extra IN A 10.0.0.2\n");
  d.write("zones/local.inc", "local IN A 10.0.0.3\n");
  const std::string zone = d.write("zones/z.zone", std::string(kHead) +
                                                       "$INCLUDE common/ns.inc\n$INCLUDE local.inc\n");
  dns::LoadOptions o;
  o.base_dir = d.path.string();
  auto r = load(zone, o);
  REQUIRE(r.zone);
  CHECK(r.errors.empty());
  CHECK(r.zone->find(dns::name_from_text("extra.example.test.")));
  CHECK(r.zone->find(dns::name_from_text("local.example.test.")));
  // Without the config's folder only the including file's is searched.
  CHECK_FALSE(load(zone).zone);
  // Two different files by that name: refused rather than guessed.
  d.write("local.inc", "other IN A 10.0.0.4\n");
  r = load(zone, o);
  CHECK_FALSE(r.zone);
  CHECK(r.errors.find("z.zone:7: $INCLUDE local.inc: ambiguous") != std::string::npos);
}
