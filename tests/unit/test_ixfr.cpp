// IXFR (RFC 1995) from a history of differences: the difference between two versions, the
// journal's bounds, how each client serial is answered, and the answer's messages parsed back
// with ldns.
#include <catch2/catch.hpp>

#include <cstring>

#include "dns/ixfr.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"

using namespace gslb;

namespace {

std::shared_ptr<dns::Zone> zone_of(const std::string& text) {
  core::Errors errors;
  auto z = dns::load_zone("example.test.", "test.zone", errors, &text);
  INFO((errors.empty() ? std::string() : errors.front().to_string()));
  REQUIRE(z);
  return z;
}

std::string text_of(const dns::OwnedRecord& r) {
  std::string t = dns::name_to_text(r.owner) + " " + std::to_string(r.ttl) + " " +
                  dns::rrtype_to_text(r.type) + " " + dns::rdata_to_text(r.type, r.rdata);
  while (!t.empty() && t.back() == ' ') t.pop_back();  // ldns ends an NSEC's type list so
  return t;
}

std::vector<std::string> texts(const std::vector<dns::OwnedRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(text_of(r));
  std::sort(out.begin(), out.end());
  return out;
}

const std::string kHead = "$ORIGIN example.test.\n$TTL 300\n";
std::string soa(uint32_t serial) {
  return "@ IN SOA ns1 hostmaster " + std::to_string(serial) + " 3600 600 86400 300\n  IN NS ns1\n"
         "ns1 IN A 192.0.2.1\n";
}

// An IXFR query for example.test. with the client's SOA (serial `serial`) in authority.
std::vector<uint8_t> ixfr_query(uint32_t serial, uint16_t qtype = dns::rrtype::IXFR) {
  std::string m("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00", 12);
  m += dns::name_from_text("example.test.");
  m += char(qtype >> 8);
  m += char(qtype);
  m += std::string("\x00\x01", 2);
  m += std::string("\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x16\x00\x00", 14);
  for (int i = 0; i < 4; ++i) m += char(serial >> (24 - 8 * i));
  m += std::string(16, '\x01');
  return std::vector<uint8_t>(m.begin(), m.end());
}

// Every message of the answer, parsed by ldns; the answer records in order, as text.
std::vector<std::string> answer_records(const std::vector<std::string>& messages, uint16_t id = 0x1234) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, reinterpret_cast<const uint8_t*>(m.data()), m.size()) == LDNS_STATUS_OK);
    dns::LdnsPkt pkt(p);
    CHECK(ldns_pkt_id(p) == id);
    CHECK(ldns_pkt_qr(p));
    CHECK(ldns_pkt_aa(p));
    CHECK(ldns_pkt_qdcount(p) == 1);
    const ldns_rr_list* an = ldns_pkt_answer(p);
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) out.push_back(test::rr_line(ldns_rr_list_rr(an, i)));
  }
  return out;
}

std::vector<std::string> stream_all(dns::TransferStream s) {
  std::vector<std::string> messages;
  std::string framed;
  while (s.next(framed)) {
    const size_t len = size_t(uint8_t(framed[0])) << 8 | uint8_t(framed[1]);
    REQUIRE(framed.size() == len + 2);
    messages.push_back(framed.substr(2));
    framed.clear();
  }
  return messages;
}

// The answer to `query` for `zone`, as the DNS workers produce it over TCP.
std::vector<std::string> ixfr_answer(const dns::Zone& zone, const std::vector<uint8_t>& query) {
  dns::Query q;
  REQUIRE(dns::parse_query(query, q) == dns::ParseStatus::ok);
  REQUIRE(q.has_ixfr_serial);
  return stream_all(dns::TransferStream(dns::ixfr_source(zone, dns::plan_ixfr(zone, q.ixfr_serial)),
                                        query, q));
}

// Versions 1, 2, 3 of a zone, each holding the journal of the ones before it.
struct History {
  std::shared_ptr<dns::Zone> v1, v2, v3;
  History(size_t max_versions = 16) {
    v1 = zone_of(kHead + soa(1) + "a IN A 192.0.2.11\nb IN A 192.0.2.12\n");
    v2 = zone_of(kHead + soa(2) + "b IN A 192.0.2.12\nc IN A 192.0.2.13\n");
    v3 = zone_of(kHead + soa(3) + "c IN A 192.0.2.13\nd IN A 192.0.2.14\n");
    v2->journal = dns::Journal::extend(nullptr, std::make_shared<dns::Delta>(dns::diff_zones(*v1, *v2)),
                                       max_versions, 1 << 20);
    v3->journal = dns::Journal::extend(v2->journal.get(),
                                       std::make_shared<dns::Delta>(dns::diff_zones(*v2, *v3)),
                                       max_versions, 1 << 20);
  }
};

}  // namespace

