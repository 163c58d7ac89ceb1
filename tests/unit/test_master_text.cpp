// The master-file text layer: entries, TTLs, classes, RFC 3597 hex and $GENERATE templates.
// The expected strings are what named-compilezone (BIND 9.18) produced for the same input;
// tests/e2e/test_bind_zones.py compares whole zones with it.
#include <catch2/catch.hpp>

#include "dns/master_text.hpp"

using namespace gslb::dns::master;

namespace {

std::vector<Entry> entries(std::string_view text, std::vector<std::string>* errors = nullptr) {
  EntryReader r(text);
  std::vector<Entry> out;
  Entry e;
  std::string why;
  while (r.next(e, why)) {
    if (!why.empty() && errors) errors->push_back(why);
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("entries: comments, parentheses over lines, quotes and escapes") {
  auto e = entries("; only a comment\n\n@ IN SOA ns h ( 1 ; serial\n  2 3 4 5 )\n"
                   "  TXT \"a ; not a comment\" b\\;c \"q\\\"uote\"\nx A 1.2.3.4");
  REQUIRE(e.size() == 3);
  CHECK(e[0].line == 3);
  CHECK_FALSE(e[0].blank_owner);
  CHECK(e[0].tokens == std::vector<std::string>{"@", "IN", "SOA", "ns", "h", "1", "2", "3", "4", "5"});
  CHECK(e[1].line == 5);
  CHECK(e[1].blank_owner);
  CHECK(e[1].tokens == std::vector<std::string>{"TXT", "\"a ; not a comment\"", "b\\;c", "\"q\\\"uote\""});
  CHECK(e[2].line == 6);
}

TEST_CASE("entries: an unclosed parenthesis or quote is an error") {
  std::vector<std::string> errors;
  entries("x TXT ( \"a\"\n", &errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "'(' opened on line 1 is not closed");
  errors.clear();
  entries("x TXT \"a\n", &errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "quoted text opened on line 1 is not closed");
}

TEST_CASE("TTLs in seconds or BIND's units; classes") {
  CHECK(parse_ttl("3600") == 3600u);
  CHECK(parse_ttl("1h30m") == 5400u);
  CHECK(parse_ttl("1W2d") == 777600u);
  CHECK(parse_ttl("4294967295") == 4294967295u);
  CHECK_FALSE(parse_ttl("4294967296"));
  CHECK_FALSE(parse_ttl("IN"));
  CHECK_FALSE(parse_ttl("1x"));
  CHECK_FALSE(parse_ttl("h1"));
  CHECK(parse_class("in") == 1);
  CHECK(parse_class("CLASS1") == 1);
  CHECK(parse_class("CH") == 3);
  CHECK_FALSE(parse_class("A"));
  CHECK_FALSE(parse_class("CLASS"));
}

TEST_CASE("RFC 3597 generic data is strict hex of exactly the stated length") {
  std::vector<std::string> t{"\\#", "6", "ABCDEF", "123456"};
  auto ok = parse_generic_rdata(t, 1);
  REQUIRE(ok);
  CHECK(*ok == std::string("\xab\xcd\xef\x12\x34\x56", 6));
  t = {"\\#", "6", "ABCDEZ123456"};
  CHECK_FALSE(parse_generic_rdata(t, 1));
  t = {"\\#", "6", "ABCDEF12"};
  CHECK_FALSE(parse_generic_rdata(t, 1));
  t = {"\\#", "1", "ABC"};
  CHECK_FALSE(parse_generic_rdata(t, 1));
  t = {"\\#", "65536"};
  CHECK_FALSE(parse_generic_rdata(t, 1));
  t = {"\\#", "0"};
  CHECK(parse_generic_rdata(t, 1)->empty());
}

TEST_CASE("SVCB alpn: two levels of escapes (RFC 9460 Appendix A.1)") {
  CHECK(svcb_alpn_wire("\"h1\\,h2\"").value() == std::string("\x02h1\x02h2"));
  CHECK(svcb_alpn_wire("h2,h3").value() == std::string("\x02h2\x02h3"));
  CHECK(svcb_alpn_wire("\"a\\\\,b\"").value() == std::string("\x03" "a,b"));
  CHECK(svcb_alpn_wire("\\104\\050").value() == std::string("\x02h2"));
  CHECK_FALSE(svcb_alpn_wire("h2,,h3"));
  CHECK_FALSE(svcb_alpn_wire("\"\""));
}

TEST_CASE("SVCB key1=: the value's bytes are the alpn wire form (RFC 9460 2.1)") {
  CHECK(svcb_alpn_wire("\"\\002h2\"", true).value() == std::string("\x02h2", 3));
  CHECK(svcb_alpn_wire("\\002h2\\002h3", true).value() == std::string("\x02h2\x02h3", 6));
  CHECK_FALSE(svcb_alpn_wire("h2", true));  // 'h' would be a length of 104
  CHECK_FALSE(svcb_alpn_wire("\"\"", true));
  CHECK(svcb_alpn_wire("h2", false).value() == std::string("\x02h2", 3));
}

TEST_CASE("SVCB parameters re-keyed stay in key order") {
  // priority 1, target ".", key 3 (port 8443), key 65534 (2 bytes "h2" as an alpn list)
  std::string rdata("\x00\x01\x00" "\x00\x03\x00\x02\x20\xfb" "\xff\xfe\x00\x03\x02h2", 3 + 6 + 7);
  REQUIRE(svcb_rekey(rdata, 65534, 1));
  CHECK(rdata == std::string("\x00\x01\x00" "\x00\x01\x00\x03\x02h2" "\x00\x03\x00\x02\x20\xfb", 16));
  std::string bad("\x00\x01\x00\x00\x03\x00\x09", 7);
  CHECK_FALSE(svcb_rekey(bad, 65534, 1));
}

TEST_CASE("SVCB parameters against RFC 9460's rules: mandatory keys present, none twice") {
  // priority 1, target ".", then parameters
  const std::string head("\x00\x01\x00", 3);
  const std::string port("\x00\x03\x00\x02\x01\xbb", 6);            // port=443
  const std::string mand_alpn("\x00\x00\x00\x02\x00\x01", 6);       // mandatory=alpn
  const std::string mand_port("\x00\x00\x00\x02\x00\x03", 6);       // mandatory=port
  const std::string mand_self("\x00\x00\x00\x04\x00\x00\x00\x03", 8);  // mandatory=mandatory,port
  CHECK(svcb_check(head + port).empty());
  CHECK(svcb_check(head + mand_port + port).empty());
  CHECK(svcb_check(head + mand_alpn + port).find("key1") != std::string::npos);
  CHECK_FALSE(svcb_check(head + mand_self + port).empty());
  CHECK(svcb_check(head + port + port).find("twice") != std::string::npos);
}

TEST_CASE("base32hex as NSEC3 writes it: no padding, whole bytes, zero trailing bits") {
  // BIND 9.18: "CPNMU" (good-nsec3-nopadhash) loads, "CPNMU===" and "0123456" do not.
  auto cp = base32hex_decode("CPNMU");
  REQUIRE(cp);
  CHECK(*cp == "foo");
  CHECK(base32hex_decode("cpnmu").value() == *cp);
  CHECK(base32hex_decode("0123456789abcdefghijklmnopqrstuv").value().size() == 20);
  CHECK_FALSE(base32hex_decode("CPNMU==="));
  CHECK_FALSE(base32hex_decode("0123456"));  // its last 3 bits are 110
  CHECK(base32hex_decode("0123450").value().size() == 4);
  CHECK_FALSE(base32hex_decode("CPN"));  // 15 bits: not whole bytes
  CHECK_FALSE(base32hex_decode("WXYZ"));  // past 'v'
}

TEST_CASE("character-strings split at quotes inside a token, as BIND's lexer does") {
  using V = std::vector<std::string>;
  CHECK(split_strings("a\"b\"c") == V{"a", "\"b\"", "c"});
  CHECK(split_strings("\"p\"\"q\"") == V{"\"p\"", "\"q\""});
  CHECK(split_strings("a\\\"b") == V{"a\\\"b"});  // an escaped quote is text
  CHECK(split_strings("plain") == V{"plain"});
  CHECK_FALSE(parse_ttl("1h30"));
  CHECK_FALSE(parse_ttl("10s5"));
  CHECK(parse_ttl("30m1h") == 5400u);
}

TEST_CASE("KEY flags as numbers or RFC 2535 mnemonics (named-compilezone's values)") {
  CHECK(parse_key_flags("257") == 257);
  CHECK(parse_key_flags("0400") == 400);
  CHECK(parse_key_flags("0x100") == 256);
  CHECK(parse_key_flags("ZONE|KSK") == 257);
  CHECK(parse_key_flags("zone") == 256);
  CHECK(parse_key_flags("NOKEY|FLAG2|FLAG4|FLAG5|NTYP3|FLAG8|FLAG9|FLAG10|FLAG11|SIG15") == 61439);
  CHECK(parse_key_flags("USER|HOST") == 512);
  CHECK(parse_key_flags("SIG1|SIG2") == 3);
  CHECK_FALSE(parse_key_flags("ZONE|257"));
  CHECK_FALSE(parse_key_flags("ZONE|SEP"));
  CHECK_FALSE(parse_key_flags("65536"));
  CHECK_FALSE(parse_key_flags("SIG16"));
}

TEST_CASE("LOC and APL ranges, as named-compilezone checks them") {
  auto loc = [](std::vector<std::string> t) { return loc_check(t, 0); };
  CHECK(loc({"90", "0", "0", "N", "180", "0", "0", "W", "0m"}).empty());
  CHECK(loc({"89", "59", "59.999", "S", "179", "59", "59.999", "E", "0m"}).empty());
  CHECK(loc({"42", "N", "71", "W", "-24m"}).empty());
  CHECK_FALSE(loc({"90", "1", "0", "N", "0", "E", "0m"}).empty());
  CHECK_FALSE(loc({"10", "N", "181", "E", "0m"}).empty());
  CHECK_FALSE(loc({"10", "10", "60", "N", "10", "E", "0m"}).empty());
  CHECK(apl_check("1:0.0.0.0/0").empty());
  CHECK(apl_check("!2:2001:db8::/128").empty());
  CHECK_FALSE(apl_check("1:10.0.0.0/33").empty());
  CHECK_FALSE(apl_check("2:2001:db8::/129").empty());
  CHECK_FALSE(apl_check("3:1.2.3.4/8").empty());
}

TEST_CASE("NXT bitmaps and NSAP addresses") {
  // A(1) NS(2) SIG(24) KEY(25) NXT(30): bits 1, 2, 24, 25, 30 (RFC 2535 5.2)
  CHECK(nxt_bitmap({1, 2, 24, 25, 30}) == std::string("\x60\x00\x00\xc2", 4));
  CHECK(nxt_bitmap({127}) == std::string(15, '\0') + "\x01");
  CHECK(parse_nsap("0x47.0005.80").value() == std::string("\x47\x00\x05\x80", 4));
  CHECK_FALSE(parse_nsap("0x"));
  CHECK_FALSE(parse_nsap("0x4"));
  CHECK_FALSE(parse_nsap("47"));
  CHECK_FALSE(parse_nsap("0x4g"));
}

TEST_CASE("$GENERATE ranges and BIND's modifiers") {
  auto r = parse_generate_range("1-10/3");
  REQUIRE(r);
  CHECK((r->start == 1 && r->stop == 10 && r->step == 3));
  CHECK_FALSE(parse_generate_range("5-1"));
  CHECK_FALSE(parse_generate_range("1-2/0"));
  CHECK_FALSE(parse_generate_range("1-x"));
  auto sub = [](std::string_view t, int64_t i) { return generate_substitute(t, i).value(); };
  CHECK(sub("host$", 7) == "host7");
  // named-compilezone: a plain $ takes the offset of the ${...} before it, ${0} resets it.
  CHECK(sub("a${1}-$", 5) == "a6-6");
  CHECK(sub("a${-2}-$-${0}-$", 5) == "a3-3-5-5");
  CHECK(sub("a${1,3,x}-$", 5) == "a006-6");
  CHECK(sub("a$-${1}", 5) == "a5-6");
  CHECK(sub("a${+1}", 5) == "a6");
  CHECK(sub("${0,3,n}", 1024) == "0.0.4");
  CHECK(sub("${0,4,n}", 250) == "a.f.");
  CHECK(sub("${0,7,n}", 1) == "1.0.0.0");
  CHECK(sub("${0,0,N}", 10) == "A");
  CHECK(sub("x${-1,2,o}", 1) == "x00");
  CHECK(sub("${0,2,X}$", 30) == "1E30");
  CHECK(sub("2001:db8::${0,4,x}", 1024) == "2001:db8::0400");
  CHECK(sub("v$ \\$ $$", 10) == "v10 \\$ $");
  CHECK_FALSE(generate_substitute("${0,2,q}", 1));
  CHECK_FALSE(generate_substitute("${-5}", 1));
  CHECK_FALSE(generate_substitute("${1", 1));
}
