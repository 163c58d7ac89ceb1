// AnswerTable: every answer gslbd can give, compiled to wire form when zones load (and, for
// dynamic names, when health changes). Immutable once built; DNS workers share it read-only
// through a shared_ptr and swap to a new one between queries.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/zone.hpp"

namespace gslb::dns {

inline constexpr uint32_t kNoTemplate = UINT32_MAX;
// A template index with this bit set names a dynamic slot: its answer comes from the Overlay.
inline constexpr uint32_t kDynamicBit = 0x80000000u;

// A reference to records held by a zone, as they go into an answer.
struct RecordRef {
  std::string owner;  // empty: the question name
  const RRset* set;
  uint32_t ttl;
};

// An answer that health decides: an A or AAAA query at a dynamic name, or at a CNAME chain that
// ends there. The table records where; the Overlay fills in the addresses.
struct DynamicSlot {
  std::string name;                // the dynamic name (lower-cased wire)
  uint16_t qtype;                  // A or AAAA
  std::string base;                // the template's base name (the queried owner)
  std::vector<RecordRef> chain;    // CNAMEs before the addresses, empty for the name itself
  std::string owner;               // owner of the address records; empty: the question name
  uint16_t zone;
  // In a signed zone, for DO=1: `chain` with each CNAME's RRSIGs, and the authority records of
  // NODATA (the SOA and the NSEC at the dynamic name, with their RRSIGs). Empty otherwise.
  std::vector<RecordRef> chain_do, nodata_do;
};

// The sections after the question for one kind of answer, encoded as if the question name were
// `base_len` bytes long. The real question name ends with that base name, so every compression
// pointer (except the one to the whole question name at offset 12) moves by the difference in
// length: those pointers are listed in `shifts`.
struct Template {
  // Optional additional RRsets after the required part: where each ends and the additional
  // count once it is included. Dropped from the end when the client's buffer is short
  // (RFC 2181 §9: that is not truncation).
  struct Cut {
    uint16_t end;
    uint16_t ar;
  };
  // The answer bytes, then the offsets into them of pointers to move (`shifts`, 16 bits
  // each), then the cuts: in the byte block of the TemplateSet that holds the template (one
  // block for all of them, not a heap block each: a template per distinct answer, so up to one
  // per record).
  const char* data = nullptr;
  uint32_t at = 0;                  // offset of `data` in that block
  uint16_t size = 0;                // of the answer bytes
  uint16_t shift_count = 0, cut_count = 0;
  uint16_t required_len = 0;        // bytes[0, required_len) must fit or the answer truncates
  uint16_t an = 0, ns = 0, ar = 0;  // record counts of the required part
  uint8_t base_len = 0;
  uint8_t rcode = 0;
  bool aa = true;
  // DNSSEC denial that depends on the question name, appended to the authority section by the
  // query path from the zone's NSEC chain (AnswerTable::cover): 0 none, 1 the NSEC covering the
  // question name (a wildcard answer, RFC 4035 §3.1.3.3; NODATA at an empty non-terminal), 2
  // that and the NSEC covering the closest encloser's wildcard (NXDOMAIN, §3.1.3.2). Such a
  // template has nothing after its authority section.
  uint8_t deny = 0;

  std::string_view bytes() const noexcept { return {data, size}; }
  uint16_t shift(size_t i) const noexcept {
    uint16_t v;
    std::memcpy(&v, data + size + 2 * i, sizeof v);
    return v;
  }
  Cut cut(size_t i) const noexcept {
    Cut c;
    std::memcpy(&c, data + size + 2 * size_t(shift_count) + 4 * i, sizeof c);
    return c;
  }
  // Everything but where the bytes are.
  bool same_shape(const Template& o) const noexcept {
    return size == o.size && shift_count == o.shift_count && cut_count == o.cut_count &&
           required_len == o.required_len && an == o.an && ns == o.ns && ar == o.ar &&
           base_len == o.base_len && rcode == o.rcode && aa == o.aa && deny == o.deny;
  }
};

// A template as build_template makes it: its block (bytes, shifts, cuts) still its own.
struct BuiltTemplate {
  std::string data;
  Template t;
};

// Templates and the one byte block they all point into. Filled with add(), then freeze()
// points each template at its bytes (the block moves while it grows); read-only after that.
class TemplateSet {
 public:
  TemplateSet() = default;
  TemplateSet(const TemplateSet&) = delete;  // the templates point into bytes_
  TemplateSet& operator=(const TemplateSet&) = delete;

  uint32_t add(const BuiltTemplate& b) {
    Template t = b.t;
    t.at = uint32_t(bytes_.size());
    bytes_ += b.data;
    templates_.push_back(t);
    return uint32_t(templates_.size() - 1);
  }
  // The whole block of template `i` (answer bytes, shifts, cuts), usable before freeze().
  std::string_view block(size_t i) const noexcept {
    const Template& t = templates_[i];
    return std::string_view(bytes_).substr(t.at, t.size + 2 * size_t(t.shift_count) + 4 * size_t(t.cut_count));
  }
  void freeze() {
    bytes_.shrink_to_fit();
    templates_.shrink_to_fit();
    for (auto& t : templates_) t.data = bytes_.data() + t.at;
  }
  const Template& operator[](size_t i) const noexcept { return templates_[i]; }
  size_t size() const noexcept { return templates_.size(); }

