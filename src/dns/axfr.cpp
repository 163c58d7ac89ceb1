#include "dns/axfr.hpp"

#include <algorithm>

#include "dns/dnssec.hpp"
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

const Zone& transfer_source(const Zone& zone) {
  return zone.transfer_view ? *zone.transfer_view : zone;
}

namespace {

// An NSEC's RDATA (next name, then the type bitmap windows, RFC 4034 §4.1) without `type`'s bit
// (a type of window 0: A, AAAA). Clearing A or AAAA never leaves trailing zero
// octets in a window that also lists RRSIG and NSEC, which every signed name's does.
std::string nsec_without(std::string_view rdata, uint16_t type) {
  std::string out(rdata);
  size_t at = 0;
  while (at < out.size() && out[at] != 0) at += 1 + uint8_t(out[at]);
  ++at;  // the next name's root label
  if (at + 2 > out.size() || out[at] != 0) return out;  // no window 0
  const size_t len = uint8_t(out[at + 1]);
  if (type / 8 < len && at + 2 + type / 8 < out.size())
    out[at + 2 + type / 8] = char(uint8_t(out[at + 2 + type / 8]) & ~(0x80 >> (type % 8)));
  return out;
}

uint16_t rrsig_covers(const Rdata& d) {
  return d.wire.size() >= 2 ? get16(reinterpret_cast<const uint8_t*>(d.wire.data())) : uint16_t(0);
}

}  // namespace