TEST_CASE("RFC 1982 serial arithmetic") {
  CHECK(dns::serial_lt(1, 2));
  CHECK_FALSE(dns::serial_lt(2, 1));
  CHECK_FALSE(dns::serial_lt(5, 5));
  // Across the wrap: 4294967295 + 1 = 0, and 0 + 2^31 - 1 still comes after.
  CHECK(dns::serial_lt(4294967295u, 0));
  CHECK(dns::serial_lt(4294967295u, 2147483646u));
  CHECK_FALSE(dns::serial_lt(0, 4294967295u));
  // 2^31 apart: undefined (§3.2), neither before the other.
  CHECK_FALSE(dns::serial_lt(0, 2147483648u));
  CHECK_FALSE(dns::serial_lt(2147483648u, 0));
}

TEST_CASE("the difference: records deleted and added, byte for byte") {
  auto v1 = zone_of(kHead + soa(1) +
                    "old IN TXT \"gone soon\"\n"
                    "same IN A 192.0.2.9\n"
                    "ttl 60 IN A 192.0.2.20\n"
                    "Case IN A 192.0.2.30\n"
                    "mx IN MX 10 Mail.example.test.\n"
                    "www IN A 192.0.2.10\n"
                    "www IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.test. AAAA\n"
                    "www IN NSEC ns1.example.test. A RRSIG NSEC\n");
  auto v2 = zone_of(kHead + soa(2) +
                    "new IN TXT \"arrived\"\n"
                    "same IN A 192.0.2.9\n"
                    "ttl 120 IN A 192.0.2.20\n"
                    "case IN A 192.0.2.30\n"
                    "mx IN MX 10 mail.example.test.\n"
                    "www IN A 192.0.2.10\n"
                    "www IN RRSIG A 13 3 300 20300201000000 20200201000000 12345 example.test. BBBB\n"
                    "www IN NSEC zzz.example.test. A RRSIG NSEC\n");
  const dns::Delta d = dns::diff_zones(*v1, *v2);
  CHECK(d.from() == 1);
  CHECK(d.to() == 2);
  CHECK(text_of(d.old_soa) == "example.test. 300 SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300");
  CHECK(texts(d.deleted) == std::vector<std::string>{
                                "Case.example.test. 300 A 192.0.2.30",
                                "mx.example.test. 300 MX 10 Mail.example.test.",
                                "old.example.test. 300 TXT \"gone soon\"",
                                "ttl.example.test. 60 A 192.0.2.20",
                                "www.example.test. 300 NSEC ns1.example.test. A RRSIG NSEC",
                                "www.example.test. 300 RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.test. AAAA",
                            });
  CHECK(texts(d.added) == std::vector<std::string>{
                              "case.example.test. 300 A 192.0.2.30",
                              "mx.example.test. 300 MX 10 mail.example.test.",
                              "new.example.test. 300 TXT \"arrived\"",
                              "ttl.example.test. 120 A 192.0.2.20",
                              "www.example.test. 300 NSEC zzz.example.test. A RRSIG NSEC",
                              "www.example.test. 300 RRSIG A 13 3 300 20300201000000 20200201000000 12345 example.test. BBBB",
                          });
  CHECK_FALSE(dns::only_signatures_differ(d));
  // The same zone: nothing deleted or added.
  const dns::Delta none = dns::diff_zones(*v1, *v1);
  CHECK(none.deleted.empty());
  CHECK(none.added.empty());
}

TEST_CASE("signed again with nothing else changed is told apart from a change") {
  const std::string body = "www IN A 192.0.2.10\n";
  auto sig = [](const char* expire, const char* tag, const char* bytes) {
    return std::string("www IN RRSIG A 13 3 300 ") + expire + " 20200101000000 " + tag + " example.test. " + bytes + "\n";
  };
  auto v1 = zone_of(kHead + soa(1) + body + sig("20300101000000", "12345", "AAAA"));
  // New times and signature bytes, and a new serial: only signing again.
  auto v2 = zone_of(kHead + soa(2) + body + sig("20300201000000", "12345", "BBBB"));
  CHECK(dns::only_signatures_differ(dns::diff_zones(*v1, *v2)));
  // Another key signed it.
  auto v3 = zone_of(kHead + soa(2) + body + sig("20300201000000", "54321", "BBBB"));
  CHECK_FALSE(dns::only_signatures_differ(dns::diff_zones(*v1, *v3)));
  // A record changed beside the signatures.
  auto v4 = zone_of(kHead + soa(2) + "www IN A 192.0.2.99\n" + sig("20300201000000", "12345", "BBBB"));
  CHECK_FALSE(dns::only_signatures_differ(dns::diff_zones(*v1, *v4)));
  // The SOA changed beyond its serial.
  auto v5 = zone_of(kHead + "@ IN SOA ns1 hostmaster 2 7200 600 86400 300\n  IN NS ns1\nns1 IN A 192.0.2.1\n" +
                    body + sig("20300201000000", "12345", "BBBB"));
  CHECK_FALSE(dns::only_signatures_differ(dns::diff_zones(*v1, *v5)));
}

