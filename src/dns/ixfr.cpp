#include "dns/ixfr.hpp"

#include <algorithm>
#include <tuple>

namespace gslb::dns {

namespace {

// SOA RDATA ends with SERIAL REFRESH RETRY EXPIRE MINIMUM, 32 bits each (RFC 1035 §3.3.13).
uint32_t soa_serial(std::string_view rdata) {
  if (rdata.size() < 20) return 0;
  return get32(reinterpret_cast<const uint8_t*>(rdata.data() + rdata.size() - 20));
}

// A total order on records, byte for byte: what makes two records "the same" in a delta.
auto key(const TransferRecord& r) { return std::tie(r.owner, r.type, r.ttl, r.rdata.wire); }

// The records of `node` (null: none) in key order, into `out`.
void sorted_records(const Node* node, std::vector<TransferRecord>& out) {
  out.clear();
  if (!node) return;
  node_records(*node, out);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return key(a) < key(b); });
}

// An RRSIG's RDATA without what signing again changes: the expiration and inception (bytes
// 8..15) and the signature after the signer's name (RFC 4034 §3.1). Empty if malformed.
std::string signature_identity(const OwnedRecord& r) {
  const std::string& w = r.rdata;
  if (w.size() < 18) return {};
  size_t at = 18;
  while (at < w.size() && w[at] != 0) at += 1 + uint8_t(w[at]);
  if (at >= w.size()) return {};
  std::string id = r.owner;
  id.append(reinterpret_cast<const char*>(&r.ttl), sizeof r.ttl);
  id.append(w, 0, 8);
  id.append(w, 16, at + 1 - 16);
  return id;
}

}  // namespace

OwnedRecord OwnedRecord::of(const TransferRecord& r) {
  OwnedRecord o{std::string(r.owner), r.type, r.ttl, std::string(r.rdata.wire), r.rdata};
  o.meta.wire = {};
  return o;
}

TransferRecord OwnedRecord::view() const {
  TransferRecord r{owner, type, ttl, meta};
  r.rdata.wire = rdata;
  return r;
}

uint32_t Delta::from() const noexcept { return soa_serial(old_soa.rdata); }
uint32_t Delta::to() const noexcept { return soa_serial(new_soa.rdata); }

size_t Delta::bytes() const noexcept {
  size_t n = old_soa.size() + new_soa.size();
  for (const auto& r : deleted) n += r.size();
  for (const auto& r : added) n += r.size();
  return n;
}

Delta diff_zones(const Zone& old_zone, const Zone& new_zone) {
  const Zone& was = transfer_source(old_zone);
  const Zone& now = transfer_source(new_zone);
  Delta d;
  d.old_soa = OwnedRecord::of(soa_record(was));
  d.new_soa = OwnedRecord::of(soa_record(now));
  // Both zones' nodes are sorted by name: walked side by side, a node at a time, so that
  // only one node's records are held (and sorted) at once, whatever the zone's size. Within
  // a node, a merge of the two sorted lists: what only the old one holds was deleted, what only
  // the new one holds was added.
  std::vector<TransferRecord> a, b;
  auto x = was.nodes.begin(), y = now.nodes.begin();
  while (x != was.nodes.end() || y != now.nodes.end()) {
    const bool take_x = y == now.nodes.end() || (x != was.nodes.end() && x->name <= y->name);
    const bool take_y = x == was.nodes.end() || (y != now.nodes.end() && y->name <= x->name);
    sorted_records(take_x ? &*x++ : nullptr, a);
    sorted_records(take_y ? &*y++ : nullptr, b);
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
      if (j == b.size() || (i < a.size() && key(a[i]) < key(b[j]))) {
        d.deleted.push_back(OwnedRecord::of(a[i++]));
      } else if (i == a.size() || key(b[j]) < key(a[i])) {
        d.added.push_back(OwnedRecord::of(b[j++]));
      } else {
        ++i;
        ++j;
      }
    }
  }
  return d;
}

