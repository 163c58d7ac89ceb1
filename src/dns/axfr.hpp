// Outgoing zone transfers (RFC 5936), for standard secondaries. Runs on a worker's loop but
// only for clients on the zone's allow_transfer list, so it may allocate.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

// The zone whose records AXFR streams and whose versions IXFR diffs: the zone's transfer view
// when it has one (`transfer_dynamic = "fail_open"` and dynamic names in the zone), else the
// zone itself.
const Zone& transfer_source(const Zone& zone);

// One record as a transfer sends it: the owner as the zone file spelled it, and the TTL each
// RRSIG carries (that of the RRset it covers). Views into the zone (or a journal delta).
struct TransferRecord {
  std::string_view owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  Rdata rdata;
};

// Every record of a zone but its SOA, in the zone's order (names in byte order, then RRsets
// and RDATA as stored). The zone must outlive the cursor.
class ZoneRecords {
 public:
  explicit ZoneRecords(const Zone& zone) : zone_(&zone), node_(zone.nodes.begin()) {}
  // Fills `r` with the next record; false at the end.
  bool next(TransferRecord& r);

 private:
  const Zone* zone_;
  std::vector<Node>::const_iterator node_;
  size_t rrset_ = 0, rdata_ = 0;
};

// Appends the records of one node of a zone to `out`, as ZoneRecords yields them (SOA aside).
void node_records(const Node& node, std::vector<TransferRecord>& out);

// The apex SOA of `zone` as a transfer sends it.
TransferRecord soa_record(const Zone& zone);

// The records of one transfer answer (RFC 5936 AXFR, RFC 1995 IXFR) as DNS messages, packed
// into messages of at most about 16 KiB. Produced one message at a time, so a connection holds
// one message per transfer, not the zone: the caller asks for the next one when its output has
// drained. What the records are is the source's business: it yields them one by one and says
// when there are no more; whatever it reads must outlive the stream (the caller keeps the
// snapshot that holds the zone and its journal).
class TransferStream {
 public:
  using Source = std::function<bool(TransferRecord&)>;
  TransferStream(Source source, std::span<const uint8_t> query, const Query& q);
  // AXFR: SOA, every other record (glue included), SOA again.
  TransferStream(const Zone& zone, std::span<const uint8_t> query, const Query& q);

  // Appends the next message, framed with its two-byte length (RFC 1035 §4.2.2), to `out`.
  // Returns false, appending nothing, once the last record has been sent.
  bool next(std::string& out);
  // The whole answer as one unframed message (signed if asked) if it fits in `limit` bytes;
  // nullopt if not (UDP, where the answer must be one message). Consumes the stream.
  std::optional<std::string> whole(size_t limit);
  // Adds an OPT record (RFC 6891 §7: a response to a query with OPT has one) advertising
  // `payload` with the query's DO bit, before any TSIG. For a one-message answer (UDP).
  void add_opt(uint16_t payload, bool dnssec_ok);
  // Signs every message with `key` (RFC 8945 §5.3.1), the first covering the request's MAC.
  void sign_with(const TsigKey& key, std::string request_mac, uint64_t now) {
    signer_.emplace(key, std::move(request_mac), now);
  }

 private:
  // One message, unframed and signed: records while it holds at most `target` bytes.
  std::string message(size_t target);
  Source source_;
  std::string question_;  // the query's question section, echoed in every message
  std::string base_;      // compression base: the qname as the client spelled it
  uint16_t id_;
  std::string opt_;  // an OPT record for the additional section, or empty
  bool done_ = false;
  std::optional<TsigSigner> signer_;
};

// The AXFR sequence of `zone` as a source: SOA, every other record, SOA.
TransferStream::Source axfr_source(const Zone& zone);

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