TEST_CASE("the journal keeps the last versions, within its byte cap, oldest dropped first") {
  std::vector<std::shared_ptr<dns::Zone>> v;
  for (uint32_t s = 1; s <= 5; ++s)
    v.push_back(zone_of(kHead + soa(s) + "x IN A 192.0.2." + std::to_string(s) + "\n"));
  auto delta = [&](size_t i) { return std::make_shared<const dns::Delta>(dns::diff_zones(*v[i - 1], *v[i])); };
  std::shared_ptr<const dns::Journal> j;
  for (size_t i = 1; i < v.size(); ++i) j = dns::Journal::extend(j.get(), delta(i), 3, 1 << 20);
  REQUIRE(j);
  REQUIRE(j->deltas.size() == 3);
  CHECK(j->deltas.front()->from() == 2);
  CHECK(j->deltas.back()->to() == 5);
  CHECK(j->bytes == j->deltas[0]->bytes() + j->deltas[1]->bytes() + j->deltas[2]->bytes());
  // The byte cap: room for two deltas only.
  const size_t one = delta(1)->bytes();
  std::shared_ptr<const dns::Journal> k;
  for (size_t i = 1; i < v.size(); ++i) k = dns::Journal::extend(k.get(), delta(i), 16, 2 * one);
  REQUIRE(k);
  CHECK(k->deltas.size() == 2);
  CHECK(k->bytes <= 2 * one);
  // A delta bigger than the cap alone, or no history at all: no journal.
  CHECK_FALSE(dns::Journal::extend(nullptr, delta(1), 16, one - 1));
  CHECK_FALSE(dns::Journal::extend(nullptr, delta(1), 0, 1 << 20));
  // A history that does not end where the new delta starts is not carried on.
  auto gap = dns::Journal::extend(j.get(), delta(2), 16, 1 << 20);
  REQUIRE(gap);
  CHECK(gap->deltas.size() == 1);
}

TEST_CASE("each client serial gets its answer: SOA alone, the deltas, or AXFR") {
  History h;
  using Kind = dns::IxfrPlan::Kind;
  CHECK(dns::plan_ixfr(*h.v3, 3).kind == Kind::up_to_date);
  CHECK(dns::plan_ixfr(*h.v3, 4).kind == Kind::up_to_date);  // newer than ours (RFC 1982)
  CHECK(dns::plan_ixfr(*h.v3, 1).kind == Kind::incremental);
  CHECK(dns::plan_ixfr(*h.v3, 1).first == 0);
  CHECK(dns::plan_ixfr(*h.v3, 2).first == 1);
  CHECK(dns::plan_ixfr(*h.v3, 4294967295u).kind == Kind::axfr);  // older than the history
  CHECK(dns::plan_ixfr(*h.v1, 0).kind == Kind::axfr);            // no journal
  // History of one version: serial 1 has fallen out of it.
  History short_history(1);
  CHECK(dns::plan_ixfr(*short_history.v3, 2).kind == Kind::incremental);
  CHECK(dns::plan_ixfr(*short_history.v3, 1).kind == Kind::axfr);
}

