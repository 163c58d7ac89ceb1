#include "dns/axfr.hpp"

#include <algorithm>

#include "dns/encoder.hpp"

namespace gslb::dns {

namespace {

// The RRSIGs at a name are not an RRset (RFC 4035 §2.2): each has the TTL of the RRset it
// covers (RFC 4034 §3), where the zone keeps one TTL for all of them.
uint32_t record_ttl(const Node& node, const RRset& set, const Rdata& d) {
  if (set.type != rrtype::RRSIG || d.wire.size() < 2) return set.ttl;
  auto covered_type = [](const Rdata& r) {
    return r.wire.size() >= 2 ? get16(reinterpret_cast<const uint8_t*>(r.wire.data())) : uint16_t(0);
  };
  const uint16_t type = covered_type(d);
  // RRSIGs read from a zone file are one RRset per covered type, with the TTL written there;
  // those gslbd made are one RRset for every type, sent with each covered RRset's TTL.
  const bool one_type = std::all_of(set.rdata.begin(), set.rdata.end(),
                                    [&](const Rdata& r) { return covered_type(r) == type; });
  if (one_type) return set.ttl;
  const RRset* covered = node.find(type);
  return covered ? covered->ttl : set.ttl;
}

}  // namespace

namespace {
constexpr size_t kMessageTarget = 16 * 1024;
}  // namespace

const Zone& transfer_source(const Zone& zone) { return zone; }

bool ZoneRecords::next(TransferRecord& r) {
  for (;;) {
    if (node_ == zone_->nodes.end()) return false;
    const auto& rrsets = node_->rrsets;
    if (rrset_ >= rrsets.size()) {
      ++node_;
      rrset_ = rdata_ = 0;
      continue;
    }
    const RRset& set = rrsets[rrset_];
    if (set.type == rrtype::SOA || rdata_ >= set.rdata.size()) {
      ++rrset_;
      rdata_ = 0;
      continue;
    }
    const Rdata& d = set.rdata[rdata_++];
    r = TransferRecord{set.owner(node_->name), set.type, record_ttl(*node_, set, d), d};
    return true;
  }
}

void node_records(const Node& node, std::vector<TransferRecord>& out) {
  for (const RRset& set : node.rrsets)
    if (set.type != rrtype::SOA)
      for (const Rdata& d : set.rdata)
        out.push_back(TransferRecord{set.owner(node.name), set.type, record_ttl(node, set, d), d});
}

TransferRecord soa_record(const Zone& zone) {
  const RRset& soa = zone.soa();
  return TransferRecord{soa.owner(zone.apex), rrtype::SOA, soa.ttl, soa.rdata.front()};
}

TransferStream::Source axfr_source(const Zone& zone) {
  enum class Phase { first_soa, records, last_soa, done };
  return [&zone, phase = Phase::first_soa, records = ZoneRecords(zone)](TransferRecord& r) mutable {
    switch (phase) {
      case Phase::first_soa:
        phase = Phase::records;
        r = soa_record(zone);
        return true;
      case Phase::records:
        if (records.next(r)) return true;
        phase = Phase::last_soa;
        [[fallthrough]];
      case Phase::last_soa:
        phase = Phase::done;
        r = soa_record(zone);
        return true;
      case Phase::done:
        break;
    }
    return false;
  };
}

TransferStream::TransferStream(Source source, std::span<const uint8_t> query, const Query& q)
    : source_(std::move(source)),
      question_(reinterpret_cast<const char*>(query.data()) + kHeaderSize,
                q.question_end - kHeaderSize),
      base_(question_.substr(0, q.qname_len)),
      id_(q.id) {}

TransferStream::TransferStream(const Zone& zone, std::span<const uint8_t> query, const Query& q)
    : TransferStream(axfr_source(transfer_source(zone)), query, q) {}

std::string TransferStream::message(size_t target) {
  // Names are sent as the zone file spelled them (RFC 4343), so compressed only against the
  // same spelling.
  Encoder enc(base_, true);
  uint16_t count = 0;
  const size_t fixed = kHeaderSize + question_.size();
  TransferRecord r;
  while (!done_ && fixed + enc.size() <= target) {
    if (!source_(r)) {
      done_ = true;
      break;
    }
    enc.rr(r.owner, r.type, r.ttl, r.rdata);
    ++count;
  }
  // The source may have ended exactly at the previous message's end: nothing more to send.
  if (count == 0 && done_) return {};
  uint8_t head[kHeaderSize];
  put16(head, id_);
  put16(head + 2, 0x8400);  // QR, AA
  put16(head + 4, 1);
  put16(head + 6, count);
  put16(head + 8, 0);
  put16(head + 10, opt_.empty() ? 0 : 1);
  std::string message(reinterpret_cast<const char*>(head), sizeof head);
  message += question_;
  message += enc.bytes();
  message += opt_;
  if (signer_) signer_->sign(message);
  return message;
}

void TransferStream::add_opt(uint16_t payload, bool dnssec_ok) {
  // Owner the root, TYPE OPT, CLASS our payload size, TTL: extended RCODE 0, version 0, DO.
  uint8_t o[11] = {0};
  put16(o + 1, rrtype::OPT);
  put16(o + 3, payload);
  o[7] = dnssec_ok ? 0x80 : 0;
  opt_.assign(reinterpret_cast<const char*>(o), sizeof o);
}

bool TransferStream::next(std::string& out) {
  if (done_) return false;
  std::string m = message(kMessageTarget);
  if (m.empty()) return false;
  uint8_t frame[2];
  put16(frame, uint16_t(m.size()));
  out.append(reinterpret_cast<const char*>(frame), sizeof frame);
  out += m;
  return true;
}

std::optional<std::string> TransferStream::whole(size_t limit) {
  std::string m = message(limit);
  // One record past the limit is how message() stops: the answer did not fit.
  if (!done_) {
    TransferRecord r;
    done_ = !source_(r);
    if (!done_) return std::nullopt;
  }
  if (m.size() > limit) return std::nullopt;
  return m;
}

std::vector<std::string> transfer_messages(const Zone& zone, std::span<const uint8_t> query,
                                           const Query& q) {
  std::vector<std::string> messages;
  TransferStream stream(zone, query, q);
  std::string framed;
  while (stream.next(framed)) {
    messages.push_back(framed.substr(2));
    framed.clear();
  }
  return messages;
}

namespace {
constexpr uint16_t kOpcodeNotify = 4;
}  // namespace

uint32_t zone_serial(const Zone& zone) {
  // SOA RDATA ends with SERIAL REFRESH RETRY EXPIRE MINIMUM, 32 bits each.
  const std::string_view w = zone.soa().rdata.front().wire;
  return get32(reinterpret_cast<const uint8_t*>(w.data() + w.size() - 20));
}

std::string notify_message(const Zone& zone, uint16_t id) {
  Encoder enc(zone.apex);
  const RRset& soa = zone.soa();
  enc.rr({}, rrtype::SOA, soa.ttl, soa.rdata.front());
  uint8_t head[kHeaderSize];
  put16(head, id);
  put16(head + 2, uint16_t(kOpcodeNotify << 11 | 0x0400));  // AA
  put16(head + 4, 1);
  put16(head + 6, 1);
  put16(head + 8, 0);
  put16(head + 10, 0);
  std::string out(reinterpret_cast<const char*>(head), sizeof head);
  out += zone.apex;
  uint8_t q[4];
  put16(q, rrtype::SOA);
  put16(q + 2, kClassIN);
  out.append(reinterpret_cast<const char*>(q), sizeof q);
  out += enc.bytes();
  return out;
}

bool is_notify_reply(std::span<const uint8_t> reply, uint16_t id) {
  if (reply.size() < kHeaderSize) return false;
  const uint16_t flags = get16(reply.data() + 2);
  return get16(reply.data()) == id && (flags & 0x8000) && ((flags >> 11) & 0xF) == kOpcodeNotify;
}

}  // namespace gslb::dns
