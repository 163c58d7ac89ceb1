// The query path: bytes in, bytes out. A pure function of the packet, the table and the
// transport: no allocation, no exceptions, no locks, no system calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.hpp"
#include "dns/guard.hpp"
#include "dns/overlay.hpp"
#include "dns/table.hpp"
#include "dns/wire.hpp"

namespace gslb::dns {

struct HandlerOptions {
  uint16_t edns_size = 1232;  // what we advertise and the most we send over UDP (DNS flag day 2020)
  // EDNS Client Subnet (RFC 7871): the option's address picks a mapped name's answer and the
  // response carries the option back with its scope. Off: the option is ignored, like any
  // unknown option, and the packet's source decides.
  bool ecs = true;
};

// What happened to a query, for the caller's counters and for zone transfers.
struct Outcome {
  uint8_t rcode = 0;
  bool truncated = false;
  // AXFR/IXFR over TCP, or IXFR over UDP, for a zone's apex: the caller checks the ACL and
  // streams the zone (UDP: answers in one message). Nothing was written.
  int32_t transfer_zone = -1;
  RrlAction rrl = RrlAction::send;  // drop: nothing was sent; slip: a TC=1 reply was
  // A mapped name's answer: the rule that chose it (geo::Match::kDefault for the default).
  bool mapped = false;
  uint32_t map_rule = 0;
  uint8_t ecs_scope = 0;  // the SCOPE PREFIX-LENGTH sent back (0 when no ECS was echoed)
};

// What a worker answers from: the static table and the dynamic overlay built for it.
struct Answers {
  const AnswerTable* table = nullptr;
  const Overlay* overlay = nullptr;  // null: every dynamic answer is SERVFAIL
};

// Per-worker scratch for the query path.
struct Scratch {
  Query q;
  PickState pick;
  uint8_t key[kMaxCanonicalKey];  // a name in canonical order, to find its covering NSEC
  uint8_t name[kMaxName];         // the closest encloser's wildcard
};

// Who asked, and the asking thread's guard. Without an address or a guard the query is
// answered with no cookie and no rate limit (tests, tools).
struct Client {
  bool tcp = false;
  const core::IpAddress* address = nullptr;
  Guard* guard = nullptr;  // the calling thread's
  Now now;
};

// Writes the response to `query` into `out` (at least 512 bytes; 65535 for TCP) and returns its
// length, or 0 when nothing must be sent (including a response that rate limiting drops).
size_t answer(const Answers& answers, const HandlerOptions& opt, std::span<const uint8_t> query,
              std::span<uint8_t> out, const Client& client, Scratch& scratch,
              Outcome& outcome) noexcept;

inline size_t answer(const Answers& answers, const HandlerOptions& opt,
                     std::span<const uint8_t> query, std::span<uint8_t> out, bool tcp,
                     Scratch& scratch, Outcome& outcome) noexcept {
  Client client;
  client.tcp = tcp;
  return answer(answers, opt, query, out, client, scratch, outcome);
}

// A response with only the header (and the question and OPT, when the query had them) and
// `rcode`: REFUSED for a transfer the ACL denies, for example.
size_t answer_error(std::span<const uint8_t> query, const Query& q, const HandlerOptions& opt,
                    std::span<uint8_t> out, uint16_t rcode, bool echo_question) noexcept;

}  // namespace gslb::dns