bool only_signatures_differ(const Delta& d) {
  // The SOAs, serial aside (the 4 bytes 20 from the end).
  const std::string& o = d.old_soa.rdata;
  const std::string& n = d.new_soa.rdata;
  if (o.size() != n.size() || o.size() < 20 || d.old_soa.ttl != d.new_soa.ttl ||
      d.old_soa.owner != d.new_soa.owner)
    return false;
  const size_t at = o.size() - 20;
  if (o.compare(0, at, n, 0, at) != 0 || o.compare(at + 4, 16, n, at + 4, 16) != 0) return false;
  // The same signatures deleted and added, by everything but their times and bytes: same
  // owners, covered types, algorithms, keys, TTLs.
  if (d.deleted.size() != d.added.size()) return false;
  std::vector<std::string> gone, came;
  for (const auto& r : d.deleted) {
    if (r.type != rrtype::RRSIG) return false;
    gone.push_back(signature_identity(r));
  }
  for (const auto& r : d.added) {
    if (r.type != rrtype::RRSIG) return false;
    came.push_back(signature_identity(r));
  }
  std::sort(gone.begin(), gone.end());
  std::sort(came.begin(), came.end());
  return gone == came;
}

size_t transfer_bytes(const Zone& zone) {
  const Zone& z = transfer_source(zone);
  size_t n = OwnedRecord::of(soa_record(z)).size();
  ZoneRecords records(z);
  for (TransferRecord r; records.next(r);) n += r.owner.size() + 10 + r.rdata.wire.size();
  return n;
}

std::shared_ptr<const Journal> Journal::extend(const Journal* previous,
                                               std::shared_ptr<const Delta> delta,
                                               size_t max_versions, size_t max_bytes) {
  auto j = std::make_shared<Journal>();
  // Only a history that ends where this delta starts can go on with it.
  if (previous && !previous->deltas.empty() && previous->deltas.back()->to() == delta->from()) {
    j->deltas = previous->deltas;
    j->bytes = previous->bytes;
  }
  j->bytes += delta->bytes();
  j->deltas.push_back(std::move(delta));
  size_t drop = 0;
  while (drop < j->deltas.size() && (j->deltas.size() - drop > max_versions || j->bytes > max_bytes)) {
    j->bytes -= j->deltas[drop]->bytes();
    ++drop;
  }
  j->deltas.erase(j->deltas.begin(), j->deltas.begin() + ptrdiff_t(drop));
  if (j->deltas.empty()) return nullptr;
  return j;
}

IxfrPlan plan_ixfr(const Zone& zone, uint32_t client_serial) {
  const uint32_t current = zone.serial();
  if (client_serial == current || serial_lt(current, client_serial))
    return {IxfrPlan::Kind::up_to_date, 0};
  const Journal* j = zone.journal.get();
  if (!j || j->deltas.empty() || j->deltas.back()->to() != current) return {};
  for (size_t i = 0; i < j->deltas.size(); ++i)
    if (j->deltas[i]->from() == client_serial) return {IxfrPlan::Kind::incremental, i};
  return {};
}

TransferStream::Source ixfr_source(const Zone& zone, const IxfrPlan& plan) {
  switch (plan.kind) {
    case IxfrPlan::Kind::axfr:
      return axfr_source(transfer_source(zone));
    case IxfrPlan::Kind::up_to_date:
      return [&zone, sent = false](TransferRecord& r) mutable {
        if (std::exchange(sent, true)) return false;
        r = soa_record(transfer_source(zone));
        return true;
      };
    case IxfrPlan::Kind::incremental:
      break;
  }
  // A delta's records in order: its old SOA, the deleted records, its new SOA, the added
  // ones; null past the end.
  auto item = [](const Delta& d, size_t at) -> const OwnedRecord* {
    if (at == 0) return &d.old_soa;
    if (--at < d.deleted.size()) return &d.deleted[at];
    if ((at -= d.deleted.size()) == 0) return &d.new_soa;
    if (--at < d.added.size()) return &d.added[at];
    return nullptr;
  };
  // The current SOA, every record of each delta from the client's on, the current SOA.
  enum class Part { opening, deltas, closing, done };
  const Journal& j = *zone.journal;
  return [&zone, &j, item, delta = plan.first, at = size_t(0), part = Part::opening](TransferRecord& r) mutable {
    switch (part) {
      case Part::opening:
        part = Part::deltas;
        r = soa_record(transfer_source(zone));
        return true;
      case Part::deltas:
        for (; delta < j.deltas.size(); ++delta, at = 0)
          if (const OwnedRecord* o = item(*j.deltas[delta], at++)) {
            r = o->view();
            return true;
          }
        [[fallthrough]];
      case Part::closing:
        part = Part::done;
        r = soa_record(transfer_source(zone));
        return true;
      case Part::done:
        break;
    }
    return false;
  };
}

}  // namespace gslb::dns