std::shared_ptr<const Zone> make_transfer_view(const Zone& zone, std::vector<TransferName> names) {
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  // What each name gets: address RDATA per family and, in a signed zone, the RRSIGs over them;
  // and when the NSEC there lists a family the transfer has no addresses of (all_down empty or
  // servfail, or another pool's family), that NSEC without it, signed anew, so that the
  // secondary's NODATA for it is provable.
  struct Added {
    const TransferName* name;
    std::vector<std::string> a, aaaa, sigs;
    std::vector<std::string> nsec;  // the replacement NSEC RDATA, if any
  };
  std::vector<Added> added;
  size_t name_bytes = 0, rdata_bytes = 0;
  for (const auto& tn : names) {
    Added ad{&tn, {}, {}, {}, {}};
    for (const auto& ip : tn.addresses)
      (ip.is_v4() ? ad.a : ad.aaaa).emplace_back(reinterpret_cast<const char*>(ip.bytes.data()), ip.size());
    const Node* base = zone.find(tn.name);
    auto sign = [&](uint16_t type, uint32_t ttl, const std::vector<std::string>& wires) {
      if (!zone.signer || wires.empty()) return;
      std::vector<Rdata> rdata(wires.size());
      for (size_t i = 0; i < wires.size(); ++i) rdata[i].wire = wires[i];
      for (auto& sig : zone.signer->sign(tn.name, RRset{type, ttl, rdata, nullptr}))
        ad.sigs.push_back(std::move(sig));
    };
    sign(rrtype::A, tn.ttl, ad.a);
    sign(rrtype::AAAA, tn.ttl, ad.aaaa);
    const RRset* nsec = base && zone.signer ? base->find(rrtype::NSEC) : nullptr;
    if (nsec && !nsec->rdata.empty()) {
      const std::string_view old = nsec->rdata.front().wire;
      std::string fixed(old);
      if (ad.a.empty()) fixed = nsec_without(fixed, rrtype::A);
      if (ad.aaaa.empty()) fixed = nsec_without(fixed, rrtype::AAAA);
      if (std::string_view(fixed) != old) {
        ad.nsec.push_back(std::move(fixed));
        sign(rrtype::NSEC, nsec->ttl, ad.nsec);
      }
    }
    if (ad.a.empty() && ad.aaaa.empty() && ad.nsec.empty()) continue;
    if (!base) name_bytes += tn.name.size();
    for (const auto* v : {&ad.a, &ad.aaaa, &ad.sigs, &ad.nsec})
      for (const auto& w : *v) rdata_bytes += w.size();
    added.push_back(std::move(ad));
  }

  auto view = std::make_shared<Zone>();
  view->apex = zone.apex;
  view->file = zone.file;
  view->transfer_names = std::move(names);
  // Views into the new storage are taken once it is complete: first indexes, then spans.
  view->name_bytes.reserve(name_bytes);
  view->rdata_bytes.reserve(rdata_bytes);
  struct Span {
    size_t start, count;
  };
  constexpr size_t kKeep = size_t(-1);
  std::vector<Span> node_sets;   // per node: its RRsets in rrset_store, or kKeep: the zone's
  std::vector<Span> set_rdata;   // per RRset: its RDATA in rdata_store, or kKeep: the base's
  std::vector<Span> rdata_wire;  // per RDATA: its bytes in rdata_bytes, or kKeep: the base's
  auto push_rdata = [&](const std::string& wire) {
    view->rdata_store.emplace_back();
    rdata_wire.push_back({view->rdata_bytes.size(), wire.size()});
    view->rdata_bytes += wire;
  };
  auto push_set = [&](const RRset& set, const std::vector<std::string>& wires) {
    view->rrset_store.push_back(set);
    set_rdata.push_back({view->rdata_store.size(), wires.size()});
    for (const auto& w : wires) push_rdata(w);
  };
  auto add_node = [&](std::string_view name, const Node* base, const Added* ad) {
    if (!ad) {
      // Unchanged: the view's node is the zone's, RRsets and all (a node's worth of memory).
      view->nodes.push_back(*base);
      node_sets.push_back({kKeep, 0});
      return;
    }
    const size_t first = view->rrset_store.size();
    bool sigs_placed = false;
    for (const RRset& set : base ? base->rrsets : std::span<const RRset>()) {
      if (ad && set.type == rrtype::NSEC && !ad->nsec.empty()) {
        push_set(set, ad->nsec);
      } else if (ad && set.type == rrtype::RRSIG && !ad->sigs.empty()) {
        // RRSIGs gslbd made are one RRset per name (record_ttl sends each with the TTL of the
        // RRset it covers): the new ones join it, replacing those over a replaced NSEC.
        view->rrset_store.push_back(set);
        const size_t start = view->rdata_store.size();
        for (const Rdata& d : set.rdata) {
          if (!ad->nsec.empty() && rrsig_covers(d) == rrtype::NSEC) continue;
          view->rdata_store.push_back(d);
          rdata_wire.push_back({kKeep, 0});
        }
        for (const auto& w : ad->sigs) push_rdata(w);
        set_rdata.push_back({start, view->rdata_store.size() - start});
        sigs_placed = true;
      } else {
        view->rrset_store.push_back(set);
        set_rdata.push_back({kKeep, 0});
      }
    }
    if (ad) {
      const uint32_t ttl = ad->name->ttl;
      if (!ad->a.empty()) push_set(RRset{rrtype::A, ttl, {}, nullptr}, ad->a);
      if (!ad->aaaa.empty()) push_set(RRset{rrtype::AAAA, ttl, {}, nullptr}, ad->aaaa);
      if (!ad->sigs.empty() && !sigs_placed) push_set(RRset{rrtype::RRSIG, ttl, {}, nullptr}, ad->sigs);
    }
    view->nodes.push_back(Node{name, {}});
    node_sets.push_back({first, view->rrset_store.size() - first});
  };
  auto add_new = [&](const Added& ad) {
    const size_t at = view->name_bytes.size();
    view->name_bytes += ad.name->name;
    add_node(std::string_view(view->name_bytes).substr(at, ad.name->name.size()), nullptr, &ad);
  };
  auto next = added.begin();
  for (const Node& node : zone.nodes) {
    for (; next != added.end() && next->name->name < node.name; ++next) add_new(*next);
    const Added* here = next != added.end() && next->name->name == node.name ? &*next++ : nullptr;
    add_node(node.name, &node, here);
  }
  for (; next != added.end(); ++next) add_new(*next);
  for (size_t i = 0; i < view->rdata_store.size(); ++i)
    if (rdata_wire[i].start != kKeep)
      view->rdata_store[i].wire = std::string_view(view->rdata_bytes).substr(rdata_wire[i].start, rdata_wire[i].count);
  for (size_t i = 0; i < view->rrset_store.size(); ++i)
    if (set_rdata[i].start != kKeep)
      view->rrset_store[i].rdata = std::span<const Rdata>(view->rdata_store.data() + set_rdata[i].start, set_rdata[i].count);
  for (size_t i = 0; i < view->nodes.size(); ++i)
    if (node_sets[i].start != kKeep)
      view->nodes[i].rrsets = std::span<const RRset>(view->rrset_store.data() + node_sets[i].start, node_sets[i].count);
  return view;
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
