// Fuzz target over the whole query handler: any bytes in, over UDP and TCP, plain and again with
// RRL and cookies on as a UDP thread runs them, with a zone that has every kind of answer
// (wildcards, CNAME chains, referrals, truncation). Besides the sanitizers, it checks that every
// response is within the transport's limit, echoes the id, and parses with ldns (an independent
// decoder), so a bad compression pointer is a crash too.
//
// Built two ways: with -fsanitize=fuzzer for libFuzzer, and with FUZZ_STANDALONE as a test that
// replays tests/fuzz/corpus and tests/fuzz/regressions (every crash found becomes a file there).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dns/handler.hpp"
#include "dns/ldns.hpp"
#include "dns/zone.hpp"

namespace {

const char* kZone = R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
         IN NS  ns.elsewhere.net.
         IN MX  10 mail
ns1      IN A   192.0.2.1
mail     IN A   192.0.2.25
mail     IN AAAA 2001:db8::25
www      IN A   192.0.2.10
www      IN AAAA 2001:db8::10
alias    IN CNAME www
dangling IN CNAME gone
loop1    IN CNAME loop2
loop2    IN CNAME loop1
*.wild   IN A   192.0.2.99
*.wild   IN MX  10 mail
wc       IN CNAME x.wild
a.b.ent  IN TXT "deep"
sub      IN NS  ns.sub
sub      IN DS  1 13 2 0011223344556677889900112233445566778899001122334455667788990011
ns.sub   IN A   192.0.2.53
_sip._tcp IN SRV 0 5 5060 mail
big      IN TXT "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
)";

const gslb::dns::AnswerTable& table() {
  static auto t = [] {
    gslb::core::Errors errors;
    std::string text(kZone);
    auto z = gslb::dns::load_zone("example.test.", "fuzz.zone", errors, &text);
    if (!z) std::abort();
    return gslb::dns::compile({z});
  }();
  return *t;
}

// Cookies (with a shared secret; `require` on) and RRL (a tiny table, a rate of 1, so
// limiting, slipping and eviction all happen), as a UDP thread and the TCP loop have them.
gslb::dns::Guard& guard() {
  static const gslb::dns::GuardConfig cfg = [] {
    gslb::dns::GuardConfig c;
    c.rrl.responses_per_second = c.rrl.nxdomains_per_second = c.rrl.errors_per_second = 1;
    c.rrl.table_size = 64;
    c.cookies.secret = gslb::core::SipKey{1, 2, 3, 4};
    c.cookies.require = true;
    return c;
  }();
  static gslb::dns::GuardStats stats;
  static gslb::dns::Guard g(cfg, stats, true);
  return g;
}

void check(const uint8_t* data, size_t size, bool tcp, bool guarded) {
  static std::vector<uint8_t> out(65535);
  static gslb::dns::Scratch scratch;
  static uint32_t tick = 0;
  static const gslb::core::IpAddress client = *gslb::core::IpAddress::parse("192.0.2.7");
  gslb::dns::Outcome outcome;
  gslb::dns::Client who;
  who.tcp = tcp;
  if (guarded) {
    who.address = &client;
    who.guard = &guard();
    who.now = {1700000000 + tick, tick};
    ++tick;
  }
  const size_t n = gslb::dns::answer({&table(), nullptr}, gslb::dns::HandlerOptions{}, {data, size},
                                     out, who, scratch, outcome);
  if (n == 0) return;
  if (n < 12 || (!tcp && n > 1232) || out[0] != data[0] || out[1] != data[1]) std::abort();
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, out.data(), n) != LDNS_STATUS_OK) std::abort();
  ldns_pkt_free(pkt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (bool guarded : {false, true}) {
    check(data, size, false, guarded);
    check(data, size, true, guarded);
  }
  return 0;
}

#ifdef FUZZ_STANDALONE
#include <dirent.h>

#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::string> paths;
    if (DIR* d = opendir(argv[i])) {
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') paths.push_back(std::string(argv[i]) + "/" + e->d_name);
      closedir(d);
    } else {
      paths.push_back(argv[i]);
    }
    for (const auto& p : paths) {
      std::ifstream in(p, std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++files;
    }
  }
  std::printf("replayed %d inputs\n", files);
  return files > 0 ? 0 : 1;
}
#endif
