// Outgoing zone transfers (RFC 5936), for standard secondaries. Runs on a worker's loop but
// only for clients on the zone's allow_transfer list, so it may allocate.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

// The whole zone as DNS messages answering one AXFR query: SOA, every other record (glue
// included; the zone's transfer_source), SOA again, packed into messages of at most about 16 KiB. Produced one message at
// a time, so a connection holds one message per transfer, not the zone: the caller asks for
// the next one when its output has drained. The zone must outlive the stream (the caller
// keeps the snapshot that holds it).
class TransferStream {
 public:
  TransferStream(const Zone& zone, std::span<const uint8_t> query, const Query& q);

  // Appends the next message, framed with its two-byte length (RFC 1035 §4.2.2), to `out`.
  // Returns false, appending nothing, once the closing SOA has been sent.
  bool next(std::string& out);
  // Signs every message with `key` (RFC 8945 §5.3.1), the first covering the request's MAC.
  void sign_with(const TsigKey& key, std::string request_mac, uint64_t now) {
    signer_.emplace(key, std::move(request_mac), now);
  }

 private:
  using NodeIt = std::vector<Node>::const_iterator;
  const Zone* zone_;
  std::string question_;  // the query's question section, echoed in every message
  std::string base_;      // compression base: the qname as the client spelled it
  uint16_t id_;
  enum class Phase { first_soa, records, last_soa, done } phase_ = Phase::first_soa;
  NodeIt node_;
  size_t rrset_ = 0, rdata_ = 0;
  std::optional<TsigSigner> signer_;
};

// The zone whose records AXFR streams and whose versions IXFR diffs: the zone's transfer view
// when it has one (`transfer_dynamic = "fail_open"` and dynamic names in the zone), else the
// zone itself.
const Zone& transfer_source(const Zone& zone);

// A transfer view of `zone`: its records plus an A and/or AAAA RRset at each of `names` (the
// fail-open addresses, the name's TTL). In a signed zone (zone.signer set) each added RRset gets
// its RRSIGs from the zone's Signer, beside the NSEC the zone already has at that name (its
// chain covers the dynamic names), so the transferred zone verifies as it is. The view points
// into `zone`'s storage: `zone` must own it (Zone::transfer_view). Runs on the loader thread.
std::shared_ptr<const Zone> make_transfer_view(const Zone& zone, std::vector<TransferName> names);

// Every message at once (tests).
std::vector<std::string> transfer_messages(const Zone& zone, std::span<const uint8_t> query,
                                           const Query& q);

// A NOTIFY (RFC 1996 §3.7) for `zone`: opcode NOTIFY, AA, the apex SOA as question and answer.
std::string notify_message(const Zone& zone, uint16_t id);
// The serial in the zone's SOA.
uint32_t zone_serial(const Zone& zone);
// Whether `reply` answers the NOTIFY `id`: QR set, opcode NOTIFY, that ID.
bool is_notify_reply(std::span<const uint8_t> reply, uint16_t id);

}  // namespace gslb::dns