TEST_CASE("the IXFR answer parsed back: current SOA, each delta, current SOA") {
  History h;
  auto soa_line = [](uint32_t s) {
    return "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. " + std::to_string(s) +
           " 3600 600 86400 300";
  };
  auto a = [](const char* n, int i) { return std::string(n) + ".example.test. 300 IN A 192.0.2." + std::to_string(i); };
  // From 1: both deltas.
  CHECK(answer_records(ixfr_answer(*h.v3, ixfr_query(1))) ==
        std::vector<std::string>{soa_line(3), soa_line(1), a("a", 11), soa_line(2), a("c", 13),
                                 soa_line(2), a("b", 12), soa_line(3), a("d", 14), soa_line(3)});
  // From 2: the last one.
  CHECK(answer_records(ixfr_answer(*h.v3, ixfr_query(2))) ==
        std::vector<std::string>{soa_line(3), soa_line(2), a("b", 12), soa_line(3), a("d", 14), soa_line(3)});
  // Up to date: the SOA alone (RFC 1995 §2).
  CHECK(answer_records(ixfr_answer(*h.v3, ixfr_query(3))) == std::vector<std::string>{soa_line(3)});
  // Out of the history: the AXFR form, SOA first and last.
  auto axfr = answer_records(ixfr_answer(*h.v3, ixfr_query(0)));
  REQUIRE(axfr.size() >= 2);
  CHECK(axfr.front() == soa_line(3));
  CHECK(axfr.back() == soa_line(3));
  CHECK(axfr.size() == 2 + h.v3->records() - 1);
}

TEST_CASE("a large IXFR answer is split into messages of about 16 KiB; UDP takes one or none") {
  std::string many1 = kHead + soa(1), many2 = kHead + soa(2);
  for (int i = 0; i < 1500; ++i) {
    many1 += "h" + std::to_string(i) + " IN TXT \"version one of a record long enough to fill messages\"\n";
    many2 += "h" + std::to_string(i) + " IN TXT \"version two of a record long enough to fill messages\"\n";
  }
  auto v1 = zone_of(many1), v2 = zone_of(many2);
  v2->journal = dns::Journal::extend(nullptr, std::make_shared<dns::Delta>(dns::diff_zones(*v1, *v2)),
                                     16, 1 << 24);
  const auto query = ixfr_query(1);
  const auto messages = ixfr_answer(*v2, query);
  REQUIRE(messages.size() > 3);
  for (const auto& m : messages) CHECK(m.size() < 17 * 1024);
  const auto records = answer_records(messages);
  CHECK(records.size() == 1 + 1 + 1500 + 1 + 1500 + 1);
  CHECK(records.front() == records.back());
  // One UDP message: too big here; the SOA alone fits.
  dns::Query q;
  REQUIRE(dns::parse_query(query, q) == dns::ParseStatus::ok);
  CHECK_FALSE(dns::TransferStream(dns::ixfr_source(*v2, dns::plan_ixfr(*v2, 1)), query, q).whole(1232));
  auto soa_only = dns::TransferStream(dns::ixfr_source(*v2, {dns::IxfrPlan::Kind::up_to_date, 0}), query, q).whole(512);
  REQUIRE(soa_only);
  CHECK(answer_records({*soa_only}).size() == 1);
  // A small difference fits in one UDP message, the same records as over TCP.
  History h;
  const auto small = ixfr_query(2);
  REQUIRE(dns::parse_query(small, q) == dns::ParseStatus::ok);
  auto one = dns::TransferStream(dns::ixfr_source(*h.v3, dns::plan_ixfr(*h.v3, 2)), small, q).whole(512);
  REQUIRE(one);
  CHECK(one->size() <= 512);
  CHECK(answer_records({*one}) == answer_records(ixfr_answer(*h.v3, small)));
  // With the OPT a query with EDNS gets back (RFC 6891 §7): our size and the DO bit.
  dns::TransferStream with_opt(dns::ixfr_source(*h.v3, dns::plan_ixfr(*h.v3, 2)), small, q);
  with_opt.add_opt(1232, true);
  auto opt = with_opt.whole(512);
  REQUIRE(opt);
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, reinterpret_cast<const uint8_t*>(opt->data()), opt->size()) == LDNS_STATUS_OK);
  dns::LdnsPkt pkt(p);
  CHECK(ldns_pkt_edns(p));
  CHECK(ldns_pkt_edns_udp_size(p) == 1232);
  CHECK(ldns_pkt_edns_do(p));
  CHECK(answer_records({*opt}) == answer_records({*one}));
}

TEST_CASE("the AXFR stream goes through the same source: SOA, every record, SOA") {
  History h;
  const auto query = ixfr_query(0, dns::rrtype::AXFR);
  // An AXFR query carries no authority; build one without it.
  std::vector<uint8_t> axfr(query.begin(), query.begin() + 12 + 14 + 4);
  axfr[9] = 0;
  dns::Query q;
  REQUIRE(dns::parse_query(axfr, q) == dns::ParseStatus::ok);
  const auto records = answer_records(dns::transfer_messages(*h.v3, axfr, q));
  REQUIRE(records.size() == h.v3->records() + 1);
  CHECK(records.front() == records.back());
  CHECK(records.front().find(" 3 3600 600") != std::string::npos);
}
