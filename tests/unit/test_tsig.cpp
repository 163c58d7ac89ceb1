// TSIG keys from BIND key files, and a signature made by TsigSigner checked the way a request's
// is: the same bytes, key and variables give the same MAC; any other byte does not.
#include <catch2/catch.hpp>

#include <ctime>

#include "dns/axfr.hpp"
#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"

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

// A signed NOTIFY (RFC 1996 + RFC 8945 §5.3): ldns, an independent implementation, checks the
// bytes; a reply is accepted only when signed with the key over the NOTIFY's MAC.
TEST_CASE("a signed NOTIFY verifies with ldns, and its reply is checked against its MAC") {
  const std::string secret_b64 = "37gNtM+Tp0cO2jReNMriv41YhTN8OuI7AhC2XLmpf10=";
  core::Errors errors;
  auto keys = dns::parse_key_file(
      "key \"xfr-key\" { algorithm hmac-sha256; secret \"" + secret_b64 + "\"; };\n", "k.key", errors);
  REQUIRE(keys.size() == 1);
  auto zone = test::zone_from_text("example.test.",
                                   "$TTL 300\n@ SOA ns1 hostmaster 7 3600 600 86400 300\n@ NS ns1\n"
                                   "ns1 A 192.0.2.1\n");
  REQUIRE(zone);
  const uint64_t now = uint64_t(std::time(nullptr));
  std::string notify = dns::notify_message(*zone, 0x4242);
  dns::TsigSigner signer(keys[0], "", now);
  signer.sign(notify);
  const std::string request_mac = signer.mac();
  REQUIRE(request_mac.size() == 32);
  auto bytes = [](const std::string& m) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.data()), m.size());
  };
  auto ours = dns::tsig_verify(bytes(notify), keys, now);
  CHECK(ours.result == dns::TsigCheck::Result::ok);
  CHECK(ours.mac == request_mac);

  ldns_pkt* raw = nullptr;
  REQUIRE(ldns_wire2pkt(&raw, bytes(notify).data(), notify.size()) == LDNS_STATUS_OK);
  dns::LdnsPkt pkt(raw);
  CHECK(ldns_pkt_get_opcode(pkt.get()) == LDNS_PACKET_NOTIFY);
  CHECK(ldns_pkt_aa(pkt.get()));
  CHECK(ldns_pkt_ancount(pkt.get()) == 1);
  REQUIRE(ldns_pkt_tsig(pkt.get()));
  CHECK(ldns_pkt_tsig_verify(pkt.get(), bytes(notify).data(), notify.size(), "xfr-key.",
                             secret_b64.c_str(), nullptr));
  std::string changed = notify;
  changed[changed.size() / 2] ^= 1;
  CHECK(dns::tsig_verify(bytes(changed), keys, now).result != dns::TsigCheck::Result::ok);

  // The secondary's reply, signed by ldns over our MAC (as NSD and Knot do).
  auto reply_signed_over = [&](const std::string& mac) {
    ldns_pkt* r = ldns_pkt_new();
    ldns_pkt_set_id(r, 0x4242);
    ldns_pkt_set_qr(r, true);
    ldns_pkt_set_aa(r, true);
    ldns_pkt_set_opcode(r, LDNS_PACKET_NOTIFY);
    ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0)));
    std::string with_len;
    with_len += char(mac.size() >> 8);
    with_len += char(mac.size());
    with_len += mac;
    ldns_rdf* mac_rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, with_len.size(), with_len.data());
    REQUIRE(ldns_pkt_tsig_sign(r, "xfr-key.", secret_b64.c_str(), 300, "hmac-sha256.", mac_rdf) ==
            LDNS_STATUS_OK);
    ldns_rdf_deep_free(mac_rdf);
    uint8_t* wire = nullptr;
    size_t len = 0;
    REQUIRE(ldns_pkt2wire(&wire, r, &len) == LDNS_STATUS_OK);
    std::string out(reinterpret_cast<const char*>(wire), len);
    free(wire);
    ldns_pkt_free(r);
    return out;
  };
  const std::string reply = reply_signed_over(request_mac);
  CHECK(dns::is_notify_reply(bytes(reply), 0x4242));
  CHECK(dns::tsig_verify(bytes(reply), keys, now, request_mac).result == dns::TsigCheck::Result::ok);
  // Signed over another request's MAC (a replayed reply), or checked as a request: not ours.
  std::string other_mac = request_mac;
  other_mac[0] ^= 1;
  CHECK(dns::tsig_verify(bytes(reply_signed_over(other_mac)), keys, now, request_mac).result ==
        dns::TsigCheck::Result::bad_sig);
  CHECK(dns::tsig_verify(bytes(reply), keys, now).result == dns::TsigCheck::Result::bad_sig);

  // A secondary that does not know the key answers NOTAUTH with a TSIG carrying BADKEY and no
  // MAC (RFC 8945 §5.3.2): not verified, and the error is read for the log.
  std::string refused = reply.substr(0, 12 + zone->apex.size() + 4);
  refused[3] = char(9);  // NOTAUTH
  refused[10] = 0;
  refused[11] = 1;
  refused += keys[0].name;
  refused += std::string("\x00\xfa\x00\xff\x00\x00\x00\x00", 8);
  std::string rdata = keys[0].algorithm;
  rdata += std::string("\x00\x00", 2) + std::string(4, '\x01') + std::string("\x01\x2c", 2);
  rdata += std::string("\x00\x00", 2);           // MAC size 0
  rdata += std::string("\x42\x42\x00\x11\x00\x00", 6);  // original ID, BADKEY, no other data
  refused += char(rdata.size() >> 8);
  refused += char(rdata.size());
  refused += rdata;
  auto r = dns::tsig_verify(bytes(refused), keys, now, request_mac);
  CHECK(r.result == dns::TsigCheck::Result::bad_sig);
  CHECK(r.error == 17);
  CHECK(dns::tsig_error_text(r.error) == "BADKEY");
  // Unsigned replies are not verified either.
  std::string bare = reply.substr(0, 12 + zone->apex.size() + 4);
  bare[10] = bare[11] = 0;
  CHECK(dns::tsig_verify(bytes(bare), keys, now, request_mac).result ==
        dns::TsigCheck::Result::unsigned_query);
}
