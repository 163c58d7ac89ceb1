// TSIG keys from BIND key files, and a signature made by TsigSigner checked the way a request's
// is: the same bytes, key and variables give the same MAC; any other byte does not.
#include <catch2/catch.hpp>

#include "dns/tsig.hpp"
#include "dns/wire.hpp"

using namespace gslb;

TEST_CASE("BIND key files: tsig-keygen's output, comments, errors with their line") {
  core::Errors errors;
  auto keys = dns::parse_key_file(R"(# made by tsig-keygen
key "xfr-key" {
	algorithm hmac-sha256;
	secret "37gNtM+Tp0cO2jReNMriv41YhTN8OuI7AhC2XLmpf10=";
};
// a second one
key "Other.Key." { algorithm hmac-sha512; secret "YWJj"; };
)", "k.key", errors);
  CHECK(errors.empty());
  REQUIRE(keys.size() == 2);
  CHECK(dns::name_to_text(keys[0].name) == "xfr-key.");
  CHECK(dns::name_to_text(keys[0].algorithm) == "hmac-sha256.");
  CHECK(keys[0].secret.size() == 32);
  CHECK(dns::name_to_text(keys[1].name) == "other.key.");
  CHECK(keys[1].secret == "abc");

  errors.clear();
  dns::parse_key_file("key \"a\" {\n algorithm hmac-md5;\n secret \"!!!!\";\n};\n", "k.key", errors);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].to_string() == "k.key:2: key a: algorithm hmac-md5 is not supported (hmac-sha1, "
                                 "hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512)");
  CHECK(errors[1].to_string() == "k.key:3: key a: secret is not base64");
}

TEST_CASE("a signed message verifies with its key and not with another, nor when changed") {
  core::Errors errors;
  auto keys = dns::parse_key_file(
      "key \"k\" { algorithm hmac-sha256; secret \"37gNtM+Tp0cO2jReNMriv41YhTN8OuI7AhC2XLmpf10=\"; };\n"
      "key \"j\" { algorithm hmac-sha256; secret \"YWJjZGVmZ2hpamtsbW5vcA==\"; };\n", "k.key", errors);
  REQUIRE(keys.size() == 2);
  // A query for example.test. AXFR, signed as a request (no prior MAC: an empty one).
  std::string q("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  q += dns::name_from_text("example.test.");
  q += std::string("\x00\xfc\x00\x01", 4);
  const uint64_t now = 1'800'000'000;
  std::string signed_q = q;
  dns::TsigSigner(keys[0], "", now).sign(signed_q);
  auto check = [&](const std::string& m, const std::vector<dns::TsigKey>& ks, uint64_t at) {
    return dns::tsig_verify({reinterpret_cast<const uint8_t*>(m.data()), m.size()}, ks, at);
  };
  auto r = check(signed_q, keys, now);
  CHECK(r.result == dns::TsigCheck::Result::ok);
  CHECK(r.key == &keys[0]);
  CHECK(r.mac.size() == 32);
  CHECK(check(q, keys, now).result == dns::TsigCheck::Result::unsigned_query);
  CHECK(check(signed_q, {keys[1]}, now).result == dns::TsigCheck::Result::bad_key);
  // Within the fudge (300 s) either way, and not beyond.
  CHECK(check(signed_q, keys, now + 300).result == dns::TsigCheck::Result::ok);
  CHECK(check(signed_q, keys, now - 301).result == dns::TsigCheck::Result::bad_time);
  // Any byte of the message changed: the MAC no longer matches.
  std::string tampered = signed_q;
  tampered[13] ^= 0x20;
  CHECK(check(tampered, keys, now).result == dns::TsigCheck::Result::bad_sig);
  // The same secret under another key name is another key.
  std::string other = q;
  auto renamed = keys[0];
  renamed.name = dns::name_from_text("j.");
  renamed.secret = keys[1].secret;
  dns::TsigSigner(renamed, "", now).sign(other);
  CHECK(check(other, keys, now).result == dns::TsigCheck::Result::ok);
  CHECK(check(other, keys, now).key == &keys[1]);
}
