// Fuzz target over the whole query handler: any bytes in, over UDP and TCP, with a zone that
// has every kind of answer (wildcards, CNAME chains, referrals, truncation). Besides the
// sanitizers, it checks that every response is within the transport's limit, echoes the id,
// and parses with ldns (an independent decoder), so a bad compression pointer is a crash too.
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

void check(const uint8_t* data, size_t size, bool tcp) {
  static std::vector<uint8_t> out(65535);
  static gslb::dns::Scratch scratch;
  gslb::dns::Outcome outcome;
  const size_t n = gslb::dns::answer({&table(), nullptr}, gslb::dns::HandlerOptions{}, {data, size},
                                     out, tcp, scratch, outcome);
  if (n == 0) return;
  if (n < 12 || (!tcp && n > 1232) || out[0] != data[0] || out[1] != data[1]) std::abort();
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, out.data(), n) != LDNS_STATUS_OK) std::abort();
  ldns_pkt_free(pkt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(data, size, false);
  check(data, size, true);
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