 private:
  std::vector<Template> templates_;
  std::string bytes_;
};


// One owner name and what each query type gets there.
struct Entry {
  std::string_view name;  // lower-cased wire form, a view of its Node's name
  uint64_t hash = 0;
  struct Slot {
    uint16_t qtype;
    uint32_t tmpl;
    uint32_t tmpl_do;  // the same answer for DO=1: with RRSIGs and denial records
  };
  // Its slots are AnswerTable::types_[types_at, types_at + types_count): one array for the
  // whole table rather than a vector (24 bytes and a heap block) per name.
  uint32_t types_at = 0;
  uint16_t types_count = 0;
  uint32_t other = kNoTemplate;    // any qtype not in `types`
  uint32_t any_udp = kNoTemplate;  // RFC 8482: one RRset over UDP
  uint32_t any_tcp = kNoTemplate;  // the whole node over TCP
  uint32_t below = kNoTemplate;    // a name below that does not exist: NXDOMAIN or a referral
  // The DO=1 forms of `other`, `any_udp`/`any_tcp` (RFC 8482: one signed RRset) and `below`;
  // the same templates in an unsigned zone.
  uint32_t other_do = kNoTemplate, any_do = kNoTemplate, below_do = kNoTemplate;
  int32_t wildcard = -1;           // else: entry of "*.<name>" that synthesises it (RFC 4592)
  // A DNAME here (RFC 6672): `below` is then its answer, to which the query adds the CNAME it
  // synthesises. The RRset is the zone's (which the table keeps).
  const RRset* dname = nullptr;
  uint16_t zone = 0;               // index into AnswerTable::zones
};

class AnswerTable {
 public:
  // The entry for a lower-cased wire name, or null.
  const Entry* find(const uint8_t* name, size_t len) const noexcept;

  const Template& tmpl(uint32_t i) const noexcept { return templates_[i]; }
  const Entry& entry(size_t i) const noexcept { return entries_[i]; }
  // The template (or dynamic slot) for a query of `qtype` at `e`; `dnssec`: the DO=1 form.
  uint32_t pick(const Entry& e, uint16_t qtype, bool tcp, bool dnssec = false) const noexcept;

  // A signed zone's NSEC records in canonical order (RFC 4034 §6.1), each with its RRSIGs as
  // wire bytes ready to append (owner names uncompressed). Empty for an unsigned zone.
  struct Denial {
    std::vector<std::string> keys;   // canonical_key() of each owner, ascending
    std::vector<std::string> blobs;  // the NSEC and its RRSIGs
    std::vector<uint16_t> counts;    // records in each blob
  };
  // The NSEC whose owner precedes `key` (a canonical_key()) in zone `zone`, i.e. the one that
  // covers a name that does not exist, or -1 when the zone is unsigned.
  int32_t cover(uint16_t zone, std::string_view key) const noexcept;
  const Denial& denial(uint16_t zone) const noexcept { return denial_[zone]; }
  const std::vector<std::shared_ptr<const Zone>>& zones() const noexcept { return zones_; }
  const std::vector<DynamicSlot>& dynamic_slots() const noexcept { return slots_dynamic_; }
  size_t entry_count() const noexcept { return entries_.size(); }
  size_t template_count() const noexcept { return templates_.size(); }

  static uint64_t hash(const uint8_t* p, size_t len) noexcept;

 private:
  friend class Compiler;
  std::vector<Entry> entries_;
  std::vector<Entry::Slot> types_;
  TemplateSet templates_;
  std::vector<uint32_t> slots_;  // open addressing: entry index + 1, 0 = empty
  uint64_t mask_ = 0;
  std::vector<std::shared_ptr<const Zone>> zones_;  // also keeps the entries' names
  std::deque<std::string> synthetic_names_;         // names of entries that no zone holds
  std::vector<DynamicSlot> slots_dynamic_;
  std::vector<Denial> denial_;  // by zone index
  std::deque<RRset> sig_sets_;  // RRSIGs of one RRset each: views of the zones' RRSIG records
};

// Compiles zones into a table. Zones may nest (a parent and its child): the child is
// authoritative for its names, the parent answers DS at the cut. `dynamic` lists names (lower-
// cased wire) whose A and AAAA answers come from an Overlay; check them first with
// check_dynamic_name(). Returns null only if `cancel` was set meanwhile (checked every few
// thousand names, so a stopping gslbd does not wait for a large table).
std::shared_ptr<const AnswerTable> compile(std::vector<std::shared_ptr<const Zone>> zones,
                                           const std::vector<std::string>& dynamic = {},
                                           const std::atomic<bool>* cancel = nullptr);

// Why `name` (lower-cased wire) cannot be a dynamic name in these zones, or empty if it can.
std::string check_dynamic_name(const std::vector<std::shared_ptr<const Zone>>& zones,
                               const std::string& name);

}  // namespace gslb::dns
