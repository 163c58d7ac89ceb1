// Micro-benchmark (not a test) of what IXFR adds to a reload and saves on the wire: a zone of
// N records (a third each A, TXT and MX, one owner name per record, as bench/zone/zone_memory.py
// writes them) and a next version with K records changed (an A's address), one deleted and one
// added. Prints the time the loader spends comparing the versions (diff_zones, best of 5), the
// delta's and journal's bytes, and the bytes and messages of the IXFR answer against the AXFR.
// One more run changes every TXT record (a third of the zone), as a re-signing changes every
// RRSIG.
//
//   ixfr_diff_bench [RECORDS] [CHANGED]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "dns/ixfr.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

using namespace gslb;

namespace {

std::string zone_text(size_t records, uint32_t serial, size_t changed, bool all_txt) {
  std::string t = fmt::format("$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster {} 3600 600 "
                              "86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n", serial);
  t.reserve(records * 48);
  for (size_t i = 0; i < records; ++i) {
    if (serial > 1 && i == records / 2) continue;  // deleted in the next version
    switch (i % 3) {
      case 0: {
        const size_t v = i / 3 < changed && serial > 1 ? i + 1 : i;
        t += fmt::format("h{} IN A 10.{}.{}.{}\n", i, v >> 16 & 255, v >> 8 & 255, v & 255);
        break;
      }
      case 1:
        t += fmt::format("h{} IN TXT \"record {} {}\"\n", i, i, all_txt && serial > 1 ? "two" : "one");
        break;
      default:
        t += fmt::format("h{} IN MX 10 mail{}.example.test.\n", i, i);
    }
  }
  if (serial > 1) t += "added IN A 192.0.2.1\n";
  return t;
}

std::shared_ptr<dns::Zone> load(const std::string& text) {
  core::Errors errors;
  auto z = dns::load_zone("example.test.", "bench.zone", errors, &text);
  if (!z) {
    fmt::print(stderr, "{}\n", errors.empty() ? "load failed" : errors.front().to_string());
    std::exit(1);
  }
  return z;
}

std::vector<uint8_t> query(uint16_t qtype, uint32_t serial) {
  std::string m("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  m += dns::name_from_text("example.test.");
  m += char(qtype >> 8);
  m += char(qtype);
  m += std::string("\x00\x01", 2);
  if (qtype == dns::rrtype::IXFR) {
    m[9] = 1;
    m += std::string("\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x16\x00\x00", 14);
    for (int i = 0; i < 4; ++i) m += char(serial >> (24 - 8 * i));
    m += std::string(16, '\x01');
  }
  return std::vector<uint8_t>(m.begin(), m.end());
}

// Messages and bytes of the answer to `q` from `zone`.
std::pair<size_t, size_t> answer_size(const dns::Zone& zone, const std::vector<uint8_t>& wire) {
  dns::Query q;
  dns::parse_query(wire, q);
  const dns::IxfrPlan plan = q.qtype == dns::rrtype::IXFR ? dns::plan_ixfr(zone, q.ixfr_serial) : dns::IxfrPlan{};
  dns::TransferStream s(dns::ixfr_source(zone, plan), wire, q);
  std::string out;
  size_t messages = 0;
  while (s.next(out)) ++messages;
  return {messages, out.size()};
}

void run(size_t records, size_t changed, bool all_txt) {
  auto v1 = load(zone_text(records, 1, 0, false));
  auto v2 = load(zone_text(records, 2, changed, all_txt));
  double best = 1e9;
  dns::Delta d;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    d = dns::diff_zones(*v1, *v2);
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const size_t zone_bytes = dns::transfer_bytes(*v2);
  const size_t delta_bytes = d.bytes();
  v2->journal = dns::Journal::extend(nullptr, std::make_shared<const dns::Delta>(std::move(d)), 16,
                                     std::max<size_t>(2 * zone_bytes, 64 << 10));
  const auto [ixfr_messages, ixfr_bytes] = answer_size(*v2, query(dns::rrtype::IXFR, 1));
  const auto [axfr_messages, axfr_bytes] = answer_size(*v2, query(dns::rrtype::AXFR, 0));
  fmt::print("{} records, {}: diff {:.1f} ms (best of 5); delta {} deleted + {} added, {} bytes "
             "(zone {} bytes); IXFR answer {} bytes in {} messages, AXFR {} bytes in {} messages\n",
             records, all_txt ? "every TXT changed" : fmt::format("{} A changed, 1 deleted, 1 added", changed),
             best, v2->journal->deltas[0]->deleted.size(), v2->journal->deltas[0]->added.size(),
             delta_bytes, zone_bytes, ixfr_bytes, ixfr_messages, axfr_bytes, axfr_messages);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t records = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200000;
  const size_t changed = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10;
  run(records, changed, false);
  run(records, 0, true);
  return 0;
}
