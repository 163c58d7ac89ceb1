#include "dns/axfr.hpp"

#include "dns/encoder.hpp"

namespace gslb::dns {

namespace {

// The RRSIGs at a name are not an RRset (RFC 4035 §2.2): each has the TTL of the RRset it
// covers (RFC 4034 §3), where the zone keeps one TTL for all of them.
uint32_t record_ttl(const Node& node, const RRset& set, const Rdata& d) {
  if (set.type != rrtype::RRSIG || d.wire.size() < 2) return set.ttl;
  const RRset* covered = node.find(get16(reinterpret_cast<const uint8_t*>(d.wire.data())));
  return covered ? covered->ttl : set.ttl;
}

}  // namespace

namespace {
constexpr size_t kMessageTarget = 16 * 1024;
}  // namespace

TransferStream::TransferStream(const Zone& zone, std::span<const uint8_t> query, const Query& q)
    : zone_(&zone),
      question_(reinterpret_cast<const char*>(query.data()) + kHeaderSize,
                q.question_end - kHeaderSize),
      base_(reinterpret_cast<const char*>(q.qname_lower), q.qname_len),
      id_(q.id),
      node_(zone.nodes.begin()) {}

bool TransferStream::next(std::string& out) {
  if (phase_ == Phase::done) return false;
  Encoder enc(base_);
  uint16_t count = 0;
  const RRset& soa = zone_->soa();
  auto put_soa = [&] {
    enc.rr(zone_->apex, rrtype::SOA, soa.ttl, soa.rdata.front());
    ++count;
  };
  if (phase_ == Phase::first_soa) {
    put_soa();
    phase_ = Phase::records;
  }
  while (phase_ == Phase::records && enc.size() <= kMessageTarget) {
    if (node_ == zone_->nodes.end()) {
      phase_ = Phase::last_soa;
      break;
    }
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
    enc.rr(node_->name, set.type, record_ttl(*node_, set, d), d);
    ++count;
  }
  if (phase_ == Phase::last_soa && enc.size() <= kMessageTarget) {
    put_soa();
    phase_ = Phase::done;
  }
  const size_t len = kHeaderSize + question_.size() + enc.bytes().size();
  uint8_t head[2 + kHeaderSize];
  put16(head, uint16_t(len));
  put16(head + 2, id_);
  put16(head + 4, 0x8400);  // QR, AA
  put16(head + 6, 1);
  put16(head + 8, count);
  put16(head + 10, 0);
  put16(head + 12, 0);
  out.append(reinterpret_cast<const char*>(head), sizeof head);
  out += question_;
  out += enc.bytes();
  return true;
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

}  // namespace gslb::dns
