// Micro-benchmark (not a test) of the query handler alone, no sockets: ns per query for a
// static A record, for ECS queries on a mapped name whose map has N nets (default 10,000:
// IPv4 /24s and IPv6 /48s; each query's ECS prefix is a different rule or none), and the map's
// own bytes (tries + rules). The kernel's UDP path, which dominates a real server's cost, is left
// out so the map's share is visible.
//
//   geo_handler_bench [NETS] [QUERIES]
#include <fmt/format.h>

#include <chrono>
#include <random>

#include "../../tests/unit/dns_test_util.hpp"
#include "dns/handler.hpp"
#include "dns/overlay.hpp"
#include "geo/map.hpp"

using namespace gslb;

namespace {

std::vector<uint8_t> with_ecs(std::vector<uint8_t> q, uint8_t family, uint8_t source,
                              const uint8_t* address) {
  const size_t n = (source + 7u) / 8u;
  dns::put16(q.data() + q.size() - 2, uint16_t(8 + n));
  const uint8_t head[] = {0, uint8_t(dns::kOptionEcs), 0, uint8_t(4 + n), 0, family, source, 0};
  q.insert(q.end(), head, head + 8);
  q.insert(q.end(), address, address + n);
  return q;
}

double ns_per_query(const dns::Answers& answers, const std::vector<std::vector<uint8_t>>& queries,
                    size_t total, const core::IpAddress& src) {
  std::vector<uint8_t> out(1232);
  dns::Scratch scratch;
  dns::Client client;
  client.address = &src;
  dns::Outcome outcome;
  size_t bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < total; ++i)
    bytes += dns::answer(answers, dns::HandlerOptions{}, queries[i % queries.size()], out, client,
                         scratch, outcome);
  const auto t1 = std::chrono::steady_clock::now();
  if (bytes == 0) fmt::print("no answers?\n");
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(total);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t nets = argc > 1 ? std::stoul(argv[1]) : 10000;
  const size_t total = argc > 2 ? std::stoul(argv[2]) : 5'000'000;
  auto zone = test::zone_from_text("example.test.", R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
ns1      IN A   192.0.2.1
static   IN A   192.0.2.80
)");
  auto table = dns::compile({zone}, {dns::name_from_text("www.example.test.")});

  std::mt19937_64 rnd(7);
  geo::MapConfig mc;
  mc.fallback.regions = {"hz", "sh"};
  std::vector<std::vector<uint8_t>> ecs_queries;
  const auto base = test::make_query("www.example.test.", LDNS_RR_TYPE_A, {true, 1232});
  for (size_t i = 0; i < nets; ++i) {
    core::Prefix p;
    uint8_t family;
    if (i % 4 != 3) {
      p.address.family = core::IpAddress::Family::v4;
      const uint32_t v = uint32_t(rnd()) & 0xFFFFFF00u;
      dns::put32(p.address.bytes.data(), v);
      p.length = 24;
      family = 1;
    } else {
      p.address.family = core::IpAddress::Family::v6;
      const uint64_t v = rnd() & 0xFFFFFFFFFFFF0000ull;
      for (int b = 0; b < 8; ++b) p.address.bytes[size_t(b)] = uint8_t(v >> (56 - 8 * b));
      p.length = 48;
      family = 2;
    }
    mc.nets.push_back({p, {{i % 2 ? "sh" : "hz", i % 2 ? "hz" : "sh"}, {}}});
    if (ecs_queries.size() < 4096)
      ecs_queries.push_back(with_ecs(base, family, uint8_t(p.length), p.address.bytes.data()));
  }
  // Duplicates are refused by the loader; the trie keeps the first, so they do no harm here.
  auto map = std::make_shared<const geo::Map>(std::move(mc));
  dns::DynamicAnswer dyn;
  dyn.kind = dns::DynamicAnswer::Kind::addresses;
  dyn.map = map;
  for (const char* a : {"127.0.0.2", "127.0.0.3"}) {
    dns::DynamicAnswer c;
    c.kind = dns::DynamicAnswer::Kind::addresses;
    c.alternatives = {{1, {*core::IpAddress::parse(a)}}};
    dyn.classes.push_back(c);
  }
  auto overlay = dns::Overlay::build(*table, [&](std::string_view, uint16_t qtype) {
    return qtype == dns::rrtype::A ? &dyn : nullptr;
  });
  const dns::Answers answers{table.get(), overlay.get()};
  const auto src = *core::IpAddress::parse("192.0.2.1");
  const std::vector<std::vector<uint8_t>> statics = {
      test::make_query("static.example.test.", LDNS_RR_TYPE_A, {true, 1232})};
  const std::vector<std::vector<uint8_t>> mapped_plain = {base};

  ns_per_query(answers, statics, total / 10, src);  // warm up
  const double s = ns_per_query(answers, statics, total, src);
  const double m = ns_per_query(answers, ecs_queries, total, src);
  const double p = ns_per_query(answers, mapped_plain, total, src);
  fmt::print("handler only, {} queries each, map of {} nets ({} IPv4 /24, {} IPv6 /48):\n", total,
             nets, nets - nets / 4, nets / 4);
  fmt::print("  static A:                      {:6.1f} ns/query\n", s);
  fmt::print("  mapped name, ECS (4096 rules): {:6.1f} ns/query ({:.2f} x static)\n", m, m / s);
  fmt::print("  mapped name, by source:        {:6.1f} ns/query ({:.2f} x static)\n", p, p / s);
  fmt::print("  map: {:.2f} MiB ({:.0f} bytes per net)\n", double(map->memory_bytes()) / 1048576.0,
             double(map->memory_bytes()) / double(nets));
  return 0;
}
